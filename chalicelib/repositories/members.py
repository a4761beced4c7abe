from __future__ import annotations

from uuid import UUID

from ..db import Tx
from ..models import Member

_COLUMNS = ("id, email, first_name, last_name, phone, street, city, state, zip_code, balance, "
            "lifetime_earned, tier, created_at")


def find_id_by_email(tx: Tx, email: str) -> UUID | None:
    return tx.fetch_value("SELECT id FROM members WHERE email = :email", email=email)


def get(tx: Tx, member_id: UUID) -> Member | None:
    row = tx.fetch_one(f"SELECT {_COLUMNS} FROM members WHERE id = :id", id=member_id)
    return Member.model_validate(row) if row else None


def insert_if_absent(tx: Tx, email: str, first_name: str = "", last_name: str = "", phone: str = "") -> UUID | None:
    """The new member's id, or None when the email exists (a concurrent first call won the race)."""
    return tx.fetch_value(
        "INSERT INTO members (email, first_name, last_name, phone) VALUES (:email, :first, :last, :phone) "
        "ON CONFLICT (email) DO NOTHING RETURNING id",
        email=email, first=first_name, last=last_name, phone=phone,
    )


def lock_balance(tx: Tx, member_id: UUID) -> int | None:
    """Locks the member row: every lot mutation happens under this lock (see ledger.py)."""
    return tx.fetch_value("SELECT balance FROM members WHERE id = :id FOR UPDATE", id=member_id)


# -- points and admin ------------------------------------------------------------------------------
_CUSTOMER_COLUMNS = _COLUMNS


def lock(tx: Tx, member_id: UUID) -> dict | None:
    """Lock the member row (the ledger's lock order starts here); its balance and stored tier."""
    return tx.fetch_one("SELECT id, balance, tier FROM members WHERE id = :id FOR UPDATE", id=member_id)


def set_tier(tx: Tx, member_id: UUID, tier: str) -> None:
    tx.execute("UPDATE members SET tier = :t, updated_at = now() WHERE id = :id AND tier <> :t", id=member_id, t=tier)


def insert_customer(
    tx: Tx, *, email: str, first_name: str, last_name: str, phone: str,
    street: str, city: str, state: str, zip_code: str,
) -> UUID | None:
    """In-store sign-up: the new member's id, or None when the email is already a member."""
    return tx.fetch_value(
        "INSERT INTO members (email, first_name, last_name, phone, street, city, state, zip_code) "
        "VALUES (:email, :first, :last, :phone, :street, :city, :state, :zip) "
        "ON CONFLICT (email) DO NOTHING RETURNING id",
        email=email, first=first_name, last=last_name, phone=phone, street=street, city=city, state=state, zip=zip_code,
    )


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(tx: Tx, q: str | None, limit: int, cursor: str | None) -> tuple[list[Member], str | None]:
    """Newest first; `q` matches email, first, last or full name (case-insensitive substring)."""
    from . import paging

    after = paging.decode(cursor)
    pattern = _like(q.strip().lower()) if q and q.strip() else None
    rows = tx.fetch(
        f"SELECT {_CUSTOMER_COLUMNS} FROM members "
        "WHERE (CAST(:p AS text) IS NULL OR lower(email) LIKE :p OR lower(first_name || ' ' || last_name) LIKE :p) "
        "AND (CAST(:at AS timestamptz) IS NULL OR (created_at, id) < (CAST(:at AS timestamptz), CAST(:id AS uuid))) "
        "ORDER BY created_at DESC, id DESC LIMIT :n",
        p=pattern, at=after[0] if after else None, id=after[1] if after else None, n=limit + 1,
    )
    found = [Member.model_validate(r) for r in rows]
    return paging.page(found, limit, lambda m: (m.created_at, m.id))
