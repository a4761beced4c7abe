"""Order routes: members' orders, partners' packed/delivered callbacks, admins' order list and dead letters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ..members.identity import current_member_id
from ..partners.identity import current_partner
from ..platform import http
from ..platform.routing import Access, Routes, body, query, respond_once

if TYPE_CHECKING:
    from ..platform.db import Tx
    from .dead_letters import DeadLetterService
    from .service import OrderService

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it

_ORDER_ID = {"order_id": "$response.body#/order/id"}
# What an order response leads to (the OpenAPI document's links; stateful fuzzing follows them).
ORDER_LINKS = {
    "GetOrder": {"operationId": "get_prod_orders_order_id", "parameters": _ORDER_ID},
    "CancelOrder": {"operationId": "post_prod_orders_order_id_cancel", "parameters": _ORDER_ID},
    "PackOrder": {"operationId": "post_partner_orders_order_id_packed", "parameters": _ORDER_ID},
    "DeliverOrder": {"operationId": "post_partner_orders_order_id_delivered", "parameters": _ORDER_ID},
}


def orders() -> OrderService:
    from ..container import services

    return services().orders


def dead_letters() -> DeadLetterService:
    from ..container import services

    return services().dead_letters


@routes.post(
    "/prod/orders",
    access=Access.MEMBER,
    request="OrderCreate",
    idempotent=True,
    responses={201: "OrderEnvelope", 400: None, 404: None, 409: None},
    links={201: ORDER_LINKS},
)
def create_order() -> Response:
    """Order catalog items with points (Idempotency-Key required); confirmed asynchronously."""
    wanted = body(schemas.OrderCreate)
    me = current_member_id()
    items = [(item.item_id, item.quantity) for item in wanted.items]

    def place(tx: Tx) -> tuple[int, object]:
        order = orders().place(tx, me, items)
        return 201, schemas.OrderEnvelope.model_validate({"order": order}).model_dump(mode="json")

    return respond_once(f"orders:{me}", wanted, place)


@routes.get("/prod/orders", access=Access.MEMBER, responses={200: "OrderList"}, query=("limit", "cursor"))
def list_orders() -> Response:
    """The member's orders with their lines and status history, newest first, paged."""
    found, next_cursor = orders().for_member(current_member_id(), http.parse_limit(query()), query().get("cursor"))
    return http.json_response(schemas.OrderList.model_validate({"orders": found, "next_cursor": next_cursor}))


@routes.get("/prod/orders/{order_id}", access=Access.MEMBER, responses={200: "OrderEnvelope", 404: None})
def get_order(order_id: str) -> Response:
    """One of the member's orders; someone else's is 404."""
    order = orders().get(current_member_id(), http.parse_uuid(order_id, "order"))
    return http.json_response(schemas.OrderEnvelope.model_validate({"order": order}))


@routes.post(
    "/prod/orders/{order_id}/cancel",
    access=Access.MEMBER,
    responses={200: "OrderEnvelope", 404: None, 409: None},
)
def cancel_order(order_id: str) -> Response:
    """Cancel before packing: points refunded, stock restored; 409 INVALID_TRANSITION once packed."""
    order = orders().cancel(current_member_id(), http.parse_uuid(order_id, "order"))
    return http.json_response(schemas.OrderEnvelope.model_validate({"order": order}))


@routes.post(
    "/partner/orders/{order_id}/packed",
    access=Access.PARTNER,
    partner="WAREHOUSE",
    responses={200: "OrderEnvelope", 404: None, 409: None},
)
def partner_order_packed(order_id: str) -> Response:
    """A warehouse partner reports the order packed; repeating it is a no-op."""
    from .lifecycle import Action

    partner = current_partner()
    order = orders().advance(http.parse_uuid(order_id, "order"), Action.PACK, partner.name)
    return http.json_response(schemas.OrderEnvelope.model_validate({"order": order}))


@routes.post(
    "/partner/orders/{order_id}/delivered",
    access=Access.PARTNER,
    partner="DELIVERY",
    responses={200: "OrderEnvelope", 404: None, 409: None},
)
def partner_order_delivered(order_id: str) -> Response:
    """A delivery partner reports the order delivered; repeating it is a no-op."""
    from .lifecycle import Action

    partner = current_partner()
    order = orders().advance(http.parse_uuid(order_id, "order"), Action.DELIVER, partner.name)
    return http.json_response(schemas.OrderEnvelope.model_validate({"order": order}))


@routes.get("/admin/orders", access=Access.ADMIN, responses={200: "OrderList"}, query=("status", "limit", "cursor"))
def admin_orders() -> Response:
    """All orders, newest first, optionally of one status."""
    from .lifecycle import parse_status

    status = parse_status(query().get("status"))
    found, next_cursor = orders().by_status(status, http.parse_limit(query()), query().get("cursor"))
    return http.json_response(schemas.OrderList.model_validate({"orders": found, "next_cursor": next_cursor}))


@routes.get("/admin/dead-letters", access=Access.ADMIN, responses={200: "DeadLetterList"})
def admin_dead_letters() -> Response:
    """Messages order-events gave up on (up to 100), without consuming them."""
    return http.json_response(schemas.DeadLetterList.model_validate({"dead_letters": dead_letters().peek()}))


@routes.post(
    "/admin/dead-letters/redrive",
    access=Access.ADMIN,
    request="RedriveRequest",
    responses={200: "RedriveResult"},
)
def admin_redrive_dead_letters() -> Response:
    """Move dead letters back to order-events (body optional: {"limit": n}, default 100)."""
    wanted = body(schemas.RedriveRequest)
    return http.json_response(schemas.RedriveResult(redriven=dead_letters().redrive(wanted.limit)))
