"""Reservations: holds of stock and points for a short while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

ReservationStatus = Literal["HELD", "PURCHASED", "RELEASED", "EXPIRED"]


@dataclass(frozen=True, slots=True)
class Reservation:
    id: UUID
    member_id: UUID
    product_id: UUID
    quantity: int
    points: int
    status: ReservationStatus
    hold_entry_id: UUID
    order_id: UUID | None
    expires_at: datetime
    created_at: datetime
