-- Orders that move: the debit that paid for an order, status reasons, outbox relay bookkeeping,
-- the processed-events table that makes SQS delivery effectively-once, and reservations.

-- The ledger debit that paid for the order. Checkout and POST /prod/orders debit with the order's id;
-- a purchased reservation's order is paid by the reservation's hold debit (no second charge).
-- Refunds (CANCELLED, FAILED) give back exactly this debit, once (ledger.refund's unique external_ref).
ALTER TABLE orders ADD COLUMN payment_entry_id uuid REFERENCES ledger_entries (id);
UPDATE orders o SET payment_entry_id = l.id
FROM ledger_entries l
WHERE l.order_id = o.id AND l.entry_type = 'SPEND' AND o.payment_entry_id IS NULL;
-- One order per debit: a hold can be turned into an order only once.
CREATE UNIQUE INDEX orders_payment_entry ON orders (payment_entry_id) WHERE payment_entry_id IS NOT NULL;

-- Why a status was entered (e.g. the fulfilment partner's rejection for FAILED); not shown to members.
ALTER TABLE order_status_history ADD COLUMN reason text;

-- Relay bookkeeping: the last send error, and an index for purging published rows.
ALTER TABLE outbox_events ADD COLUMN last_error text;
CREATE INDEX outbox_published ON outbox_events (published_at) WHERE published_at IS NOT NULL;

-- Inbox side of effectively-once delivery: an event's effect and its row here commit together,
-- so a redelivered or duplicated message finds its id and does nothing.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    event_type   text NOT NULL,
    outcome      text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_events_at ON processed_events (processed_at);

-- A 15-minute hold of stock (products.stock) and points (a SPEND ledger debit). Exactly one of
-- purchase, release and expiry ends a hold: each is a conditional UPDATE ... WHERE status = 'HELD'.
CREATE TABLE reservations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id     uuid NOT NULL REFERENCES members (id),
    product_id    uuid NOT NULL REFERENCES products (id),
    quantity      integer NOT NULL CHECK (quantity >= 1),
    points        bigint NOT NULL CHECK (points > 0),
    status        text NOT NULL DEFAULT 'HELD' CHECK (status IN ('HELD', 'PURCHASED', 'RELEASED', 'EXPIRED')),
    hold_entry_id uuid NOT NULL UNIQUE REFERENCES ledger_entries (id),
    order_id      uuid UNIQUE REFERENCES orders (id),
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- Set in the purchasing transaction right after the status (an order implies a purchase).
    CONSTRAINT reservations_order_means_purchased CHECK (order_id IS NULL OR status = 'PURCHASED')
);
CREATE INDEX reservations_held_expiry ON reservations (expires_at, id) WHERE status = 'HELD';
CREATE INDEX reservations_member_created ON reservations (member_id, created_at DESC, id DESC);
