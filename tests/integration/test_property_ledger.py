"""Property-based test of the points ledger: random sequences of earn (and repeated reports), spend,
refund, expire, adjust and clock moves (including to the exact instant a lot expires) across three
members, against a plain-Python model of the rules. After every step:

  * balance == SUM(ledger) == SUM(lots remaining), for every member, and equal to the model;
  * every lot's remaining points and expiry count equal the model's; nothing is negative;
  * each spend took the soonest-expiring lots first (no open lot sorts before the last one it used);
  * each EXPIRE row is unique per lot and expiry ('expire:<lot>:<n>').

The model is independent of the code: FIFO by (expires_at, id), lapsed at expires_at inclusive, a
spend first expires the member's lapsed lots (rolled back with it if it fails), refunds restore the
exact lots, earning multiplies by the tier held before the purchase, rounding down.
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

from tests.support.points import issue_partner, new_member

LIFETIME = timedelta(days=365)
MEMBERS = 3
EXAMPLES = itertools.count()


@dataclass
class Lot:
    id: UUID
    member: UUID
    expires_at: datetime
    remaining: int
    expiries: int = 0

    @property
    def key(self) -> tuple[datetime, UUID]:
        return (self.expires_at, self.id)


@dataclass
class Spend:
    member: UUID
    taken: dict[UUID, int]
    refunded: bool = False


@dataclass
class Model:
    lots: dict[UUID, Lot] = field(default_factory=dict)
    balance: dict[UUID, int] = field(default_factory=dict)
    earns: list[tuple[UUID, datetime, int]] = field(default_factory=list)
    spends: dict[UUID, Spend] = field(default_factory=dict)

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

    def expire(self, lots: list[Lot]) -> int:
        points = 0
        for lot in lots:
            self.balance[lot.member] -= lot.remaining
            points += lot.remaining
            lot.remaining, lot.expiries = 0, lot.expiries + 1
        return points

    def spendable(self, member: UUID, now: datetime) -> int:
        return self.balance[member] - sum(lot.remaining for lot in self.lapsed(member, now))

    def take(self, member: UUID, points: int, now: datetime) -> dict[UUID, int]:
        """Expire the member's lapsed lots, then take `points` soonest-expiring first."""
        self.expire(self.lapsed(member, now))
        taken, left = {}, points
        for lot in self.open_lots(member):
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
        return sum(p for m, at, p in self.earns if m == member and now - LIFETIME < at <= now)


