"""Placing an order: the one write path shared by cart checkout, POST /prod/orders and reservations."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ..db import Tx
from ..errors import OutOfStock
from ..repositories import ledger, orders, outbox, products


@dataclass(frozen=True)
class PlacedOrder:
    order_id: UUID
    ledger_entry_id: UUID
    total_points: int
    previous_balance: int
    balance: int


def place_order(tx: Tx, member_id: UUID, lines: list[orders.NewLine], source: str) -> PlacedOrder:
    """Stock taken, order created PENDING, points spent (FIFO lots), OrderCreated in the outbox.

    Raises OutOfStock / InsufficientPoints; the caller's transaction then rolls everything back.
    Stock rows are locked in product-id order, then the member row: one global lock order.
    """
    lines = sorted(lines, key=lambda l: str(l.product_id))
    for line in lines:
        if not products.take_stock(tx, line.product_id, line.quantity):
            raise OutOfStock(line.name)
    order_id = orders.create(tx, member_id, lines, source)
    total = sum(l.quantity * l.unit_points_price for l in lines)
    posting = ledger.debit(tx, member_id, "SPEND", total, f"Order {order_id}", order_id=order_id)
    orders.attach_payment(tx, order_id, posting.entry.id)
    announce_created(tx, order_id, member_id, total, lines)
    return PlacedOrder(order_id, posting.entry.id, total, posting.previous_balance, posting.balance)


def order_from_hold(tx: Tx, member_id: UUID, lines: list[orders.NewLine], hold_entry_id: UUID) -> UUID:
    """An order for stock and points already held (a reservation): no stock taken, nothing charged again.

    The hold's debit becomes the order's payment, so cancelling the order refunds exactly it
    (and the unique index on orders.payment_entry_id refuses a second order from one hold).
    """
    order_id = orders.create(tx, member_id, lines, "RESERVATION", payment_entry_id=hold_entry_id)
    total = sum(l.quantity * l.unit_points_price for l in lines)
    announce_created(tx, order_id, member_id, total, lines)
    return order_id


def announce_created(tx: Tx, order_id: UUID, member_id: UUID, total: int, lines: list[orders.NewLine]) -> None:
    outbox.add(tx, "OrderCreated", order_id, {
        "order_id": str(order_id),
        "member_id": str(member_id),
        "total_points": total,
        "items": [{"item_id": str(l.product_id), "quantity": l.quantity} for l in lines],
    })
