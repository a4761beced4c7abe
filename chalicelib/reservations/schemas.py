"""HTTP bodies of reservations."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field, StrictInt

from ..orders.schemas import MAX_LINE_QUANTITY
from ..platform.schemas import Body, Out, UtcTimestamp
from .models import Reservation, ReservationStatus


class ReservationCreate(Body):
    item_id: UUID
    quantity: StrictInt = Field(default=1, ge=1, le=MAX_LINE_QUANTITY)


class ReservationOut(Out):
    id: UUID
    item_id: UUID
    quantity: int
    points: int
    status: ReservationStatus
    expires_at: UtcTimestamp
    created_at: UtcTimestamp
    order_id: UUID | None = None

    @classmethod
    def of(cls, row: Reservation) -> ReservationOut:
        return cls(
            id=row.id,
            item_id=row.product_id,
            quantity=row.quantity,
            points=row.points,
            status=row.status,
            expires_at=row.expires_at,
            created_at=row.created_at,
            order_id=row.order_id,
        )


class ReservationEnvelope(Out):
    reservation: ReservationOut
