"""Domain models and the HTTP bodies built from them (pydantic v2, also the source of /openapi.json)."""
from __future__ import annotations

import math
import re
from datetime import date as date_type, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

# ISO-8601 UTC with a trailing Z, as the frontend contract says.
UtcTimestamp = Annotated[
    datetime,
    PlainSerializer(
        lambda v: v.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        return_type=str,
        when_used="json",
    ),
]

LedgerType = Literal["BONUS", "EARN", "SPEND", "REFUND", "EXPIRE", "ADJUST"]
OrderStatus = Literal["PENDING", "CONFIRMED", "PACKED", "DELIVERED", "CANCELLED", "FAILED"]
Tier = Literal["BRONZE", "SILVER", "GOLD"]


class Body(BaseModel):
    """Request bodies: unknown fields are refused so typos surface as 400s, not silent defaults."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- catalog ---------------------------------------------------------------------------------
class Product(Out):
    id: UUID
    name: str
    description: str
    category: str
    points_price: int
    usd_price: float | None = None
    sku: str
    rating: float | None = None
    image_url: str | None = None


class ProductAdmin(Product):
    stock: int
    active: bool


class ProductList(Out):
    products: list[Product]


class ProductEnvelope(Out):
    product: Product


class CategoryList(Out):
    categories: list[str]


# -- members ---------------------------------------------------------------------------------
class Member(Out):
    id: UUID
    email: str
    first_name: str
    last_name: str
    phone: str
    street: str
    city: str
    state: str
    zip_code: str
    balance: int
    lifetime_earned: int
    tier: Tier
    created_at: UtcTimestamp


class Address(Out):
    street: str
    city: str
    state: str
    zipCode: str


class CustomerProfile(Out):
    """The one camelCase body: the frontend reads it this way."""

    id: UUID
    firstName: str
    lastName: str
    email: str
    phone: str
    address: Address

    @classmethod
    def of(cls, member: Member) -> "CustomerProfile":
        return cls(
            id=member.id,
            firstName=member.first_name,
            lastName=member.last_name,
            email=member.email,
            phone=member.phone,
            address=Address(street=member.street, city=member.city, state=member.state, zipCode=member.zip_code),
        )


class ExpiringPoints(Out):
    date: date_type  # UTC calendar day
    points: int


class PointsSummary(Out):
    """GET /prod/points. `points` is the balance (the frontend reads it); the rest is additive."""

    points: int
    lifetime_earned: int
    tier: Tier
    # EARN points credited in the trailing tier window (BONUS, REFUND, ADJUST do not qualify).
    qualifying_points: int = 0
    next_tier: Tier | None = None
    points_to_next_tier: int | None = None
    earn_multiplier: float = 1.0
    # Points that will expire within the next 90 days, per UTC day, soonest first.
    expiring: list[ExpiringPoints] = []


# -- ledger ----------------------------------------------------------------------------------
class LedgerEntry(Out):
    id: UUID
    member_id: UUID
    entry_type: LedgerType
    points: int
    description: str
    order_id: UUID | None = None
    created_at: UtcTimestamp


class Transaction(Out):
    """A ledger entry as the frontend names it."""

    id: UUID
    customer_id: UUID
    tx_type: LedgerType
    points: int
    tx_dt: UtcTimestamp
    tx_description: str
    order_id: UUID | None = None

    @classmethod
    def of(cls, entry: LedgerEntry) -> "Transaction":
        return cls(
            id=entry.id,
            customer_id=entry.member_id,
            tx_type=entry.entry_type,
            points=entry.points,
            tx_dt=entry.created_at,
            tx_description=entry.description,
            order_id=entry.order_id,
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


class TransactionList(Out):
    transactions: list[Transaction]
    next_cursor: str | None = None


class TransactionEnvelope(Out):
    transaction: TransactionDetail


class AdjustmentRequest(Body):
    """POST /prod/points/tx (admins): a signed correction; the reason (`description`) is required."""

    customer_id: UUID
    txType: Literal["ADJUST"] = "ADJUST"
    points: StrictInt = Field(..., ge=-10_000_000, le=10_000_000)
    description: str = Field(..., min_length=1, max_length=500)

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
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value.strip()


# -- cart and checkout -----------------------------------------------------------------------
class CartLine(Out):
    item_id: UUID
    quantity: int
    name: str
    description: str
    points_price: int
    image_url: str | None = None


class Cart(Out):
    items: list[CartLine]


class AddToCart(Body):
    id: UUID
    quantity: StrictInt = Field(default=1, ge=1, le=100)


class RemoveFromCart(Body):
    id: UUID | None = None


class CartItemAdded(Out):
    customer_id: UUID
    item_id: UUID
    quantity: int


class AddToCartResult(Out):
    success: Literal[True] = True
    item: CartItemAdded


class CheckoutSuccess(Out):
    success: Literal[True] = True
    txId: UUID
    orderId: UUID
    totalPoints: int
    previousBalance: int


class CheckoutFailure(Out):
    success: Literal[False] = False
    error: str


# -- orders ----------------------------------------------------------------------------------
class OrderLine(Out):
    item_id: UUID
    name: str
    quantity: int
    unit_points_price: int


class StatusChange(Out):
    status: OrderStatus
    at: UtcTimestamp


class Order(Out):
    id: UUID
    member_id: UUID
    status: OrderStatus
    items: list[OrderLine]
    total_points: int
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    history: list[StatusChange]


# -- operations ------------------------------------------------------------------------------
class Health(Out):
    status: Literal["ok", "degraded"]
    database: Literal["up", "down"]
    migrations: Literal["current", "pending", "unknown"]
    pending_migrations: list[str] = []
    configuration: Literal["ok", "invalid"] = "ok"
    configuration_problems: list[str] = []


class ErrorBody(Out):
    error: str
    code: str
    details: list[dict] = []


# -- partners --------------------------------------------------------------------------------
class PartnerCreate(Body):
    name: str = Field(..., min_length=1, max_length=200)
    kind: Literal["STORE", "WAREHOUSE", "DELIVERY"]


class PartnerOut(Out):
    id: UUID
    name: str
    kind: str
    key_prefix: str
    created_at: UtcTimestamp
    revoked_at: UtcTimestamp | None = None


class PartnerEnvelope(Out):
    partner: PartnerOut


class PartnerIssued(Out):
    partner: PartnerOut
    api_key: str


class PartnerList(Out):
    partners: list[PartnerOut]


# -- points and admin ------------------------------------------------------------------------
_CENT = Decimal("0.01")
# Hard ceiling of the column (numeric(12,2)); the configurable business maximum is checked by the service.
_AMOUNT_CEILING = Decimal("9999999999.99")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL: refuse it as a 400 instead of failing at the database."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


def _money(value: object) -> Decimal:
    """JSON numbers or numeric strings with at most 2 decimals; never a bool, NaN or infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError("must be a number of US dollars, like 19.99")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        value = repr(value)  # the shortest decimal that round-trips: what the client wrote
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a number of US dollars, like 19.99") from None
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount <= 0:
        raise ValueError("must be greater than 0")
    if amount > _AMOUNT_CEILING:
        raise ValueError(f"must be at most {_AMOUNT_CEILING}")
    if amount != amount.quantize(_CENT):
        raise ValueError("must have at most 2 decimal places")
    return amount.quantize(_CENT)


