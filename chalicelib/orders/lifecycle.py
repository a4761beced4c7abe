"""The order state machine: the one table of legal transitions, and the one function that applies them.

Every status change (the SQS processor's confirm/fail, the member's cancel, the partners' packed and
delivered) goes through `transition`, inside the caller's transaction, which:
  locks the order row -> decides from TRANSITIONS -> updates the status and order_status_history
  -> restocks and refunds when the new status says so -> writes OrderStatusChanged to the outbox.

    PENDING --CONFIRM--> CONFIRMED --PACK--> PACKED --DELIVER--> DELIVERED
       |  \\--FAIL--> FAILED          |
       \\--CANCEL--> CANCELLED <------/ CANCEL (the member, until packed)

Asking for the status the order already has is a no-op (a repeated partner call, a redelivered
message); anything else not in the table is INVALID_TRANSITION.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from uuid import UUID

from ..catalog import repository as products
from ..events import outbox
from ..platform.db import Tx
from ..platform.errors import InvalidTransition, NotFound, ValidationFailed
from ..points import ledger_repository as ledger
from . import repository as orders
from .models import Order, OrderHead, OrderStatus


class Action(StrEnum):
    CONFIRM = "CONFIRM"  # the order processor, after the fulfilment partner accepted
    FAIL = "FAIL"  # the order processor, when fulfilment was refused or it gave up
    CANCEL = "CANCEL"  # the member
    PACK = "PACK"  # a WAREHOUSE partner
    DELIVER = "DELIVER"  # a DELIVERY partner


STATUSES: tuple[OrderStatus, ...] = ("PENDING", "CONFIRMED", "PACKED", "DELIVERED", "CANCELLED", "FAILED")

# current status -> action -> new status. Absent means illegal.
TRANSITIONS: dict[OrderStatus, dict[Action, OrderStatus]] = {
    "PENDING": {Action.CONFIRM: "CONFIRMED", Action.FAIL: "FAILED", Action.CANCEL: "CANCELLED"},
    "CONFIRMED": {Action.PACK: "PACKED", Action.CANCEL: "CANCELLED"},
    "PACKED": {Action.DELIVER: "DELIVERED"},
    "DELIVERED": {},
    "CANCELLED": {},
    "FAILED": {},
}
# Where each action leads, wherever it is legal: reaching it again is the idempotent no-op.
TARGET: dict[Action, OrderStatus] = {
    action: target for moves in TRANSITIONS.values() for action, target in moves.items()
}
assert all(TARGET[a] == t for moves in TRANSITIONS.values() for a, t in moves.items()), "one target per action"
# Entering these gives the member's points back and the stock back to the shelf.
REFUNDING: frozenset[OrderStatus] = frozenset({"CANCELLED", "FAILED"})
TERMINAL: frozenset[OrderStatus] = frozenset(s for s, moves in TRANSITIONS.items() if not moves)

Decision = Literal["apply", "noop", "illegal"]


def decide(current: OrderStatus, action: Action) -> Decision:
    if action in TRANSITIONS[current]:
        return "apply"
    if TARGET[action] == current:
        return "noop"
    return "illegal"


@dataclass(frozen=True)
class Transitioned:
    order: Order | None  # None when the caller asked for no read-back
    changed: bool
    previous: OrderStatus
    status: OrderStatus


_VERB = {
    Action.CONFIRM: "confirm",
    Action.FAIL: "fail",
    Action.CANCEL: "cancel",
    Action.PACK: "mark as packed",
    Action.DELIVER: "mark as delivered",
}


def transition(
    tx: Tx,
    order_id: UUID,
    action: Action,
    *,
    member_id: UUID | None = None,
    reason: str | None = None,
    read_back: bool = True,
) -> Transitioned:
    """Apply `action` to the order (only that member's, when `member_id` is given).

    Raises NotFound (unknown, or someone else's) and InvalidTransition; a repeat is a no-op.
    Lock order: the order row, then product rows in id order (restock), then the member row
    (refund): products before the member, as in placement.place_order, so the two never deadlock.
    """
    head = orders.lock(tx, order_id, member_id)
    if head is None:
        raise NotFound("Unknown order.", code="ORDER_NOT_FOUND")
    decision = decide(head.status, action)
    if decision == "illegal":
        raise InvalidTransition(
            f"Cannot {_VERB[action]} an order that is {head.status}.",
            details=[{"status": head.status, "action": action.value}],
        )
    status = TARGET[action] if decision == "apply" else head.status
    if decision == "apply":
        target = status
        at = orders.set_status(tx, order_id, target, reason)
        if target in REFUNDING:
            _give_back(tx, head, target)
        outbox.add(
            tx,
            "OrderStatusChanged",
            order_id,
            {
                "order_id": str(order_id),
                "member_id": str(head.member_id),
                "from_status": head.status,
                "to_status": target,
                "at": at.isoformat(),
                "total_points": head.total_points,
                "reason": reason,
            },
        )
    order = orders.get(tx, order_id) if read_back else None
    return Transitioned(order, decision == "apply", head.status, status)


def _give_back(tx: Tx, head: OrderHead, target: OrderStatus) -> None:
    for line in orders.stock_lines(tx, head.id):
        products.restock(tx, line.product_id, line.quantity)
    if head.payment_entry_id is not None:
        # Restores the very lots the debit drew from; a second refund of one debit is refused by
        # the ledger's unique (REFUND, external_ref) index, and the row lock above makes it unreachable.
        ledger.refund(tx, head.payment_entry_id, f"Refund: order {head.id} {target.lower()}", order_id=head.id)


def parse_status(value: str | None) -> OrderStatus | None:
    """A `?status=` filter: None when absent; an unknown status is a validation error."""
    if value is None or value == "":
        return None
    for status in STATUSES:  # exactly as the OpenAPI document lists them
        if status == value:
            return status
    raise ValidationFailed(
        f"status must be one of {', '.join(STATUSES)}.", details=[{"field": "status", "message": "unknown status"}]
    )
