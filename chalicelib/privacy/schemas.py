"""HTTP bodies of data requests: the member's export document and the erasure record."""

from __future__ import annotations

from uuid import UUID

from pydantic import ConfigDict

from ..platform.schemas import Out, UtcTimestamp
from ..points.models import LedgerType, Tier
from .models import Erasure


class ExportAddress(Out):
    street: str
    city: str
    state: str
    zip_code: str


class ExportMember(Out):
    id: UUID
    email: str
    first_name: str
    last_name: str
    phone: str
    address: ExportAddress
    created_at: UtcTimestamp
    signed_in: bool
    linked_at: UtcTimestamp | None


class ExportPoints(Out):
    balance: int
    lifetime_earned: int
    tier: Tier


class ExportLot(Out):
    id: UUID
    ledger_entry_id: UUID
    points_earned: int
    points_remaining: int
    earned_at: UtcTimestamp
    expires_at: UtcTimestamp


class ExportLedgerEntry(Out):
    id: UUID
    entry_type: LedgerType
    points: int
    description: str
    order_id: UUID | None
    created_at: UtcTimestamp


class ExportOrderItem(Out):
    item_id: UUID
    name: str
    quantity: int
    unit_points_price: int


class ExportStatusChange(Out):
    status: str
    at: UtcTimestamp


class ExportOrder(Out):
    id: UUID
    status: str
    source: str
    total_points: int
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    items: list[ExportOrderItem]
    history: list[ExportStatusChange]


class ExportReservation(Out):
    id: UUID
    item_id: UUID
    quantity: int
    points: int
    status: str
    order_id: UUID | None
    expires_at: UtcTimestamp
    created_at: UtcTimestamp


class ExportPurchase(Out):
    id: UUID
    partner_id: UUID
    partner_name: str
    external_id: str
    amount_usd: str  # exact decimal, as a string
    points: int
    tier: Tier
    store_id: str | None
    occurred_at: UtcTimestamp | None
    created_at: UtcTimestamp


class ExportPurchaseCredit(Out):
    id: UUID
    purchase_id: UUID
    entry_type: str
    promotion_id: UUID | None
    points: int
    points_cancelled: int
    status: str
    vests_at: UtcTimestamp | None
    created_at: UtcTimestamp


class ExportReturn(Out):
    id: UUID
    purchase_id: UUID
    external_id: str
    return_id: str
    amount_usd: str  # exact decimal, as a string
    points_reversed: int
    points_uncollected: int
    created_at: UtcTimestamp


class ExportImport(Out):
    external_member_id: str
    imported_at: UtcTimestamp


class MemberExport(Out):
    """Everything Xanadu holds about one member. A section added in privacy/export_repository.py appears
    under its own key even before it is typed here (extra keys are allowed)."""

    model_config = ConfigDict(from_attributes=True, defer_build=True, extra="allow")

    exported_at: UtcTimestamp
    member: ExportMember
    points: ExportPoints
    lots: list[ExportLot]
    ledger: list[ExportLedgerEntry]
    orders: list[ExportOrder]
    reservations: list[ExportReservation]
    partner_purchases: list[ExportPurchase]
    purchase_credits: list[ExportPurchaseCredit]
    returns: list[ExportReturn]
    imports: list[ExportImport]


class ErasureOut(Out):
    customer_id: UUID
    erased_at: UtcTimestamp
    points_forfeited: int
    pending_forfeited: int
    forfeit_entry_id: UUID | None
    orders_cancelled: int
    reservations_released: int
    identity_deleted: bool

    @classmethod
    def of(cls, erasure: Erasure) -> ErasureOut:
        return cls(
            customer_id=erasure.member_id,
            erased_at=erasure.erased_at,
            points_forfeited=erasure.points_forfeited,
            pending_forfeited=erasure.pending_forfeited,
            forfeit_entry_id=erasure.forfeit_entry_id,
            orders_cancelled=erasure.orders_cancelled,
            reservations_released=erasure.reservations_released,
            identity_deleted=erasure.identity_deleted,
        )


class ErasureEnvelope(Out):
    erasure: ErasureOut
