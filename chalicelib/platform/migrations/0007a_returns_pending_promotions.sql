-- Returns, pending points and promotions (issue 12; docs/points.md sections 10-13).
--
-- Pending points are not in the ledger: until they vest they live in purchase_credits, outside
-- members.balance, SUM(ledger_entries) and SUM(point_lots), so balance == SUM(ledger) == SUM(lots)
-- keeps meaning "spendable points". Vesting writes the ledger row (with the credit's own id) and
-- the lot. The invariants that tie the three tables together are in docs/points.md section 13.

-- New ledger types: PROMOTION (points a promotion paid on a purchase, positive) and RETURN (points a
-- partner's return took back, negative). NOT VALID here, VALIDATE in 0007b: adding a CHECK scans
-- the whole ledger, which must not happen while this transaction holds ACCESS EXCLUSIVE on it.
ALTER TABLE ledger_entries
    DROP CONSTRAINT ledger_entries_entry_type_check,
    DROP CONSTRAINT ledger_sign,
    ADD CONSTRAINT ledger_entries_entry_type_check CHECK (
        entry_type IN ('BONUS', 'EARN', 'PROMOTION', 'SPEND', 'REFUND', 'EXPIRE', 'ADJUST', 'RETURN')) NOT VALID,
    ADD CONSTRAINT ledger_sign CHECK (
        (entry_type IN ('BONUS', 'EARN', 'PROMOTION', 'REFUND') AND points > 0)
        OR (entry_type IN ('SPEND', 'EXPIRE', 'RETURN') AND points < 0)
        OR entry_type = 'ADJUST') NOT VALID;

-- Tier qualification counts EARN and PROMOTION credits and subtracts RETURN rows in the window.
CREATE INDEX ledger_member_qualifying ON ledger_entries (member_id, created_at)
    WHERE entry_type IN ('EARN', 'PROMOTION', 'RETURN');
DROP INDEX ledger_member_earn;

-- Promotions: admin-defined, applied when a purchase is recorded. `budget_used` is the points
-- awarded so far, kept only for promotions with a budget (the row lock on it is what makes
-- concurrent purchases share the budget exactly); the CHECK is the last line of defence.
CREATE TABLE promotions (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  text NOT NULL,
    kind                  text NOT NULL CHECK (kind IN ('MULTIPLIER', 'BONUS')),
    multiplier            numeric(6, 3) CHECK (multiplier > 1),
    bonus_points          bigint CHECK (bonus_points > 0),
    starts_at             timestamptz NOT NULL,
    ends_at               timestamptz NOT NULL,
    store_ids             text[],
    tiers                 text[],
    min_amount_usd        numeric(12, 2) CHECK (min_amount_usd > 0),
    first_purchase_only   boolean NOT NULL DEFAULT false,
    per_member_cap_points bigint CHECK (per_member_cap_points > 0),
    budget_points         bigint CHECK (budget_points > 0),
    budget_used           bigint NOT NULL DEFAULT 0 CHECK (budget_used >= 0),
    stacking              text NOT NULL CHECK (stacking IN ('EXCLUSIVE', 'STACKABLE')),
    active                boolean NOT NULL DEFAULT true,
    created_by            text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT promotions_window CHECK (ends_at > starts_at),
    CONSTRAINT promotions_multiplier_kind CHECK ((kind = 'MULTIPLIER') = (multiplier IS NOT NULL)),
    CONSTRAINT promotions_bonus_kind CHECK ((kind = 'BONUS') = (bonus_points IS NOT NULL)),
    CONSTRAINT promotions_within_budget CHECK (budget_points IS NULL OR budget_used <= budget_points)
);
CREATE INDEX promotions_running ON promotions (ends_at, starts_at) WHERE active;
CREATE INDEX promotions_created ON promotions (created_at DESC, id DESC);

-- What each purchase was credited, one row per part: the base points (EARN) and each promotion's
-- points (PROMOTION). `id` is also the id of the part's ledger row once it is posted, so a pending
-- credit in the member's history keeps its id when it vests.
--   PENDING:   not in the balance yet; vests at vests_at (returns may cancel some or all of it first)
--   POSTED:    a ledger row with this id and points - points_cancelled exists, and its lot
--   CANCELLED: returns cancelled all of it before it vested; no ledger row
CREATE TABLE purchase_credits (
    id               uuid PRIMARY KEY,
    purchase_id      uuid NOT NULL REFERENCES partner_purchases (id),
    member_id        uuid NOT NULL REFERENCES members (id),
    entry_type       text NOT NULL CHECK (entry_type IN ('EARN', 'PROMOTION')),
    promotion_id     uuid REFERENCES promotions (id),
    points           bigint NOT NULL CHECK (points > 0),
    points_cancelled bigint NOT NULL DEFAULT 0,
    status           text NOT NULL CHECK (status IN ('PENDING', 'POSTED', 'CANCELLED')),
    vests_at         timestamptz,
    lot_expires_at   timestamptz,  -- pending: when the lot it becomes expires (fixed at the purchase)
    description      text NOT NULL,
    external_ref     text NOT NULL,
    created_at       timestamptz NOT NULL,
    CONSTRAINT purchase_credits_cancelled_range CHECK (points_cancelled >= 0 AND points_cancelled <= points),
    CONSTRAINT purchase_credits_cancelled_status CHECK ((status = 'CANCELLED') = (points_cancelled = points)),
    CONSTRAINT purchase_credits_pending_vests CHECK (
        status <> 'PENDING' OR (vests_at IS NOT NULL AND lot_expires_at > vests_at)),
    CONSTRAINT purchase_credits_promotion_kind CHECK ((entry_type = 'PROMOTION') = (promotion_id IS NOT NULL))
);
CREATE INDEX purchase_credits_purchase ON purchase_credits (purchase_id);
-- The vesting job and the "anything due?" check of every spend and return.
CREATE INDEX purchase_credits_pending ON purchase_credits (member_id, vests_at, id) WHERE status = 'PENDING';
-- Pending credits in the member's history, newest first.
CREATE INDEX purchase_credits_pending_created ON purchase_credits (member_id, created_at DESC, id DESC)
    WHERE status = 'PENDING';
-- Per-member caps and the promotion's awards.
CREATE INDEX purchase_credits_promotion ON purchase_credits (promotion_id, member_id) WHERE promotion_id IS NOT NULL;

-- Purchases: base points (before promotions; `points` stays the total the purchase earned) and,
-- for pending purchases, when they vest. A pending purchase has no ledger row yet.
ALTER TABLE partner_purchases
    ADD COLUMN base_points bigint CHECK (base_points >= 0),
    ADD COLUMN vests_at timestamptz,
    DROP CONSTRAINT partner_purchases_entry_iff_points,
    ADD CONSTRAINT partner_purchases_entry_means_points CHECK (ledger_entry_id IS NULL OR points > 0);

-- Purchases credited before this migration: one posted EARN credit each, so returns find them.
INSERT INTO purchase_credits (id, purchase_id, member_id, entry_type, points, status, description, external_ref,
                              created_at)
SELECT l.id, p.id, p.member_id, 'EARN', p.points, 'POSTED', l.description, l.external_ref, l.created_at
FROM partner_purchases p JOIN ledger_entries l ON l.id = p.ledger_entry_id;
UPDATE partner_purchases SET base_points = points WHERE base_points IS NULL;
ALTER TABLE partner_purchases ALTER COLUMN base_points SET NOT NULL;

-- Returns reported by partners. Natural key: (purchase, return_id); the purchase fixes the partner.
--   points_reversed    = points_from_pending + what the RETURN ledger row took from lots
--   points_uncollected = what the member had already spent (policy within_balance)
-- Cumulatively, SUM(points_reversed + points_uncollected) = floor(points * SUM(amount_usd) / amount_usd).
CREATE TABLE purchase_returns (
    id                  uuid PRIMARY KEY,
    purchase_id         uuid NOT NULL REFERENCES partner_purchases (id),
    member_id           uuid NOT NULL REFERENCES members (id),
    return_id           text NOT NULL,
    amount_usd          numeric(12, 2) NOT NULL CHECK (amount_usd > 0),
    points_reversed     bigint NOT NULL CHECK (points_reversed >= 0),
    points_from_pending bigint NOT NULL CHECK (points_from_pending >= 0),
    points_uncollected  bigint NOT NULL CHECK (points_uncollected >= 0),
    ledger_entry_id     uuid REFERENCES ledger_entries (id),
    balance_after       bigint NOT NULL,
    created_at          timestamptz NOT NULL,
    CONSTRAINT purchase_returns_natural_key UNIQUE (purchase_id, return_id),
    CONSTRAINT purchase_returns_pending_part CHECK (points_from_pending <= points_reversed),
    CONSTRAINT purchase_returns_entry_iff_lots CHECK ((ledger_entry_id IS NULL) = (points_reversed = points_from_pending))
);
CREATE INDEX purchase_returns_uncollected ON purchase_returns (member_id) WHERE points_uncollected > 0;
