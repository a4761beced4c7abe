"""Points rows: ledger entries, lots, purchases, and where a member stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

LedgerType = Literal["BONUS", "EARN", "SPEND", "REFUND", "EXPIRE", "ADJUST", "IMPORT", "FORFEIT"]
Tier = Literal["BRONZE", "SILVER", "GOLD"]
TIERS: tuple[Tier, ...] = ("BRONZE", "SILVER", "GOLD")


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: UUID
    member_id: UUID
    entry_type: LedgerType
    points: int
    description: str
    order_id: UUID | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ImportedAccount:
    """A member an import opens: who they are (no sign-in yet), the old program's id for them, and the
    balance they bring (may be 0), expiring at `expires_at`."""

    member_id: UUID
    external_member_id: str
    email: str
    first_name: str
    last_name: str
    phone: str
    points: int
    expires_at: datetime
    line: int


@dataclass(frozen=True, slots=True)
class OpenedAccounts:
    """What opening a batch of accounts did: how many, their points, and the ones another import
    claimed first (their external id was taken meanwhile: nothing was written for them)."""

    opened: int
    points: int
    claimed_elsewhere: frozenset[UUID]


@dataclass(frozen=True, slots=True)
class Posting:
    """A balance change just written: its ledger entry and the balance either side of it."""

    entry: LedgerEntry
    previous_balance: int
    balance: int


@dataclass(frozen=True, slots=True)
class OrderedItem:
    """A line of the order a SPEND paid for, as the transaction detail shows it."""

    cat_item_id: UUID
    product_name: str
    description: str
    image_url: str | None
    unit_cnt: int
    unit_points_price: int


@dataclass(frozen=True, slots=True)
class EntryDetail:
    entry: LedgerEntry
    items: list[OrderedItem]


@dataclass(frozen=True, slots=True)
class ExpiringPoints:
    date: date  # UTC calendar day
    points: int


@dataclass(frozen=True, slots=True)
class Balance:
    """A member's balance row: what the ledger's lock order starts from."""

    id: UUID
    balance: int
    tier: Tier


@dataclass(frozen=True, slots=True)
class Standing:
    """A member's balance with where they stand: tier progress and what expires soon."""

    member_id: UUID
    balance: int
    lifetime_earned: int
    tier: Tier
    qualifying_points: int
    next_tier: Tier | None
    points_to_next_tier: int | None
    earn_multiplier: Decimal
    expiring: list[ExpiringPoints]


@dataclass(frozen=True, slots=True)
class Purchase:
    """A partner-reported purchase as recorded (its natural key: partner_id + external_id)."""

    id: UUID
    partner_id: UUID
    external_id: str
    member_id: UUID
    amount_usd: Decimal
    tier: Tier
    multiplier: Decimal
    points: int
    ledger_entry_id: UUID | None
    balance_after: int
    tier_after: Tier
    store_id: str | None
    occurred_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RecordedPurchase:
    """The answer to a purchase report: `created` is False for a repeat, which replays the first answer."""

    created: bool
    purchase: Purchase
    entry: LedgerEntry | None


@dataclass(frozen=True, slots=True)
class ExpiringWithin:
    """Points that expire within N days from now (cumulative windows)."""

    days_30: int
    days_60: int
    days_90: int


@dataclass(frozen=True, slots=True)
class TierLiability:
    tier: Tier
    members: int
    members_with_points: int
    outstanding_points: int
    lapsed_pending_points: int
    expiring_within: ExpiringWithin


@dataclass(frozen=True, slots=True)
class Liability:
    as_of: datetime
    outstanding_points: int
    members_with_points: int
    lapsed_pending_points: int
    expiring_within: ExpiringWithin
    by_tier: list[TierLiability]
