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
