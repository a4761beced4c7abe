-- Foundation: members, catalog, cart, the points ledger with lots, orders, outbox.
-- Money rule: members.balance is a cache of SUM(ledger_entries.points) kept in the same
-- transaction, and of SUM(point_lots.points_remaining); it can never go negative.

CREATE TABLE members (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL,
    first_name      text NOT NULL DEFAULT '',
    last_name       text NOT NULL DEFAULT '',
    phone           text NOT NULL DEFAULT '',
    street          text NOT NULL DEFAULT '',
    city            text NOT NULL DEFAULT '',
    state           text NOT NULL DEFAULT '',
    zip_code        text NOT NULL DEFAULT '',
    balance         bigint NOT NULL DEFAULT 0 CONSTRAINT members_balance_non_negative CHECK (balance >= 0),
    lifetime_earned bigint NOT NULL DEFAULT 0 CHECK (lifetime_earned >= 0),
    tier            text NOT NULL DEFAULT 'BRONZE' CHECK (tier IN ('BRONZE', 'SILVER', 'GOLD')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT members_email_lowercase CHECK (email = lower(email))
);
CREATE UNIQUE INDEX members_email_key ON members (email);

CREATE TABLE products (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku          text NOT NULL UNIQUE,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    category     text NOT NULL,
    points_price integer NOT NULL CHECK (points_price > 0),
    usd_price    numeric(12, 2) CHECK (usd_price >= 0),
    rating       numeric(2, 1) CHECK (rating BETWEEN 0 AND 5),
    image_url    text,
    stock        integer NOT NULL DEFAULT 0 CONSTRAINT products_stock_non_negative CHECK (stock >= 0),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_active_name ON products (name, id) WHERE active;
CREATE INDEX products_active_category ON products (category, name, id) WHERE active;

CREATE TABLE cart_items (
    member_id  uuid NOT NULL REFERENCES members (id),
    product_id uuid NOT NULL REFERENCES products (id),
    quantity   integer NOT NULL CHECK (quantity >= 1),
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, product_id)
);

CREATE TABLE orders (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id    uuid NOT NULL REFERENCES members (id),
    status       text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'PACKED', 'DELIVERED', 'CANCELLED', 'FAILED')),
    source       text NOT NULL DEFAULT 'CHECKOUT' CHECK (source IN ('CHECKOUT', 'ORDER', 'RESERVATION')),
    total_points bigint NOT NULL CHECK (total_points > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_member_created ON orders (member_id, created_at DESC, id DESC);
CREATE INDEX orders_status_created ON orders (status, created_at DESC, id DESC);

CREATE TABLE order_lines (
    order_id          uuid NOT NULL REFERENCES orders (id),
    product_id        uuid NOT NULL REFERENCES products (id),
    product_name      text NOT NULL,
    description       text NOT NULL DEFAULT '',
    image_url         text,
    quantity          integer NOT NULL CHECK (quantity >= 1),
    unit_points_price integer NOT NULL CHECK (unit_points_price > 0),
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE order_status_history (
    order_id uuid NOT NULL REFERENCES orders (id),
    status   text NOT NULL,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (order_id, status)
);

-- Immutable: corrections are new rows. `points` is signed (credits > 0, debits < 0).
CREATE TABLE ledger_entries (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id    uuid NOT NULL REFERENCES members (id),
    entry_type   text NOT NULL CHECK (entry_type IN ('BONUS', 'EARN', 'SPEND', 'REFUND', 'EXPIRE', 'ADJUST')),
    points       bigint NOT NULL CHECK (points <> 0),
    description  text NOT NULL DEFAULT '',
    order_id     uuid REFERENCES orders (id),
    -- natural key of the cause (partner purchase, expiry of a lot...), unique per type when present
    external_ref text,
    created_by   text,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT ledger_sign CHECK (
        (entry_type IN ('BONUS', 'EARN', 'REFUND') AND points > 0)
        OR (entry_type IN ('SPEND', 'EXPIRE') AND points < 0)
        OR entry_type = 'ADJUST')
);
CREATE INDEX ledger_member_created ON ledger_entries (member_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX ledger_external_ref ON ledger_entries (entry_type, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX ledger_order ON ledger_entries (order_id) WHERE order_id IS NOT NULL;

CREATE FUNCTION ledger_entries_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable; write a correcting entry instead'
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_immutable();

-- Every credit is a lot; debits consume lots soonest-expiring first.
CREATE TABLE point_lots (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id        uuid NOT NULL REFERENCES members (id),
    ledger_entry_id  uuid NOT NULL REFERENCES ledger_entries (id),
    points_earned    bigint NOT NULL CHECK (points_earned > 0),
    points_remaining bigint NOT NULL,
    earned_at        timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    CONSTRAINT lot_remaining_range CHECK (points_remaining >= 0 AND points_remaining <= points_earned)
);
CREATE INDEX point_lots_member_open ON point_lots (member_id, expires_at, id) WHERE points_remaining > 0;
CREATE INDEX point_lots_open_expiry ON point_lots (expires_at, id) WHERE points_remaining > 0;

-- Which lots a debit drew from, so a refund can restore exactly those lots.
CREATE TABLE lot_allocations (
    ledger_entry_id uuid NOT NULL REFERENCES ledger_entries (id),
    lot_id          uuid NOT NULL REFERENCES point_lots (id),
    points          bigint NOT NULL CHECK (points > 0),
    PRIMARY KEY (ledger_entry_id, lot_id)
);
CREATE INDEX lot_allocations_lot ON lot_allocations (lot_id);

-- Transactional outbox: written with the change, relayed to SQS afterwards.
CREATE TABLE outbox_events (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type   text NOT NULL,
    aggregate_id uuid NOT NULL,
    payload      jsonb NOT NULL,
    request_id   text,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox_events (created_at, id) WHERE published_at IS NULL;
