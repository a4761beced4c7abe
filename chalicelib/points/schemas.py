"""HTTP bodies of points: balance, history, adjustments, partner purchases and returns, the liability report."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StrictInt, field_validator, model_validator

from ..platform.schemas import Body, Email, Out, Text, UtcTimestamp, parse_usd, usd_schema
from ..platform.text import utc_instant
from .models import EntryDetail, EntryStatus, LedgerEntry, LedgerType, RecordedPurchase, RecordedReturn, Standing, Tier


class ExpiringPoints(Out):
    date: date  # UTC calendar day
    points: int


class PendingLot(Out):
    points: int
    vests_at: UtcTimestamp


class PointsSummary(Out):
    """GET /prod/points. `points` is the balance (the frontend reads it); the rest is additive.
    `pending`: earned, not spendable (nor in `points`) until it vests; `pending_lots` soonest first."""

    points: int
    lifetime_earned: int
    tier: Tier
    # EARN points credited in the trailing tier window (BONUS, REFUND, ADJUST do not qualify).
    qualifying_points: int = 0
    next_tier: Tier | None = None
    points_to_next_tier: int | None = None
    earn_multiplier: float = 1.0
    # Points that will expire within the next 90 days, per UTC day, soonest first.
    expiring: list[ExpiringPoints] = Field(default_factory=list)
    pending: int = 0
    pending_lots: list[PendingLot] = Field(default_factory=list)

    @classmethod
    def of(cls, standing: Standing) -> PointsSummary:
        return cls(
            points=standing.balance,
            lifetime_earned=standing.lifetime_earned,
            tier=standing.tier,
            qualifying_points=standing.qualifying_points,
            next_tier=standing.next_tier,
            points_to_next_tier=standing.points_to_next_tier,
            earn_multiplier=float(standing.earn_multiplier),
            expiring=[ExpiringPoints(date=e.date, points=e.points) for e in standing.expiring],
            pending=standing.pending,
            pending_lots=[PendingLot(points=p.points, vests_at=p.vests_at) for p in standing.pending_lots],
        )


class Transaction(Out):
    """A ledger entry as the frontend names it. `status` PENDING: a purchase credit that is not
    spendable until `vests_at`; it keeps its id when it vests and becomes an ordinary (POSTED) credit."""

    id: UUID
    customer_id: UUID
    tx_type: LedgerType
    points: int
    tx_dt: UtcTimestamp
    tx_description: str
    order_id: UUID | None = None
    status: EntryStatus = "POSTED"
    vests_at: UtcTimestamp | None = None

    @classmethod
    def of(cls, entry: LedgerEntry) -> Transaction:
        return cls(
            id=entry.id,
            customer_id=entry.member_id,
            tx_type=entry.entry_type,
            points=entry.points,
            tx_dt=entry.created_at,
            tx_description=entry.description,
            order_id=entry.order_id,
            status=entry.status,
            vests_at=entry.vests_at,
        )


class TransactionItem(Out):
    cat_item_id: UUID
    product_name: str
    description: str
    image_url: str | None
    unit_cnt: int
    unit_points_price: int


class TransactionDetail(Transaction):
    items: list[TransactionItem]

    @classmethod
    def of_detail(cls, detail: EntryDetail) -> TransactionDetail:
        base = Transaction.of(detail.entry).model_dump()
        return cls(**base, items=[TransactionItem.model_validate(i) for i in detail.items])


class TransactionList(Out):
    transactions: list[Transaction]
    next_cursor: str | None = None


class TransactionEnvelope(Out):
    transaction: TransactionDetail


class AdjustmentRequest(Body):
    """POST /prod/points/tx (admins): a signed correction; the reason (`description`) is required."""

    customer_id: UUID
    txType: Literal["ADJUST"] = "ADJUST"
    points: StrictInt = Field(..., ge=-10_000_000, le=10_000_000, json_schema_extra={"not": {"const": 0}})
    description: Text = Field(..., min_length=1, max_length=500, pattern=r"\S")

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("points must not be 0")
        return value

    @field_validator("description")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a reason is required")
        return value.strip()


class AdjustmentResult(Out):
    transaction: Transaction
    balance: int


class PurchaseRequest(Body):
    """POST /partner/purchases: one of `email` / `customer_id`; `external_id` is unique per partner."""

    NOT_NULL: ClassVar[tuple[str, ...]] = ("email", "customer_id")
    SCHEMA_EXTRA: ClassVar[dict[str, Any]] = {"oneOf": [{"required": ["email"]}, {"required": ["customer_id"]}]}

    email: Email | None = Field(default=None, min_length=3, max_length=320)
    customer_id: UUID | None = None
    external_id: Text = Field(..., min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    amount_usd: Decimal = Field(..., json_schema_extra=usd_schema)
    store_id: Text | None = Field(default=None, min_length=1, max_length=128)
    occurred_at: datetime | None = None

    @field_validator("amount_usd", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal:
        return parse_usd(value)

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        """An RFC 3339 string, as the document's `date-time` says (not a number of seconds)."""
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a date-time string like 2025-01-31T12:00:00Z")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc_instant(value)

    @model_validator(mode="after")
    def _one_member(self) -> PurchaseRequest:
        if (self.email is None) == (self.customer_id is None):
            raise ValueError("give exactly one of email or customer_id")
        return self


