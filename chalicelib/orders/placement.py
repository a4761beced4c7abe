"""Placing an order: the one write path shared by cart checkout, POST /prod/orders and reservations."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from ..events import outbox
from ..platform.db import Tx
from ..platform.outcomes import money_outcomes
from . import repository as orders
from .models import LineDraft, OrderSource, PlacedOrder, order_total


def place_order(tx: Tx, member_id: UUID, lines: Sequence[LineDraft], source: OrderSource) -> PlacedOrder:
    """Stock taken, order created PENDING, points spent (FIFO lots), OrderCreated in the outbox.

    One statement: the SQL function `order_place` (migration 0011), which spends through `ledger_debit`
    like every other debit. Raises OutOfStock / InsufficientPoints; the caller's transaction then rolls
    everything back. Stock rows are locked in product-id order, then the member row: one global lock order.
    """
    with money_outcomes():
        placed = orders.place(tx, member_id, lines, source)
    outbox.written(tx)
    return placed


def order_from_hold(tx: Tx, member_id: UUID, lines: Sequence[LineDraft], hold_entry_id: UUID) -> UUID:
    """An order for stock and points already held (a reservation): no stock taken, nothing charged again.

    The hold's debit becomes the order's payment, so cancelling the order refunds exactly it
    (and the unique index on orders.payment_entry_id refuses a second order from one hold).
    """
    order_id = orders.create(tx, member_id, lines, "RESERVATION", payment_entry_id=hold_entry_id)
    announce_created(tx, order_id, member_id, lines)
    return order_id


def announce_created(tx: Tx, order_id: UUID, member_id: UUID, lines: Sequence[LineDraft]) -> None:
    outbox.add(
        tx,
        "OrderCreated",
        order_id,
        {
            "order_id": str(order_id),
            "member_id": str(member_id),
            "total_points": order_total(lines),
            "items": [{"item_id": str(line.product_id), "quantity": line.quantity} for line in lines],
        },
    )
