"""Members: identity links, profiles, the admin's customer list."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from uuid import UUID

from ..platform import paging
from ..platform.db import Tx
from ..points.models import Balance, Tier
from .models import ErasureSubject, IdentityLink, Member, Profile

_COLUMNS = (
    "id, email, first_name, last_name, phone, street, city, state, zip_code, balance, lifetime_earned, tier, "
    "created_at, identity_subject IS NOT NULL AS signed_in, erased_at IS NOT NULL AS erased"
)
# A linked member keeps what an admin typed in store; the token only fills what is blank.
_FILL_BLANKS = ", ".join(
    f"{column} = CASE WHEN {column} = '' THEN :{column} ELSE {column} END"
    for column in ("first_name", "last_name", "phone", "street", "city", "state", "zip_code")
)


def find_by_identity(tx: Tx, issuer: str, subject: str) -> IdentityLink | None:
    return tx.row(
        IdentityLink,
        "SELECT id, email FROM members WHERE identity_issuer = :iss AND identity_subject = :sub",
        iss=issuer,
        sub=subject,
    )


def link_by_email(tx: Tx, issuer: str, subject: str, email: str, profile: Profile) -> UUID | None:
    """Link the not-yet-linked member with this (verified) email to the identity; None if there is none.

    A concurrent link of the same row waits on its lock, re-checks `identity_subject IS NULL` and
    finds it set: exactly one identity ever links a member.
    """
    value: UUID | None = tx.fetch_value(
        f"UPDATE members SET identity_issuer = :iss, identity_subject = :sub, linked_at = now(), {_FILL_BLANKS}, "
        "updated_at = now() WHERE email = :email AND identity_subject IS NULL AND erased_at IS NULL RETURNING id",
        iss=issuer,
        sub=subject,
        email=email,
        **asdict(profile),
    )
    return value


def insert_signed_in(tx: Tx, issuer: str, subject: str, email: str, profile: Profile) -> UUID | None:
    """A new member owned by this identity; None when the identity or the email is taken (a concurrent
    first call won, or the email belongs to a member linked to another identity)."""
    value: UUID | None = tx.fetch_value(
        "INSERT INTO members (identity_issuer, identity_subject, linked_at, email, first_name, last_name, phone, "
        "street, city, state, zip_code) VALUES (:iss, :sub, now(), :email, :first_name, :last_name, :phone, "
        ":street, :city, :state, :zip_code) ON CONFLICT DO NOTHING RETURNING id",
        iss=issuer,
        sub=subject,
        email=email,
        **asdict(profile),
    )
    return value


def insert_customer(tx: Tx, email: str, profile: Profile) -> UUID | None:
    """In-store sign-up: a member with no identity yet; None when the email is already a member."""
    value: UUID | None = tx.fetch_value(
        "INSERT INTO members (email, first_name, last_name, phone, street, city, state, zip_code) "
        "VALUES (:email, :first_name, :last_name, :phone, :street, :city, :state, :zip_code) "
        "ON CONFLICT DO NOTHING RETURNING id",
        email=email,
        **asdict(profile),
    )
    return value


def change_email(tx: Tx, member_id: UUID, email: str) -> bool:
    """The sign-in's verified email changed: follow it, unless another member holds that address."""
    return (
        tx.execute(
            "UPDATE members SET email = :email, updated_at = now() WHERE id = :id AND erased_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM members WHERE email = :email)",
            id=member_id,
            email=email,
        )
        == 1
    )


def find_id_by_email(tx: Tx, email: str) -> UUID | None:
    value: UUID | None = tx.fetch_value("SELECT id FROM members WHERE email = :email", email=email)
    return value


def get(tx: Tx, member_id: UUID) -> Member | None:
    return tx.row(Member, f"SELECT {_COLUMNS} FROM members WHERE id = :id", id=member_id)


def update_profile(tx: Tx, member_id: UUID, changes: dict[str, Any]) -> Member | None:
    """Set the given Profile fields (names fixed by the dataclass, never taken from input); an erased
    member's row is never written again (None)."""
    allowed = set(Profile.__dataclass_fields__)
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    if not changes:
        return get(tx, member_id)
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    return tx.row(
        Member,
        f"UPDATE members SET {assignments}, updated_at = now() WHERE id = :id AND erased_at IS NULL "
        f"RETURNING {_COLUMNS}",
        id=member_id,
        **changes,
    )


LOCK_SQL = "SELECT id, balance, tier FROM members WHERE id = :id AND erased_at IS NULL FOR NO KEY UPDATE"


def lock(tx: Tx, member_id: UUID) -> Balance | None:
    """Lock the member row (the ledger's lock order starts here); its balance and stored tier. An erased
    member is not found: nothing credits it again."""
    return tx.row(Balance, LOCK_SQL, id=member_id)


def set_tier(tx: Tx, member_id: UUID, tier: Tier) -> None:
    tx.execute("UPDATE members SET tier = :t, updated_at = now() WHERE id = :id AND tier <> :t", id=member_id, t=tier)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(tx: Tx, q: str | None, limit: int, cursor: str | None) -> tuple[list[Member], str | None]:
    """Newest first; `q` matches email, first, last or full name (case-insensitive substring). Erased
    members are never listed."""
    pattern = _like(q.strip().lower()) if q and q.strip() else None
    rows = tx.rows(
        Member,
        f"SELECT {_COLUMNS} FROM members WHERE erased_at IS NULL "
        "AND (CAST(:p AS text) IS NULL OR lower(email) LIKE :p OR lower(first_name || ' ' || last_name) LIKE :p) "
        f"AND {paging.AFTER_CURSOR} {paging.NEWEST_FIRST}",
        p=pattern,
        **paging.params(cursor, limit),
    )
    return paging.page(rows, limit, lambda m: (m.created_at, m.id))


# -- erasure (privacy/service.py) ----------------------------------------------------------------
def erasure_subject(tx: Tx, member_id: UUID) -> ErasureSubject | None:
    return tx.row(
        ErasureSubject,
        "SELECT id, email, identity_issuer, identity_subject, erased_at FROM members WHERE id = :id",
        id=member_id,
    )


def erase_personal_data(tx: Tx, member_id: UUID) -> bool:
    """Blank every personal field and the sign-in link; the email becomes 'erased:<id>' (unique, not an
    address: no sign-in or partner report can match it). False when already erased."""
    return (
        tx.execute(
            "UPDATE members SET email = 'erased:' || id, first_name = '', last_name = '', phone = '', street = '', "
            "city = '', state = '', zip_code = '', identity_issuer = NULL, identity_subject = NULL, linked_at = NULL, "
            "erased_at = now(), updated_at = now() WHERE id = :id AND erased_at IS NULL",
            id=member_id,
        )
        == 1
    )


def record_erased_identity(tx: Tx, identity_hash: str) -> None:
    tx.execute("INSERT INTO erased_identities (identity_hash) VALUES (:h) ON CONFLICT DO NOTHING", h=identity_hash)


def identity_erased(tx: Tx, identity_hash: str) -> bool:
    return bool(tx.fetch_value("SELECT 1 FROM erased_identities WHERE identity_hash = :h", h=identity_hash))
