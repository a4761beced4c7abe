"""Orders from the member's and the partners' side: place, read, cancel, packed, delivered."""
from __future__ import annotations

from uuid import UUID

from ..db import Database, Tx
from ..errors import NotFound
from ..models import Order, OrderStatus
from ..order_models import OrderItemIn
from ..repositories import orders, products
from .lifecycle import Action, transition
from .ordering import place_order
from .relay import OutboxRelay


class OrderService:
    def __init__(self, db: Database, relay: OutboxRelay):
        self._db = db
        self._relay = relay

    def place(self, tx: Tx, member_id: UUID, items: list[OrderItemIn]) -> Order:
        """In the caller's transaction (the Idempotency-Key's): price the items, then place_order.

        Unknown or inactive items are 404; OutOfStock / InsufficientPoints roll everything back.
        """
        lines = []
        for index, item in enumerate(items):
            product = products.get_active(tx, item.item_id)
            if product is None:
                raise NotFound(f"Unknown item {item.item_id}.", code="ITEM_NOT_FOUND",
                               details=[{"field": f"items.{index}.item_id", "message": "unknown item"}])
            lines.append(orders.NewLine(product.id, product.name, product.description, product.image_url,
                                        item.quantity, product.points_price))
        placed = place_order(tx, member_id, lines, "ORDER")
        order = orders.get(tx, placed.order_id)
        assert order is not None
        return order

    def relay_events_now(self) -> None:
        """After the caller's transaction committed: relay its events now (best effort)."""
        self._relay.kick()

    def get(self, member_id: UUID, order_id: UUID) -> Order:
        """Someone else's order is indistinguishable from a missing one: 404 either way."""
        with self._db.reader() as tx:
            order = orders.get(tx, order_id, member_id)
        if order is None:
            raise NotFound("Unknown order.", code="ORDER_NOT_FOUND")
        return order

    def list(self, member_id: UUID, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
        with self._db.reader() as tx:
            return orders.list_for_member(tx, member_id, limit, cursor)

    def list_all(self, status: OrderStatus | None, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
        with self._db.reader() as tx:
            return orders.list_by_status(tx, status, limit, cursor)

    def cancel(self, member_id: UUID, order_id: UUID) -> Order:
        """The member's cancel: refund and restock; INVALID_TRANSITION once packed; repeating is a no-op."""
        return self._move(order_id, Action.CANCEL, member_id=member_id, reason="cancelled by the member")

    def advance(self, order_id: UUID, action: Action, partner_name: str) -> Order:
        """A partner's packed/delivered callback (the route checks the partner's kind)."""
        return self._move(order_id, action, reason=f"reported by {partner_name}")

    def _move(self, order_id: UUID, action: Action, *, member_id: UUID | None = None, reason: str) -> Order:
        with self._db.transaction() as tx:
            result = transition(tx, order_id, action, member_id=member_id, reason=reason)
        if result.changed:
            self._relay.kick()
        assert result.order is not None
        return result.order