class PromotionPoints(Out):
    promotion_id: UUID
    name: str
    points: int


class PurchaseResult(Out):
    """201 the first time, 200 with the very same body for a repeated external_id.

    `points_earned` = `base_points` + the promotions' points. `transaction` is the base credit (None
    when the base points are 0); while the points are pending it has status PENDING and `vests_at`,
    and `balance` does not include them yet."""

    transaction: Transaction | None
    points_earned: int
    balance: int
    tier: Tier  # after this purchase
    earn_multiplier: float  # applied: the tier before this purchase
    external_id: str
    amount_usd: str  # exact decimal, as a string
    base_points: int = 0
    promotion_points: list[PromotionPoints] = Field(default_factory=list)
    vests_at: UtcTimestamp | None = None  # pending purchases: when the points become spendable

    @classmethod
    def of(cls, recorded: RecordedPurchase) -> PurchaseResult:
        row = recorded.purchase
        return cls(
            transaction=Transaction.of(recorded.entry) if recorded.entry else None,
            points_earned=row.points,
            balance=row.balance_after,
            tier=row.tier_after,
            earn_multiplier=float(row.multiplier),
            external_id=row.external_id,
            amount_usd=str(row.amount_usd),
            base_points=row.base_points,
            promotion_points=[
                PromotionPoints(promotion_id=a.promotion_id, name=a.name, points=a.points) for a in recorded.promotions
            ],
            vests_at=row.vests_at,
        )


class ReturnRequest(Body):
    """POST /partner/purchases/{external_id}/returns: the partner's own id of this return and the amount."""

    return_id: Text = Field(..., min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    amount_usd: Decimal = Field(..., json_schema_extra=usd_schema)

    @field_validator("amount_usd", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal:
        return parse_usd(value)


class ReturnOut(Out):
    id: UUID
    return_id: str
    external_id: str
    amount_usd: str  # exact decimal, as a string
    points_reversed: int  # taken back: from pending points first, then from the balance
    points_from_pending: int  # the part of points_reversed that was still pending
    points_uncollected: int  # already spent (policy within_balance): not taken back, listed as liability
    created_at: UtcTimestamp


class ReturnResult(Out):
    """201 the first time, 200 with the very same body when the same return is reported again."""

    model_config = ConfigDict(from_attributes=True, defer_build=True, serialize_by_alias=True)

    return_: ReturnOut = Field(..., alias="return")
    balance: int

    @classmethod
    def of(cls, recorded: RecordedReturn) -> ReturnResult:
        r = recorded.record
        out = ReturnOut(
            id=r.id,
            return_id=r.return_id,
            external_id=recorded.external_id,
            amount_usd=str(r.amount_usd),
            points_reversed=r.points_reversed,
            points_from_pending=r.points_from_pending,
            points_uncollected=r.points_uncollected,
            created_at=r.created_at,
        )
        return cls.model_validate({"return": out, "balance": r.balance_after})


class ExpiringWithin(Out):
    """Points that expire within N days from now (cumulative windows)."""

    days_30: int
    days_60: int
    days_90: int


class TierLiability(Out):
    tier: Tier
    members: int
    members_with_points: int
    outstanding_points: int
    lapsed_pending_points: int
    expiring_within: ExpiringWithin
    pending_points: int = 0
    uncollected_points: int = 0


class LiabilityReport(Out):
    """GET /admin/reports/liability. `lapsed_pending_points` lapsed but the expiry job has not run yet;
    `pending_points` earned but not vested (not in outstanding_points); `uncollected_points` returns
    could not take back because the members had spent them."""

    as_of: UtcTimestamp
    outstanding_points: int
    members_with_points: int
    lapsed_pending_points: int
    expiring_within: ExpiringWithin
    by_tier: list[TierLiability]
    pending_points: int = 0
    uncollected_points: int = 0
