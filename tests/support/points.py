"""Helpers shared by the points tests (test_points_*, test_expiry*, test_admin*, test_property_ledger).

No tests here. Data is written through the real repositories on the real database: lots get their
times from `ledger.credit(now=...)`, so a test can place a lot's expiry at an exact instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from tests.support.ledger import sums  # noqa: F401  (re-exported for the points tests)

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)  # a fixed "now" far from the real clock


def new_member(db, email: str) -> UUID:
    """A member with no sign-in yet and no bonus (as if created in store, without the welcome points)."""
    from chalicelib.members import repository as members
    from chalicelib.members.models import Profile

    with db.transaction() as tx:
        member_id = members.insert_customer(tx, email, Profile())
    assert member_id is not None
    return member_id


def credit(
    db,
    member_id: UUID,
    points: int,
    *,
    at: datetime,
    entry_type: str = "EARN",
    lifetime: timedelta = timedelta(days=365),
    ref: str | None = None,
) -> UUID:
    """One credit (a lot earned at `at`, expiring at `at + lifetime`); returns the lot id."""
    from chalicelib.points import ledger_repository as ledger

    with db.transaction() as tx:
        posting = ledger.credit(
            tx, member_id, entry_type, points, "test credit", lot_lifetime=lifetime, now=at, external_ref=ref
        )
        return tx.fetch_value("SELECT id FROM point_lots WHERE ledger_entry_id = :e", e=posting.entry.id)


def debit(db, member_id: UUID, points: int, *, at: datetime | None = None) -> UUID:
    from chalicelib.points import ledger_repository as ledger

    with db.transaction() as tx:
        return ledger.debit(tx, member_id, "SPEND", points, "test spend", now=at).entry.id


def refund(db, debit_id: UUID) -> None:
    from chalicelib.points import ledger_repository as ledger

    with db.transaction() as tx:
        ledger.refund(tx, debit_id, "test refund")


def lot(db, lot_id: UUID) -> dict[str, Any]:
    with db.reader() as tx:
        return tx.fetch_one(
            "SELECT points_earned, points_remaining, expiry_count, expires_at FROM point_lots WHERE id = :l", l=lot_id
        )


def expire_rows(db, member_id: UUID) -> list[dict[str, Any]]:
    with db.reader() as tx:
        return tx.fetch(
            "SELECT points, external_ref FROM ledger_entries WHERE member_id = :m "
            "AND entry_type = 'EXPIRE' ORDER BY external_ref",
            m=member_id,
        )


def issue_partner(kind: str = "STORE", name: str = "Main St Store") -> tuple[UUID, str]:
    from chalicelib.container import services

    row, key = services().partners.issue(name, kind, "admin@example.com")
    return row.id, key


def state(db) -> dict[str, Any]:
    """Everything expiry touches, keyed by natural identities (emails, lot order), not generated ids:
    two databases built the same way compare equal after the same expiry."""
    with db.reader() as tx:
        lots = tx.fetch(
            "SELECT m.email, l.id, l.earned_at, l.points_earned, l.points_remaining, l.expiry_count "
            "FROM point_lots l JOIN members m ON m.id = l.member_id ORDER BY m.email, l.earned_at, l.points_earned, l.id"
        )
        per_member: dict[str, list] = {}
        for row in lots:
            per_member.setdefault(row["email"], []).append(row)
        names = {}
        for email, rows in per_member.items():
            for i, row in enumerate(rows):
                names[str(row["id"])] = f"{email}/lot{i}"
        entries = tx.fetch(
            "SELECT m.email, l.entry_type, l.points, l.external_ref FROM ledger_entries l "
            "JOIN members m ON m.id = l.member_id ORDER BY m.email, l.entry_type, l.points, l.external_ref"
        )
        balances = tx.fetch("SELECT email, balance FROM members ORDER BY email")
        events = tx.fetch(
            "SELECT m.email, SUM((e.payload->>'points')::bigint)::bigint AS points FROM outbox_events e "
            "JOIN members m ON m.id = e.aggregate_id WHERE e.event_type = 'PointsExpired' GROUP BY m.email ORDER BY m.email"
        )
        allocations = tx.fetch(
            "SELECT a.lot_id, a.points FROM lot_allocations a JOIN ledger_entries l ON l.id = a.ledger_entry_id "
            "WHERE l.entry_type = 'EXPIRE' ORDER BY a.lot_id"
        )

    def ref(value: str | None) -> str | None:
        if value and value.startswith("expire:"):
            _, lot_id, seq = value.split(":")
            return f"expire:{names[lot_id]}:{seq}"
        if value and len(value) == 36:  # a refund's default key: the refunded debit's (generated) id
            return "<debit id>"
        return value

    return {
        "balances": [(r["email"], int(r["balance"])) for r in balances],
        "lots": [
            (r["email"], r["earned_at"], int(r["points_earned"]), int(r["points_remaining"]), int(r["expiry_count"]))
            for r in lots
        ],
        "entries": sorted((r["email"], r["entry_type"], int(r["points"]), ref(r["external_ref"])) for r in entries),
        "expired_event_points": [(r["email"], int(r["points"])) for r in events],
        "expire_allocations": sorted((names[str(r["lot_id"])], int(r["points"])) for r in allocations),
    }


def truncate(db) -> None:
    with db.transaction() as tx:
        tables = [
            r["tablename"]
            for r in tx.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN "
                "('schema_migrations', 'products')"
            )
        ]
        tx.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")


# -- returns, pending points, promotions ---------------------------------------------------------------
def settings_with(**overrides: Any) -> Any:
    """The test session's settings with some changed (e.g. points_pending_days=14)."""
    from chalicelib.platform.config import get_settings

    return get_settings().model_copy(update=overrides)


