"""Placing an order: the one write path shared by cart checkout, POST /prod/orders and reservations."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from ..events import outbox
from ..platform.db import Tx
from ..platform.outcomes import money_outcomes
from . import repository as orders
from .models import LineDraft, OrderSource, PlacedOrder


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
    (and the unique index on orders.payment_entry_id refuses a second order from one hold). One
    statement: `order_create` (migration 0011), the same order rows and OrderCreated as order_place.
    """
    order_id = orders.create(tx, member_id, lines, "RESERVATION", payment_entry_id=hold_entry_id)
    outbox.written(tx)
    return order_id
