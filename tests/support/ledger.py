"""Reading the money back in tests: balance, ledger sum and lot sum of a member, stock of a product.

`sums` also checks the extended invariant (docs/points.md section 13) every time it is called:
purchase credits posted exactly once, purchases' credits and returns adding up, pending points
never negative, promotions within their budgets and caps. A break fails the calling test."""

from __future__ import annotations

from typing import Any
from uuid import UUID


def member_id_of(db: Any, email: str) -> UUID:
    with db.reader() as tx:
        found: UUID = tx.fetch_value("SELECT id FROM members WHERE email = :e", e=email)
    return found


def sums(db: Any, member: UUID | str) -> dict[str, int]:
    """balance, ledger sum and lot sum of a member (by id, or by email): equal unless something broke."""
    from chalicelib.points import ledger_repository as ledger

    member_id = member_id_of(db, member) if isinstance(member, str) and "@" in member else UUID(str(member))
    with db.reader() as tx:
        found = ledger.sums(tx, member_id)
    check_invariants(db, [member_id])
    return found


def check_invariants(db: Any, member_ids: list[UUID]) -> dict[UUID, int]:
    """The extended invariant for these members (and every promotion); their pending points."""
    from chalicelib.points import integrity_repository as integrity

    with db.reader() as tx:
        checks = integrity.member_checks(tx, member_ids)
        promotions = integrity.promotion_problems(tx)
    broken = {m: c for m, c in checks.items() if c["bad_credits"] or c["bad_purchases"]}
    assert not broken, f"purchase credits or returns do not add up: {broken}"
    assert not promotions, f"promotion budget or cap broken: {promotions}"
    assert all(c["pending"] >= 0 for c in checks.values())
    return {m: c["pending"] for m, c in checks.items()}


def pending(db: Any, member: UUID | str) -> int:
    """Points of the member not vested yet."""
    member_id = member_id_of(db, member) if isinstance(member, str) and "@" in member else UUID(str(member))
    return check_invariants(db, [member_id])[member_id]


def stock(db: Any, sku: str) -> int:
    with db.reader() as tx:
        value: int = tx.fetch_value("SELECT stock FROM products WHERE sku = :s", s=sku)
    return value
