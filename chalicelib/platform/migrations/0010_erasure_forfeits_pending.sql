-- Erasing a member forfeits their pending purchase credits too (not only the balance): a credit
-- still in its return window would otherwise vest into an erased member's balance later.
-- `points_forfeited` is the part of `points_cancelled` that erasure (not a return) cancelled, so the
-- invariant "a purchase's returns took `points_cancelled - points_forfeited` from its pending credits"
-- still holds (points/integrity_repository.py).
ALTER TABLE purchase_credits
    ADD COLUMN points_forfeited bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT purchase_credits_forfeited_range CHECK (points_forfeited >= 0 AND points_forfeited <= points_cancelled);
ALTER TABLE member_erasures
    ADD COLUMN pending_forfeited bigint NOT NULL DEFAULT 0 CHECK (pending_forfeited >= 0);
