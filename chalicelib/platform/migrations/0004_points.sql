-- Points that earn, expire and add up (docs/points.md): partner purchases, re-expirable lots,
-- expiry notices, and the indexes the tier, customer and expiry queries need.

-- How many times a lot has been expired. A refund can put points back into a lot that already
-- lapsed and was expired; expiring it again must write a *new* EXPIRE row, so the EXPIRE row's
-- natural key is 'expire:<lot id>:<expiry_count after this expiry>' (unique per ledger type).
ALTER TABLE point_lots ADD COLUMN expiry_count integer NOT NULL DEFAULT 0 CHECK (expiry_count >= 0);

-- Purchases reported by partners. (partner_id, external_id) is the natural key that makes a
-- repeated report a replay instead of a second credit; it also records purchases that earned
-- 0 points (no ledger row: ledger points are never 0) so their repeats replay too.
CREATE TABLE partner_purchases (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id      uuid NOT NULL REFERENCES partners (id),
    external_id     text NOT NULL,
    member_id       uuid NOT NULL REFERENCES members (id),
    amount_usd      numeric(12, 2) NOT NULL CHECK (amount_usd > 0),
    tier            text NOT NULL CHECK (tier IN ('BRONZE', 'SILVER', 'GOLD')),
    multiplier      numeric(6, 3) NOT NULL CHECK (multiplier > 0),
    points          bigint NOT NULL CHECK (points >= 0),
    ledger_entry_id uuid REFERENCES ledger_entries (id),
    balance_after   bigint NOT NULL,
    tier_after      text NOT NULL CHECK (tier_after IN ('BRONZE', 'SILVER', 'GOLD')),
    store_id        text,
    occurred_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT partner_purchases_natural_key UNIQUE (partner_id, external_id),
    CONSTRAINT partner_purchases_entry_iff_points CHECK ((points = 0) = (ledger_entry_id IS NULL))
);
CREATE INDEX partner_purchases_member ON partner_purchases (member_id, created_at DESC);

-- "Your points expire soon" emails: one row per lot ever announced, so each lot is announced once.
CREATE TABLE expiry_notices (
    lot_id      uuid PRIMARY KEY REFERENCES point_lots (id),
    member_id   uuid NOT NULL REFERENCES members (id),
    notified_at timestamptz NOT NULL DEFAULT now()
);

-- Tier qualification: a member's EARN rows in the trailing window.
CREATE INDEX ledger_member_earn ON ledger_entries (member_id, created_at) WHERE entry_type = 'EARN';
-- Admin customer list, newest first, keyset paged.
CREATE INDEX members_created ON members (created_at DESC, id DESC);