def _amount_schema(schema: dict) -> None:
    schema.pop("anyOf", None)
    schema.update(type="number", exclusiveMinimum=0, multipleOf=0.01,
                  description="US dollars, at most 2 decimals (a JSON number or a numeric string)")


class PurchaseRequest(Body):
    """POST /partner/purchases: one of `email` / `customer_id`; `external_id` is unique per partner."""

    email: Text | None = Field(default=None, min_length=3, max_length=320)
    customer_id: UUID | None = None
    external_id: Text = Field(..., min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    amount_usd: Decimal = Field(..., json_schema_extra=lambda schema: _amount_schema(schema))
    store_id: Text | None = Field(default=None, min_length=1, max_length=128)
    occurred_at: datetime | None = None

    @field_validator("amount_usd", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal:
        return _money(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not _EMAIL.match(value):
            raise ValueError("is not an email address")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone (e.g. 2025-01-31T12:00:00Z)")
        return value

    @model_validator(mode="after")
    def _one_member(self) -> "PurchaseRequest":
        if (self.email is None) == (self.customer_id is None):
            raise ValueError("give exactly one of email or customer_id")
        return self


class PurchaseResult(Out):
    """201 the first time, 200 with the very same body for a repeated external_id."""

    transaction: Transaction | None  # None when the purchase earned 0 points (no ledger row)
    points_earned: int
    balance: int
    tier: Tier  # after this purchase
    earn_multiplier: float  # applied: the tier before this purchase
    external_id: str
    amount_usd: str  # exact decimal, as a string


class AddressIn(Body):
    street: Text = Field(default="", max_length=200)
    city: Text = Field(default="", max_length=100)
    state: Text = Field(default="", max_length=100)
    zip_code: Text = Field(default="", max_length=20)


class CustomerCreate(Body):
    """POST /customers (admins): in-store sign-up, before the member's first sign-in."""

    email: Text = Field(..., min_length=3, max_length=320)
    first_name: Text = Field(..., min_length=1, max_length=100)
    last_name: Text = Field(..., min_length=1, max_length=100)
    phone: Text = Field(default="", max_length=40)
    address: AddressIn | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        if not _EMAIL.match(value):
            raise ValueError("is not an email address")
        return value


class CustomerAddress(Out):
    street: str
    city: str
    state: str
    zip_code: str


class CustomerOut(Out):
    id: UUID
    email: str
    first_name: str
    last_name: str
    phone: str
    address: CustomerAddress
    balance: int
    lifetime_earned: int
    tier: Tier
    created_at: UtcTimestamp

    @classmethod
    def of(cls, member: Member) -> "CustomerOut":
        return cls(
            id=member.id, email=member.email, first_name=member.first_name, last_name=member.last_name,
            phone=member.phone,
            address=CustomerAddress(street=member.street, city=member.city, state=member.state, zip_code=member.zip_code),
            balance=member.balance, lifetime_earned=member.lifetime_earned, tier=member.tier, created_at=member.created_at,
        )


class CustomerDetail(CustomerOut):
    qualifying_points: int
    next_tier: Tier | None = None
    points_to_next_tier: int | None = None
    expiring: list[ExpiringPoints] = []


class CustomerEnvelope(Out):
    customer: CustomerDetail


class CustomerList(Out):
    customers: list[CustomerOut]
    next_cursor: str | None = None


class AdjustmentResult(Out):
    transaction: Transaction
    balance: int


class ProductCreate(Body):
    sku: Text = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: Text = Field(..., min_length=1, max_length=200)
    description: Text = Field(default="", max_length=2000)
    category: Text = Field(..., min_length=1, max_length=100)
    points_price: StrictInt = Field(..., ge=1, le=10_000_000)
    usd_price: float | None = Field(default=None, ge=0, le=1_000_000)
    rating: float | None = Field(default=None, ge=0, le=5)
    image_url: Text | None = Field(default=None, max_length=2000)
    stock: StrictInt = Field(default=0, ge=0, le=10_000_000)
    active: StrictBool = True


class ProductUpdate(Body):
    """PUT /admin/products/{id}: the fields to change (at least one). Stock has its own route."""

    sku: Text | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=2000)
    category: Text | None = Field(default=None, min_length=1, max_length=100)
    points_price: StrictInt | None = Field(default=None, ge=1, le=10_000_000)
    usd_price: float | None = Field(default=None, ge=0, le=1_000_000)
    rating: float | None = Field(default=None, ge=0, le=5)
    image_url: Text | None = Field(default=None, max_length=2000)
    active: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> "ProductUpdate":
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for required in ("sku", "name", "category", "points_price", "active", "description"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be null")
        return self


class StockUpdate(Body):
    """PUT /admin/products/{id}/stock: an absolute level {"stock": n} or a change {"delta": n}."""

    stock: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    delta: StrictInt | None = Field(default=None, ge=-10_000_000, le=10_000_000)

    @model_validator(mode="after")
    def _one(self) -> "StockUpdate":
        if (self.stock is None) == (self.delta is None):
            raise ValueError("give exactly one of stock or delta")
        return self


class AdminProductEnvelope(Out):
    product: ProductAdmin


class AdminProductList(Out):
    products: list[ProductAdmin]
    next_cursor: str | None = None


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


class LiabilityReport(Out):
    """GET /admin/reports/liability. `lapsed_pending_points` lapsed but the expiry job has not run yet."""

    as_of: UtcTimestamp
    outstanding_points: int
    members_with_points: int
    lapsed_pending_points: int
    expiring_within: ExpiringWithin
    by_tier: list[TierLiability]
