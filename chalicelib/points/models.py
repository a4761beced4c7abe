"""Points rows: ledger entries, lots, purchases, and where a member stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

LedgerType = Literal["BONUS", "EARN", "PROMOTION", "SPEND", "REFUND", "EXPIRE", "ADJUST", "RETURN", "IMPORT", "FORFEIT"]
# A history item is a ledger row (POSTED) or a purchase credit that has not vested yet (PENDING).
EntryStatus = Literal["POSTED", "PENDING"]
CreditType = Literal["EARN", "PROMOTION"]
CreditStatus = Literal["PENDING", "POSTED", "CANCELLED"]
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
    status: EntryStatus = "POSTED"
    vests_at: datetime | None = None  # pending credits only


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
class PendingPoints:
    """Points that vest (become spendable) at one instant."""

    vests_at: datetime
    points: int


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
    pending: int = 0  # not in `balance` until they vest
    pending_lots: list[PendingPoints] = field(default_factory=list)


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
    base_points: int  # before promotions; `points` is the total the purchase earned
    vests_at: datetime | None  # pending purchases: when their points vest


@dataclass(frozen=True, slots=True)
class PromotionAward:
    """Points one promotion paid on one purchase (a PROMOTION credit of the purchase)."""

    promotion_id: UUID
    name: str
    points: int


@dataclass(frozen=True, slots=True)
class RecordedPurchase:
    """The answer to a purchase report: `created` is False for a repeat, which replays the first answer.

    `entry` is the base credit: its ledger row, or (pending purchases) the pending credit as the
    member's history shows it; None when the base points were 0."""

    created: bool
    purchase: Purchase
    entry: LedgerEntry | None
    promotions: list[PromotionAward] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CreditPart:
    """One part of what a purchase is credited, before it is written: the base points or a promotion's."""

    id: UUID  # the purchase_credits id, and the ledger row's id once posted
    entry_type: CreditType
    points: int
    description: str
    external_ref: str
    promotion_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class PurchaseCredit:
    id: UUID
    purchase_id: UUID
    member_id: UUID
    entry_type: CreditType
    promotion_id: UUID | None
    points: int
    points_cancelled: int
    status: CreditStatus
    vests_at: datetime | None
    description: str
    external_ref: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PurchaseReturn:
    """A partner's return of (part of) a purchase, as recorded (natural key: purchase_id + return_id)."""

    id: UUID
    purchase_id: UUID
    member_id: UUID
    return_id: str
    amount_usd: Decimal
    points_reversed: int
    points_from_pending: int
    points_uncollected: int
    ledger_entry_id: UUID | None
    balance_after: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RecordedReturn:
    """`created` is False for a repeat of the same return, which replays the first answer."""

    created: bool
    record: PurchaseReturn
    external_id: str


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
    pending_points: int = 0  # earned, not vested yet (not in outstanding_points)
    uncollected_points: int = 0  # returns could not take back (already spent)


@dataclass(frozen=True, slots=True)
class Liability:
    as_of: datetime
    outstanding_points: int
    members_with_points: int
    lapsed_pending_points: int
    expiring_within: ExpiringWithin
    by_tier: list[TierLiability]
    pending_points: int = 0
    uncollected_points: int = 0


# -- promotions ------------------------------------------------------------------------------------
PromotionKind = Literal["MULTIPLIER", "BONUS"]
Stacking = Literal["EXCLUSIVE", "STACKABLE"]


@dataclass(frozen=True, slots=True)
class PromotionTerms:
    """What an admin defines: when, how much, for whom, how far (caps and budget), how it combines."""

    name: str
    starts_at: datetime
    ends_at: datetime
    kind: PromotionKind
    stacking: Stacking
    multiplier: Decimal | None = None  # MULTIPLIER: the purchase earns base x multiplier in total
    bonus_points: int | None = None  # BONUS: points added to the purchase
    store_ids: list[str] | None = None
    tiers: list[Tier] | None = None
    min_amount_usd: Decimal | None = None
    first_purchase_only: bool = False
    per_member_cap_points: int | None = None
    budget_points: int | None = None


@dataclass(frozen=True, slots=True)
class Promotion:
    id: UUID
    name: str
    kind: PromotionKind
    multiplier: Decimal | None
    bonus_points: int | None
    starts_at: datetime
    ends_at: datetime
    store_ids: list[str] | None
    tiers: list[Tier] | None
    min_amount_usd: Decimal | None
    first_purchase_only: bool
    per_member_cap_points: int | None
    budget_points: int | None
    budget_used: int
    stacking: Stacking
    active: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    awarded_points: int  # every award so far (budgeted or not)
    members_awarded: int
    as_of: datetime  # the database clock when read: whether it is scheduled, running or ended


@dataclass(frozen=True, slots=True)
class RunningPromotion:
    """A promotion running at a purchase's instant, with what is left of its member cap and budget
    (the budget as read before the purchase locks it: an estimate that the grant re-checks)."""

    id: UUID
    name: str
    kind: PromotionKind
    multiplier: Decimal | None
    bonus_points: int | None
    store_ids: list[str] | None
    tiers: list[str] | None
    min_amount_usd: Decimal | None
    first_purchase_only: bool
    stacking: Stacking
    cap_left: int | None
    budget_left: int | None
    budgeted: bool
