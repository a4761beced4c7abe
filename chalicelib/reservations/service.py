"""Reservations: hold stock and points for a while, then purchase (-> an order), release or let expire.

The hold is real money movement, so it is a ledger row: a SPEND debit (FIFO lots, like any spend),
and stock is taken with the conditional decrement (products.take_priced). Ending a hold:
- purchase: the hold's debit becomes the order's payment (orders.payment_entry_id), no new charge;
- release (member) / expiry (the job): ledger.refund of that debit (the very lots) + restock.
Each is a conditional `UPDATE reservations ... WHERE status = 'HELD'`, so when a purchase races
the release job (or a member's DELETE) exactly one UPDATE matches and the other sees the winner.
"""

from __future__ import annotations

import uuid
from uuid import UUID

from ..catalog import repository as products
from ..orders import repository as orders
from ..orders.models import Order
from ..orders.placement import order_from_hold
from ..platform.config import Settings
from ..platform.db import Database, Tx
from ..platform.errors import InvalidTransition, NotFound, OutOfStock
from ..platform.logs import get_logger
from ..points import ledger_repository as ledger
from . import repository as reservations
from .models import Reservation

log = get_logger(__name__)


class ReservationService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings

    def hold(self, member_id: UUID, item_id: UUID, quantity: int) -> Reservation:
        """Take the stock, debit the points, record the hold (expires in RESERVATION_HOLD_MINUTES)."""
        with self._db.transaction() as tx:
            taken = products.take_priced(tx, item_id, quantity)  # stock taken and priced in one statement
            if taken is None:
                product = products.get_active(tx, item_id)
                if product is None:
                    raise NotFound("Unknown item.", code="ITEM_NOT_FOUND")
                raise OutOfStock(product.name)
            name, unit_points = taken
            points = unit_points * quantity
            reservation_id = uuid.uuid4()
            posting = ledger.debit(tx, member_id, "SPEND", points, f"Reservation {reservation_id}: {quantity} x {name}")
            row = reservations.insert(
                tx,
                reservation_id,
                member_id,
                item_id,
                quantity,
                points,
                posting.entry.id,
                self._settings.reservation_hold_minutes,
            )
        return row

    def purchase(self, tx: Tx, member_id: UUID, reservation_id: UUID) -> Order:
        """In the caller's transaction (the Idempotency-Key's): HELD -> PURCHASED, and its order."""
        claimed = reservations.claim_for_purchase(tx, reservation_id, member_id)
        if claimed is None:
            raise self._not_purchasable(tx, member_id, reservation_id)
        row, line = claimed
        order_id = order_from_hold(tx, member_id, [line], row.hold_entry_id)
        reservations.attach_order(tx, row.id, order_id)
        order = orders.get(tx, order_id)
        assert order is not None
        return order

    def release(self, member_id: UUID, reservation_id: UUID) -> Reservation:
        """HELD -> RELEASED with refund and restock; releasing a released/expired hold is a no-op."""
        with self._db.transaction() as tx:
            row = reservations.release(tx, reservation_id, member_id)
            if row is not None:
                _give_back(tx, [row])
                return row
            current = reservations.get(tx, reservation_id, member_id)
        if current is None:
            raise NotFound("Unknown reservation.", code="RESERVATION_NOT_FOUND")
        if current.status == "PURCHASED":
            raise InvalidTransition(
                "This reservation was purchased; cancel the order instead.",
                details=[{"status": current.status, "order_id": str(current.order_id)}],
            )
        return current

    def release_all(self, tx: Tx, member_id: UUID) -> list[Reservation]:
        """In the caller's transaction (erasure): every HELD hold of the member released, with refund
        and restock, as a member's DELETE would. Lock the holds (and their products) first to keep the
        lock order: reservation rows, products, then the member."""
        rows = reservations.release_held_for_member(tx, member_id)
        _give_back(tx, rows)
        return rows

    def expire_due(self, batch: int = 100, max_batches: int = 100) -> int:
        """Release lapsed holds, in batches that each commit; safe to run concurrently or twice."""
        total = 0
        for _ in range(max_batches):
            with self._db.transaction() as tx:
                rows = reservations.expire_due(tx, batch)
                _give_back(tx, rows)
            total += len(rows)
            if len(rows) < batch:
                break
        if total:
            log.info("reservations expired", extra={"count": total})
        return total

    @staticmethod
    def _not_purchasable(tx: Tx, member_id: UUID, reservation_id: UUID) -> Exception:
        current = reservations.get(tx, reservation_id, member_id)
        if current is None:
            return NotFound("Unknown reservation.", code="RESERVATION_NOT_FOUND")
        status = "EXPIRED" if current.status == "HELD" else current.status  # lapsed, job not there yet
        message = {
            "EXPIRED": "This reservation has expired.",
            "RELEASED": "This reservation was released.",
            "PURCHASED": "This reservation was already purchased.",
        }[status]
        return InvalidTransition(message, details=[{"status": status}])


def _give_back(tx: Tx, rows: list[Reservation]) -> None:
    """Restock (product rows in id order), then refund (member rows): the global lock order."""
    for row in sorted(rows, key=lambda r: str(r.product_id)):
        products.restock(tx, row.product_id, row.quantity)
    for row in sorted(rows, key=lambda r: (str(r.member_id), str(r.id))):
        ledger.refund(
            tx, row.hold_entry_id, f"Reservation {row.id} {'expired' if row.status == 'EXPIRED' else 'released'}"
        )
