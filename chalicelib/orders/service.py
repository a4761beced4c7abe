"""Orders from the member's and the partners' side: place, read, cancel, packed, delivered."""

from __future__ import annotations

from uuid import UUID

from ..catalog import repository as products
from ..platform.db import Database, Tx
from ..platform.errors import NotFound
from . import repository as orders
from .lifecycle import Action, transition
from .models import LineDraft, Order, OrderStatus
from .placement import place_order


class OrderService:
    def __init__(self, db: Database):
        self._db = db

    def place(self, tx: Tx, member_id: UUID, items: list[tuple[UUID, int]]) -> Order:
        """In the caller's transaction (the Idempotency-Key's): price the (item, quantity) pairs, then
        place_order. Unknown or inactive items are 404; OutOfStock / InsufficientPoints roll back."""
        lines = []
        priced = products.active_by_id(tx, [item_id for item_id, _ in items])  # one round trip for all items
        for index, (item_id, quantity) in enumerate(items):
            product = priced.get(item_id)
            if product is None:
                raise NotFound(
                    f"Unknown item {item_id}.",
                    code="ITEM_NOT_FOUND",
                    details=[{"field": f"items.{index}.item_id", "message": "unknown item"}],
                )
            lines.append(LineDraft.of(product, quantity))
        placed = place_order(tx, member_id, lines, "ORDER")
        order = orders.get(tx, placed.order_id)
        assert order is not None
        return order

    def get(self, member_id: UUID, order_id: UUID) -> Order:
        """Someone else's order is indistinguishable from a missing one: 404 either way."""
        with self._db.reader() as tx:
            order = orders.get(tx, order_id, member_id)
        if order is None:
            raise NotFound("Unknown order.", code="ORDER_NOT_FOUND")
        return order

    def for_member(self, member_id: UUID, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
        with self._db.reader() as tx:
            return orders.list_for_member(tx, member_id, limit, cursor)

    def by_status(self, status: OrderStatus | None, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
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
        assert result.order is not None
        return result.order
