"""Domain models and the HTTP bodies built from them (pydantic v2, also the source of /openapi.json)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StrictInt

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


class PointsSummary(Out):
    points: int
    lifetime_earned: int
    tier: Tier


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
    customer_id: UUID
    txType: Literal["ADJUST"] = "ADJUST"
    points: StrictInt = Field(..., ge=-10_000_000, le=10_000_000)
    description: str = Field(..., min_length=1, max_length=500)


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
