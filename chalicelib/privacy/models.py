"""What erasing a member did, as recorded (member_erasures)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Erasure:
    member_id: UUID
    erased_at: datetime
    points_forfeited: int
    pending_forfeited: int  # pending purchase credits cancelled for good (they would have vested later)
    forfeit_entry_id: UUID | None
    orders_cancelled: int
    reservations_released: int
    identity_deleted: bool