class Loyalty:
    """The earning, return, vesting and promotion services over one settings object, and shortcuts
    to drive them at chosen instants."""

    def __init__(self, db: Any, **overrides: Any):
        from chalicelib.points.earning import EarningService
        from chalicelib.points.expiry import ExpiryService
        from chalicelib.points.promotions import PromotionService
        from chalicelib.points.returns import ReturnService
        from chalicelib.points.vesting import VestingService

        self.db = db
        self.settings = settings_with(**overrides)
        self.earning = EarningService(db, self.settings)
        self.returns = ReturnService(db, self.settings)
        self.vesting = VestingService(db, self.settings)
        self.expiry = ExpiryService(db, self.settings)
        self.promotions = PromotionService(db)
        self.partner_id, self.key = issue_partner()

    def buy(
        self, member_id: UUID, ref: str, amount: str, *, at: datetime | None = None, store: str | None = None
    ) -> Any:
        from decimal import Decimal

        from chalicelib.points.earning import PurchaseReport

        report = PurchaseReport(external_id=ref, amount_usd=Decimal(amount), customer_id=member_id, store_id=store)
        return self.earning.record(self.partner_id, report, now=at)

    def give_back(self, ref: str, return_id: str, amount: str, *, at: datetime | None = None) -> Any:
        from decimal import Decimal

        return self.returns.record(self.partner_id, ref, return_id, Decimal(amount), now=at)

    def promote(self, **terms: Any) -> UUID:
        """A promotion with these terms (defaults: BONUS 100, STACKABLE, running from T0 - 1 day to T0 + 30 days)."""
        from chalicelib.points.models import PromotionTerms

        values: dict[str, Any] = {
            "name": "Test promotion",
            "starts_at": T0 - timedelta(days=1),
            "ends_at": T0 + timedelta(days=30),
            "kind": "BONUS",
            "stacking": "STACKABLE",
        }
        if terms.get("kind", "BONUS") == "BONUS" and "bonus_points" not in terms:
            values["bonus_points"] = 100
        values.update(terms)
        with self.db.transaction() as tx:
            from chalicelib.points import promotion_repository

            return promotion_repository.insert(tx, PromotionTerms(**values), "admin@example.com").id


def credits_of(db: Any, member_id: UUID) -> list[dict[str, Any]]:
    with db.reader() as tx:
        return tx.fetch(
            "SELECT id, entry_type, promotion_id, points, points_cancelled, status, vests_at FROM purchase_credits "
            "WHERE member_id = :m ORDER BY created_at, entry_type, id",
            m=member_id,
        )


def ledger_rows(db: Any, member_id: UUID, entry_type: str | None = None) -> list[dict[str, Any]]:
    with db.reader() as tx:
        return tx.fetch(
            "SELECT id, entry_type, points, external_ref, created_at FROM ledger_entries WHERE member_id = :m "
            "AND (CAST(:t AS text) IS NULL OR entry_type = :t) ORDER BY created_at, id",
            m=member_id,
            t=entry_type,
        )


@contextmanager
def app_settings(**env: str) -> Iterator[None]:
    """Run the app (routes, the container's services) with these environment variables, then restore."""
    import os

    from chalicelib.container import reset_services
    from chalicelib.platform.config import reset_settings

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    reset_settings()
    reset_services()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()
        reset_services()
