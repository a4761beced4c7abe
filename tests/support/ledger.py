"""Reading the money back in tests: balance, ledger sum and lot sum of a member, stock of a product."""

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
        return ledger.sums(tx, member_id)


def stock(db: Any, sku: str) -> int:
    with db.reader() as tx:
        value: int = tx.fetch_value("SELECT stock FROM products WHERE sku = :s", s=sku)
    return value
