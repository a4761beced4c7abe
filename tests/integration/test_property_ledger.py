"""Property-based test of the points ledger: random sequences of earn (with promotions, and repeated
reports), returns (partial, repeated), vesting, spend, refund, expire, adjust and clock moves (including
to the exact instant a lot expires or a credit vests) across two members, against a plain-Python
model of the rules. After every step:

  * balance == SUM(ledger) == SUM(lots remaining), for every member, and equal to the model;
  * every lot's remaining points and expiry count equal the model's; nothing is negative;
  * every purchase credit's status and cancelled points equal the model's (pending points outside
    the three sums), and the extended invariant holds (tests/support/ledger.check_invariants);
  * each spend took the soonest-expiring lots first; each return took the purchase's own lots first;
  * each EXPIRE row is unique per lot and expiry ('expire:<lot>:<n>').

The model is independent of the code: FIFO by (expires_at, id), lapsed at expires_at inclusive,
vested at vests_at inclusive, a spend or return first vests the member's due credits and expires
their lapsed lots (rolled back with it if it fails), refunds restore the exact lots, earning
multiplies by the tier held before the purchase (qualifying: EARN + PROMOTION + RETURN rows in the
window, floored at 0), promotions pay the best exclusive offer or every stackable one within caps and
budgets, returns reverse floor(points x returned / amount) cumulatively, pending credits first (in
proportion, largest remainder), then the purchase's own lots, then the others, up to the balance.
The machine runs twice: with a 14-day return window, and with none (points credited at once).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.support.ledger import check_invariants
from tests.support.points import issue_partner, new_member

LIFETIME = timedelta(days=365)
MEMBERS = 2
EXAMPLES = itertools.count()


@dataclass
class Lot:
    id: UUID
    member: UUID
    expires_at: datetime
    remaining: int
    expiries: int = 0

    @property
    def key(self) -> tuple[datetime, str]:
        return (self.expires_at, str(self.id))


@dataclass
class Credit:
    id: UUID
    member: UUID
    points: int
    vests_at: datetime | None
    cancelled: int = 0
    status: str = "PENDING"

    @property
    def left(self) -> int:
        return self.points - self.cancelled


@dataclass
class Buy:
    ref: str
    member: UUID
    amount: Decimal
    points: int
    credits: list[UUID]
    returned: Decimal = Decimal(0)
    settled: int = 0
    returns: dict[str, tuple[Decimal, int, int, int]] = field(default_factory=dict)


@dataclass
class Spend:
    member: UUID
    taken: dict[UUID, int]
    refunded: bool = False


@dataclass
class Promo:
    id: UUID
    kind: str
    value: Decimal
    stacking: str
    starts_at: datetime
    ends_at: datetime
    cap: int | None = None
    budget: int | None = None
    min_amount: Decimal | None = None
    awarded: dict[UUID, int] = field(default_factory=dict)


@dataclass
class Model:
    lots: dict[UUID, Lot] = field(default_factory=dict)
    balance: dict[UUID, int] = field(default_factory=dict)
    qualifying_rows: list[tuple[UUID, datetime, int]] = field(default_factory=list)
    spends: dict[UUID, Spend] = field(default_factory=dict)
    credits: dict[UUID, Credit] = field(default_factory=dict)
    buys: dict[str, Buy] = field(default_factory=dict)
    lot_of_credit: dict[UUID, UUID] = field(default_factory=dict)

    def open_lots(self, member: UUID) -> list[Lot]:
        return sorted(
            (lot for lot in self.lots.values() if lot.member == member and lot.remaining > 0), key=lambda lot: lot.key
        )

    def lapsed(self, member: UUID | None, now: datetime) -> list[Lot]:
        return [
            lot
            for lot in self.lots.values()
            if (member is None or lot.member == member) and lot.remaining > 0 and lot.expires_at <= now
        ]

    def due(self, member: UUID | None, now: datetime) -> list[Credit]:
        return [
            c
            for c in self.credits.values()
            if (member is None or c.member == member) and c.status == "PENDING" and c.vests_at <= now
        ]

    def pending(self, member: UUID) -> int:
        return sum(c.left for c in self.credits.values() if c.member == member and c.status == "PENDING")

    def expire(self, lots: list[Lot]) -> int:
        points = 0
        for lot in lots:
            self.balance[lot.member] -= lot.remaining
            points += lot.remaining
            lot.remaining, lot.expiries = 0, lot.expiries + 1
        return points

    def vest(self, credits: list[Credit], lot_ids: dict[UUID, UUID]) -> None:
        for c in credits:
            c.status = "POSTED"
            lot_id = lot_ids[c.id]
            assert c.vests_at is not None
            self.lots[lot_id] = Lot(lot_id, c.member, c.vests_at + LIFETIME, c.left)
            self.lot_of_credit[c.id] = lot_id
            self.balance[c.member] += c.left
            self.qualifying_rows.append((c.member, c.vests_at, c.left))

    def settle(self, member: UUID, now: datetime, lot_ids: dict[UUID, UUID]) -> None:
        """What every spend and return does first: vest the member's due credits, expire lapsed lots."""
        self.vest(self.due(member, now), lot_ids)
        self.expire(self.lapsed(member, now))

    def spendable(self, member: UUID, now: datetime) -> int:
        vesting = self.due(member, now)
        lapsed = sum(lot.remaining for lot in self.lapsed(member, now))
        lapsed_on_vesting = sum(c.left for c in vesting if c.vests_at + LIFETIME <= now)
        return self.balance[member] + sum(c.left for c in vesting) - lapsed - lapsed_on_vesting

    def take(self, member: UUID, points: int, first: set[UUID] | None = None) -> dict[UUID, int]:
        """Take `points` from open lots: `first` ones first, then soonest-expiring (the member is settled)."""
        taken, left = {}, points
        ordered = sorted(self.open_lots(member), key=lambda lot: (lot.id not in (first or set()), lot.key))
        for lot in ordered:
            if left == 0:
                break
            step = min(lot.remaining, left)
            lot.remaining -= step
            left -= step
            taken[lot.id] = step
        assert left == 0
        self.balance[member] -= points
        return taken

    def qualifying(self, member: UUID, now: datetime) -> int:
        return max(0, sum(p for m, at, p in self.qualifying_rows if m == member and now - LIFETIME < at <= now))

    def cancel_pending(self, buy: Buy, points: int) -> int:
        """Largest remainder over what is left of each pending credit, ties by id."""
        open_ = [self.credits[c] for c in buy.credits if self.credits[c].status == "PENDING"]
        total = sum(c.left for c in open_)
        if not open_ or points <= 0:
            return 0
        if points >= total:
            shares = {c.id: c.left for c in open_}
        else:
            shares = {c.id: points * c.left // total for c in open_}
            extra = points - sum(shares.values())
            by_remainder = sorted(open_, key=lambda c: (-(points * c.left % total), str(c.id)))
            for c in by_remainder[:extra]:
                shares[c.id] += 1
        for c in open_:
            c.cancelled += shares[c.id]
            if c.cancelled == c.points:
                c.status = "CANCELLED"
        return sum(shares.values())


class LedgerMachine(RuleBasedStateMachine):
    db = None  # set by the test
    pending_days = 14

    @initialize()
    def setup(self) -> None:
        from chalicelib.points.earning import EarningService
        from chalicelib.points.expiry import ExpiryService
        from chalicelib.points.models import PromotionTerms
        from chalicelib.points.returns import ReturnService
        from chalicelib.points.service import PointsService
        from chalicelib.points.tier_policy import TierPolicy
        from chalicelib.points.vesting import VestingService
        from tests.support.points import settings_with

        db = self.db
        cfg = settings_with(points_pending_days=self.pending_days)
        self.policy = TierPolicy.of(cfg)
        self.earning = EarningService(db, cfg)
        self.expiry = ExpiryService(db, cfg)
        self.points = PointsService(db, cfg)
        self.returns = ReturnService(db, cfg)
        self.vesting = VestingService(db, cfg)
        self.partner_id, _ = issue_partner()
        run = next(EXAMPLES)  # fresh members per example: no truncation between examples
        self.members = [new_member(db, f"p{i}.{run}@property.test") for i in range(MEMBERS)]
        self.model = Model(balance=dict.fromkeys(self.members, 0))
        with db.reader() as tx:
            self.clock = tx.fetch_value("SELECT now()") + timedelta(seconds=5)
        self.refs = itertools.count()
        # This example's promotions (earlier examples' are switched off): they end mid-run.
        ends = self.clock + timedelta(days=90)
        specs = [
            Promo(None, "MULTIPLIER", Decimal("2.0"), "EXCLUSIVE", self.clock, ends, cap=3_000),  # type: ignore[arg-type]
            Promo(None, "BONUS", Decimal(400), "STACKABLE", self.clock, ends, budget=2_000),  # type: ignore[arg-type]
            Promo(None, "BONUS", Decimal(150), "STACKABLE", self.clock, ends, min_amount=Decimal(100)),  # type: ignore[arg-type]
        ]
        self.promos: list[Promo] = []
        with db.transaction() as tx:
            from chalicelib.points import promotion_repository

            tx.execute("UPDATE promotions SET active = false WHERE active")
            for spec in specs:
                terms = PromotionTerms(
                    name=f"{spec.kind} {spec.value}",
                    starts_at=spec.starts_at,
                    ends_at=spec.ends_at,
                    kind=spec.kind,  # type: ignore[arg-type]
                    stacking=spec.stacking,  # type: ignore[arg-type]
                    multiplier=spec.value if spec.kind == "MULTIPLIER" else None,
                    bonus_points=int(spec.value) if spec.kind == "BONUS" else None,
                    min_amount_usd=spec.min_amount,
                    per_member_cap_points=spec.cap,
                    budget_points=spec.budget,
                )
                spec.id = promotion_repository.insert(tx, terms, "property").id
                self.promos.append(spec)

    # -- helpers ---------------------------------------------------------------------------------
    def lot_ids(self, credits: list[Credit]) -> dict[UUID, UUID]:
        """The lots the database made for these (vested) credits."""
        if not credits:
            return {}
        with self.db.reader() as tx:
            rows = tx.fetch(
                "SELECT ledger_entry_id, id FROM point_lots WHERE ledger_entry_id = ANY(CAST(:e AS uuid[]))",
                e=[str(c.id) for c in credits],
            )
        return {r["ledger_entry_id"]: r["id"] for r in rows}

    def allocations(self, entry_id: UUID) -> dict[UUID, int]:
        with self.db.reader() as tx:
            return {
                r["lot_id"]: int(r["points"])
                for r in tx.fetch("SELECT lot_id, points FROM lot_allocations WHERE ledger_entry_id = :e", e=entry_id)
            }

    def debit_like(self, member: UUID, points: int, operation) -> UUID | None:
        from chalicelib.platform.errors import InsufficientPoints

        if points > self.model.spendable(member, self.clock):
            with pytest.raises(InsufficientPoints):
                operation()
            return None  # rolled back: not even the due credits vested or the lapsed lots expired
        entry_id = operation()
        self.model.settle(member, self.clock, self.lot_ids(self.model.due(member, self.clock)))
        taken = self.model.take(member, points)
        assert self.allocations(entry_id) == taken
        return entry_id

    def promotion_points(self, member: UUID, amount: Decimal, base: int) -> list[tuple[Promo, int]]:
        offers = []
        for p in self.promos:
            if not (p.starts_at <= self.clock < p.ends_at):
                continue
            if p.min_amount is not None and amount < p.min_amount:
                continue
            if p.kind == "MULTIPLIER":
                points = int((Decimal(base) * (p.value - 1)).to_integral_value(rounding=ROUND_FLOOR))
            else:
                points = int(p.value)
            if p.cap is not None:
                points = min(points, p.cap - p.awarded.get(member, 0))
            if p.budget is not None:
                points = min(points, p.budget - sum(p.awarded.values()))
            if points > 0:
                offers.append((p, points))
        exclusive = sorted((o for o in offers if o[0].stacking == "EXCLUSIVE"), key=lambda o: (-o[1], str(o[0].id)))
        stackable = [o for o in offers if o[0].stacking == "STACKABLE"]
        if exclusive and exclusive[0][1] > sum(points for _, points in stackable):
            return [exclusive[0]]
        return stackable

    # -- rules -----------------------------------------------------------------------------------
    @rule(who=st.integers(0, MEMBERS - 1), cents=st.integers(1, 250_000))
    def earn(self, who: int, cents: int) -> None:
        from chalicelib.points.earning import PurchaseReport

        member, amount = self.members[who], Decimal(cents) / 100
        tier = self.policy.tier_for(self.model.qualifying(member, self.clock))
        base = int((amount * 10 * self.policy.multiplier(tier)).to_integral_value(rounding=ROUND_FLOOR))
        awards = self.promotion_points(member, amount, base)
        total = base + sum(points for _, points in awards)
        ref = f"P-{next(self.refs)}"
        recorded = self.earning.record(
            self.partner_id, PurchaseReport(customer_id=member, external_id=ref, amount_usd=amount), now=self.clock
        )
        assert recorded.created and recorded.purchase.base_points == base
        assert sorted((a.promotion_id, a.points) for a in recorded.promotions) == sorted(
            (p.id, points) for p, points in awards
        )
        assert recorded.purchase.points == total
        for p, points in awards:
            p.awarded[member] = p.awarded.get(member, 0) + points
        with self.db.reader() as tx:
            ids = {
                r["id"]: int(r["points"])
                for r in tx.fetch(
                    "SELECT id, points FROM purchase_credits WHERE purchase_id = :p", p=recorded.purchase.id
                )
            }
        vests_at = self.clock + timedelta(days=self.pending_days) if self.pending_days else None
        credits = [Credit(i, member, points, vests_at) for i, points in ids.items()]
        for c in credits:
            self.model.credits[c.id] = c
        self.model.buys[ref] = Buy(ref, member, amount, total, [c.id for c in credits])
        if vests_at is None:  # credited at once: the vesting path with vests_at = now
            for c in credits:
                c.vests_at = self.clock
            self.model.vest(credits, self.lot_ids(credits))
            assert recorded.purchase.tier_after == self.policy.tier_for(self.model.qualifying(member, self.clock))

    @precondition(lambda self: self.model.buys)
    @rule(pick=st.integers(0, 10**6))
    def repeat_earn(self, pick: int) -> None:
        from chalicelib.points.earning import PurchaseReport

        buy = list(self.model.buys.values())[pick % len(self.model.buys)]
        again = self.earning.record(
            self.partner_id,
            PurchaseReport(customer_id=buy.member, external_id=buy.ref, amount_usd=buy.amount),
            now=self.clock,
        )
        assert not again.created and again.purchase.points == buy.points

    @precondition(lambda self: self.model.buys)
    @rule(pick=st.integers(0, 10**6), share=st.integers(1, 100), again=st.booleans(), vested=st.booleans())
    def give_back(self, pick: int, share: int, again: bool, vested: bool) -> None:
        """Return a share of a purchase (preferring one whose points vested, half of the time)."""
        from chalicelib.platform.errors import ReturnExceedsPurchase

        candidates = list(self.model.buys.values())
        if vested:
            posted = [b for b in candidates if any(self.model.credits[c].status == "POSTED" for c in b.credits)]
            candidates = posted or candidates
        buy = candidates[pick % len(candidates)]
        if again and buy.returns:  # the same return again: a replay, no effect
            return_id, (amount, reversed_, from_pending, uncollected) = next(iter(buy.returns.items()))
            replay = self.returns.record(self.partner_id, buy.ref, return_id, amount, now=self.clock)
            # a repeat settles the member first like any return (due credits vest, lapsed lots expire)
            self.model.settle(buy.member, self.clock, self.lot_ids(self.model.due(buy.member, self.clock)))
            assert not replay.created
            assert (replay.record.points_reversed, replay.record.points_uncollected) == (reversed_, uncollected)
            return
        left = buy.amount - buy.returned
        amount = (buy.amount * share / 100).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        return_id = f"r{len(buy.returns)}"
        if amount <= 0:
            amount = Decimal("0.01")
        if amount > left:
            with pytest.raises(ReturnExceedsPurchase):
                self.returns.record(self.partner_id, buy.ref, return_id, amount, now=self.clock)
            return
        recorded = self.returns.record(self.partner_id, buy.ref, return_id, amount, now=self.clock).record
        member = buy.member
        self.model.settle(member, self.clock, self.lot_ids(self.model.due(member, self.clock)))
        owed = buy.points * int((buy.returned + amount) * 100) // int(buy.amount * 100) - buy.settled
        from_pending = self.model.cancel_pending(buy, owed)
        rest = owed - from_pending
        took = min(rest, self.model.balance[member])
        own = {self.model.lot_of_credit[c] for c in buy.credits if c in self.model.lot_of_credit}
        taken = self.model.take(member, took, first=own) if took else {}
        if took:
            self.model.qualifying_rows.append((member, self.clock, -took))
            assert self.allocations(recorded.ledger_entry_id) == taken
        else:
            assert recorded.ledger_entry_id is None
        assert (recorded.points_reversed, recorded.points_from_pending, recorded.points_uncollected) == (
            from_pending + took,
            from_pending,
            rest - took,
        )
        buy.returned += amount
        buy.settled += owed
        buy.returns[return_id] = (amount, from_pending + took, from_pending, rest - took)
        if buy.returned == buy.amount:
            assert buy.settled == buy.points  # a full return settles exactly what the purchase earned

    @rule(batch=st.integers(1, 4))
    def vest(self, batch: int) -> None:
        due = self.model.due(None, self.clock)
        report = self.vesting.run(now=self.clock, batch_size=batch)
        # The job also vests credits that earlier examples left behind; ours are checked by the invariant.
        assert report.credits >= len(due)
        self.model.vest(due, self.lot_ids(due))

    @rule(who=st.integers(0, MEMBERS - 1), share=st.integers(1, 110), exact=st.booleans())
    def spend(self, who: int, share: int, exact: bool) -> None:
        """A share of what is spendable (over 100%: refused), or exactly all of it."""
        from chalicelib.points import ledger_repository as ledger

        member = self.members[who]
        spendable = self.model.spendable(member, self.clock)
        points = max(1, spendable if exact else spendable * share // 100 + (1 if share > 100 else 0))

        def operation() -> UUID:
            with self.db.transaction() as tx:
                return ledger.debit(tx, member, "SPEND", points, "property spend", now=self.clock).entry.id

        entry_id = self.debit_like(member, points, operation)
        if entry_id is not None:
            self.model.spends[entry_id] = Spend(member, self.allocations(entry_id))

    @precondition(lambda self: any(not s.refunded for s in self.model.spends.values()))
    @rule(pick=st.integers(0, 10**6))
    def refund(self, pick: int) -> None:
        from chalicelib.points import ledger_repository as ledger

        open_spends = [k for k, s in self.model.spends.items() if not s.refunded]
        entry_id = open_spends[pick % len(open_spends)]
        with self.db.transaction() as tx:
            ledger.refund(tx, entry_id, "property refund")
        spend = self.model.spends[entry_id]
        spend.refunded = True
        for lot_id, points in spend.taken.items():
            self.model.lots[lot_id].remaining += points
            self.model.balance[spend.member] += points

    @rule(batch=st.integers(1, 4))
    def expire(self, batch: int) -> None:
        expected = self.model.lapsed(None, self.clock)
        report = self.expiry.run(now=self.clock, batch_size=batch)
        points = self.model.expire(expected)
        # The job also expires lots that earlier examples left behind; ours are checked by the invariant.
        assert report.lots >= len(expected) and report.points >= points

    @rule(who=st.integers(0, MEMBERS - 1), points=st.integers(-30_000, 30_000).filter(lambda p: p != 0))
    def adjust(self, who: int, points: int) -> None:
        member = self.members[who]

        def operation() -> UUID:
            with self.db.transaction() as tx:
                posting = self.points.adjust(
                    tx, "admin@property.test", member, points, "property adjustment", now=self.clock
                )
                return posting.entry.id

        if points > 0:
            entry_id = operation()
            lot_id = self.lot_ids([Credit(entry_id, member, points, None)])[entry_id]
            self.model.lots[lot_id] = Lot(lot_id, member, self.clock + LIFETIME, points)
            self.model.balance[member] += points
        else:
            self.debit_like(member, -points, operation)

    @rule(days=st.integers(1, 200), seconds=st.integers(0, 86_399))
    def advance(self, days: int, seconds: int) -> None:
        self.clock += timedelta(days=days, seconds=seconds)

    @rule(hours=st.integers(1, 96))
    def advance_a_little(self, hours: int) -> None:
        self.clock += timedelta(hours=hours)

    @precondition(
        lambda self: any(lot.remaining > 0 and lot.expires_at > self.clock for lot in self.model.lots.values())
    )
    @rule()
    def advance_to_next_expiry_instant(self) -> None:
        self.clock = min(
            lot.expires_at for lot in self.model.lots.values() if lot.remaining > 0 and lot.expires_at > self.clock
        )

    @precondition(
        lambda self: any(c.status == "PENDING" and c.vests_at > self.clock for c in self.model.credits.values())
    )
    @rule(before=st.booleans())
    def advance_to_next_vesting_instant(self, before: bool) -> None:
        nearest = min(
            c.vests_at for c in self.model.credits.values() if c.status == "PENDING" and c.vests_at > self.clock
        )
        self.clock = nearest - timedelta(microseconds=1) if before and nearest - self.clock > timedelta(0) else nearest

    # -- invariants ------------------------------------------------------------------------------
    @invariant()
    def ledger_balances_lots_and_credits_agree_with_each_other_and_the_model(self) -> None:
        ours = [str(m) for m in self.members]
        with self.db.reader() as tx:
            sums = {
                r["id"]: r
                for r in tx.fetch(
                    "SELECT m.id, m.balance, "
                    "(SELECT COALESCE(SUM(points), 0) FROM ledger_entries WHERE member_id = m.id)::bigint AS ledger, "
                    "(SELECT COALESCE(SUM(points_remaining), 0) FROM point_lots WHERE member_id = m.id)::bigint AS lots "
                    "FROM members m WHERE m.id = ANY(CAST(:m AS uuid[]))",
                    m=ours,
                )
            }
            lots = {
                r["id"]: r
                for r in tx.fetch(
                    "SELECT id, points_remaining, expiry_count FROM point_lots WHERE member_id = ANY(CAST(:m AS uuid[]))",
                    m=ours,
                )
            }
            credits = {
                r["id"]: (r["status"], int(r["points_cancelled"]))
                for r in tx.fetch(
                    "SELECT id, status, points_cancelled FROM purchase_credits WHERE member_id = ANY(CAST(:m AS uuid[]))",
                    m=ours,
                )
            }
            expire_keys = tx.fetch(
                "SELECT external_ref FROM ledger_entries WHERE entry_type = 'EXPIRE' "
                "AND member_id = ANY(CAST(:m AS uuid[]))",
                m=ours,
            )
            zero = tx.fetch_value(
                "SELECT count(*) FROM ledger_entries WHERE points = 0 AND member_id = ANY(CAST(:m AS uuid[]))", m=ours
            )
        pending = check_invariants(self.db, self.members)
        for member in self.members:
            row = sums[member]
            assert row["balance"] == row["ledger"] == row["lots"] == self.model.balance[member] >= 0
            assert pending[member] == self.model.pending(member)
        assert set(lots) == set(self.model.lots)
        for lot_id, lot in self.model.lots.items():
            assert (lots[lot_id]["points_remaining"], lots[lot_id]["expiry_count"]) == (lot.remaining, lot.expiries)
        assert credits == {c.id: (c.status, c.cancelled) for c in self.model.credits.values()}
        assert sorted(r["external_ref"] for r in expire_keys) == sorted(
            f"expire:{lot.id}:{n}" for lot in self.model.lots.values() for n in range(1, lot.expiries + 1)
        )
        assert zero == 0


@pytest.fixture
def fast_commit_db(db, owner_db):
    """A Database whose connections commit without waiting for the WAL flush (synchronous_commit
    off: the same results and locking, only crash durability differs), so ~1,200 small transactions
    fit the CI budget. Set for this test database only while this test runs."""
    from chalicelib.platform.config import get_settings
    from chalicelib.platform.db import Database

    with db.reader() as tx:
        name = tx.fetch_value("SELECT current_database()")
    with owner_db.transaction() as tx:
        tx.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    fast = Database(get_settings())
    try:
        yield fast
    finally:
        fast.close()
        with owner_db.transaction() as tx:
            tx.execute(f'ALTER DATABASE "{name}" RESET synchronous_commit')


def _run(db, pending_days: int, examples: int, steps: int) -> None:
    LedgerMachine.db = db
    LedgerMachine.pending_days = pending_days
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_ledger_properties_with_a_return_window(fast_commit_db):
    _run(fast_commit_db, pending_days=14, examples=60, steps=30)


def test_ledger_properties_with_points_credited_at_once(fast_commit_db):
    _run(fast_commit_db, pending_days=0, examples=30, steps=20)