class LedgerMachine(RuleBasedStateMachine):
    db = None  # set by the test

    @initialize()
    def setup(self) -> None:
        from chalicelib.platform.config import get_settings
        from chalicelib.points.earning import EarningService
        from chalicelib.points.expiry import ExpiryService
        from chalicelib.points.service import PointsService
        from chalicelib.points.tier_policy import TierPolicy

        db = self.db
        cfg = get_settings()
        self.policy = TierPolicy.of(cfg)
        self.earning = EarningService(db, cfg)
        self.expiry = ExpiryService(db, cfg)
        self.points = PointsService(db, cfg)
        self.partner_id, _ = issue_partner()
        run = next(EXAMPLES)  # fresh members per example: no truncation between examples
        self.members = [new_member(db, f"p{i}.{run}@property.test") for i in range(MEMBERS)]
        self.model = Model(balance=dict.fromkeys(self.members, 0))
        with db.reader() as tx:
            self.clock = tx.fetch_value("SELECT now()") + timedelta(seconds=5)
        self.refs = itertools.count()
        self.reported: list[tuple[UUID, str, Decimal, int]] = []

    # -- helpers ---------------------------------------------------------------------------------
    def lot_of(self, entry_id: UUID) -> UUID:
        with self.db.reader() as tx:
            return tx.fetch_value("SELECT id FROM point_lots WHERE ledger_entry_id = :e", e=entry_id)

    def check_allocations(self, entry_id: UUID, expected: dict[UUID, int], member: UUID) -> None:
        with self.db.reader() as tx:
            got = {
                r["lot_id"]: int(r["points"])
                for r in tx.fetch("SELECT lot_id, points FROM lot_allocations WHERE ledger_entry_id = :e", e=entry_id)
            }
            if got:
                last = max(self.model.lots[lot].key for lot in got)
                earlier_open = tx.fetch_value(
                    "SELECT count(*) FROM point_lots WHERE member_id = :m AND points_remaining > 0 "
                    "AND (expires_at, id) < (:at, :id)",
                    m=member,
                    at=last[0],
                    id=last[1],
                )
                assert earlier_open == 0, "a spend left an earlier-expiring lot open (not FIFO)"
        assert got == expected

    def debit_like(self, member: UUID, points: int, operation) -> UUID | None:
        from chalicelib.platform.errors import InsufficientPoints

        if points > self.model.spendable(member, self.clock):
            with pytest.raises(InsufficientPoints):
                operation()
            return None  # rolled back: not even the lapsed lots were expired
        entry_id = operation()
        taken = self.model.take(member, points, self.clock)
        self.check_allocations(entry_id, taken, member)
        return entry_id

    # -- rules -----------------------------------------------------------------------------------
    @rule(who=st.integers(0, MEMBERS - 1), cents=st.integers(1, 250_000))
    def earn(self, who: int, cents: int) -> None:
        from chalicelib.points.earning import PurchaseReport as PurchaseRequest

        member, amount = self.members[who], Decimal(cents) / 100
        tier = self.policy.tier_for(self.model.qualifying(member, self.clock))
        expected = int((amount * 10 * self.policy.multiplier(tier)).to_integral_value(rounding=ROUND_FLOOR))
        ref = f"P-{next(self.refs)}"
        recorded = self.earning.record(
            self.partner_id, PurchaseRequest(customer_id=member, external_id=ref, amount_usd=amount), now=self.clock
        )
        assert recorded.created and recorded.purchase.points == expected
        self.reported.append((member, ref, amount, expected))
        if expected:
            entry = recorded.entry
            self.model.lots[self.lot_of(entry.id)] = Lot(self.lot_of(entry.id), member, self.clock + LIFETIME, expected)
            self.model.balance[member] += expected
            self.model.earns.append((member, self.clock, expected))  # credited "now": stamped with the clock
        assert recorded.purchase.tier_after == self.policy.tier_for(self.model.qualifying(member, self.clock))

    @precondition(lambda self: self.reported)
    @rule(pick=st.integers(0, 10**6))
    def repeat_earn(self, pick: int) -> None:
        from chalicelib.points.earning import PurchaseReport as PurchaseRequest

        member, ref, amount, points = self.reported[pick % len(self.reported)]
        again = self.earning.record(
            self.partner_id, PurchaseRequest(customer_id=member, external_id=ref, amount_usd=amount), now=self.clock
        )
        assert not again.created and again.purchase.points == points

    @rule(who=st.integers(0, MEMBERS - 1), points=st.integers(1, 40_000))
    def spend(self, who: int, points: int) -> None:
        from chalicelib.points import ledger_repository as ledger

        member = self.members[who]

        def operation() -> UUID:
            with self.db.transaction() as tx:
                return ledger.debit(tx, member, "SPEND", points, "property spend", now=self.clock).entry.id

        entry_id = self.debit_like(member, points, operation)
        if entry_id is not None:
            with self.db.reader() as tx:
                taken = {
                    r["lot_id"]: int(r["points"])
                    for r in tx.fetch(
                        "SELECT lot_id, points FROM lot_allocations WHERE ledger_entry_id = :e", e=entry_id
                    )
                }
            self.model.spends[entry_id] = Spend(member, taken)

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
            self.model.lots[self.lot_of(entry_id)] = Lot(self.lot_of(entry_id), member, self.clock + LIFETIME, points)
            self.model.balance[member] += points
        else:
            self.debit_like(member, -points, operation)

    @rule(days=st.integers(1, 200), seconds=st.integers(0, 86_399))
    def advance(self, days: int, seconds: int) -> None:
        self.clock += timedelta(days=days, seconds=seconds)

    @precondition(
        lambda self: any(lot.remaining > 0 and lot.expires_at > self.clock for lot in self.model.lots.values())
    )
    @rule()
    def advance_to_next_expiry_instant(self) -> None:
        self.clock = min(
            lot.expires_at for lot in self.model.lots.values() if lot.remaining > 0 and lot.expires_at > self.clock
        )

    # -- invariants ------------------------------------------------------------------------------
    @invariant()
    def ledger_balances_and_lots_agree_with_each_other_and_the_model(self) -> None:
        with self.db.reader() as tx:
            sums = {
                r["id"]: r
                for r in tx.fetch(
                    "SELECT m.id, m.balance, "
                    "(SELECT COALESCE(SUM(points), 0) FROM ledger_entries WHERE member_id = m.id)::bigint AS ledger, "
                    "(SELECT COALESCE(SUM(points_remaining), 0) FROM point_lots WHERE member_id = m.id)::bigint AS lots "
                    "FROM members m WHERE m.id = ANY(CAST(:m AS uuid[]))",
                    m=[str(m) for m in self.members],
                )
            }
            ours = [str(m) for m in self.members]
            lots = {
                r["id"]: r
                for r in tx.fetch(
                    "SELECT id, points_remaining, expiry_count FROM point_lots WHERE member_id = ANY(CAST(:m AS uuid[]))",
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
        for member in self.members:
            row = sums[member]
            assert row["balance"] == row["ledger"] == row["lots"] == self.model.balance[member] >= 0
        assert set(lots) == set(self.model.lots)
        for lot_id, lot in self.model.lots.items():
            assert (lots[lot_id]["points_remaining"], lots[lot_id]["expiry_count"]) == (lot.remaining, lot.expiries)
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


def test_ledger_properties(fast_commit_db):
    LedgerMachine.db = fast_commit_db
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
