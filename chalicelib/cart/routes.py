"""Cart and checkout routes (the frontend's contract: checkout answers 200 with success true/false)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ..members.identity import current_member_id
from ..platform import http
from ..platform.errors import CartEmpty, InsufficientPoints, OutOfStock
from ..platform.routing import Access, Routes, body

if TYPE_CHECKING:
    from .checkout import CheckoutService
    from .service import CartService

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it


def cart() -> CartService:
    from ..container import services

    return services().cart


def checkout_service() -> CheckoutService:
    from ..container import services

    return services().checkout


@routes.get("/prod/cart", access=Access.MEMBER, responses={200: "Cart"})
def view_cart() -> Response:
    """The server-side cart, priced from the catalog."""
    return http.json_response(schemas.Cart.model_validate({"items": cart().lines(current_member_id())}))


@routes.post(
    "/prod/cart/item",
    access=Access.MEMBER,
    request="AddToCart",
    responses={201: "AddToCartResult", 400: None, 404: None},
)
def add_to_cart() -> Response:
    """Add `quantity` (default 1) of a reward to the cart line."""
    wanted = body(schemas.AddToCart)
    me = current_member_id()
    quantity = cart().add(me, wanted.id, wanted.quantity)
    result = schemas.AddToCartResult(item=schemas.CartItemAdded(customer_id=me, item_id=wanted.id, quantity=quantity))
    return http.json_response(result, 201)


@routes.delete("/prod/cart/item/{item_id}", access=Access.MEMBER, responses={204: None})
def remove_cart_line(item_id: str) -> Response:
    """Remove one line (removing an absent line is not an error)."""
    cart().remove(current_member_id(), http.parse_uuid(item_id, "cart item"))
    return http.empty_response()


@routes.delete("/prod/cart/item", access=Access.MEMBER, request="RemoveFromCart", responses={204: None})
def remove_cart_item_or_all() -> Response:
    """With body {"id"}: remove that line; without a body: empty the cart."""
    wanted = body(schemas.RemoveFromCart)
    if wanted.id is None:
        cart().clear(current_member_id())
    else:
        cart().remove(current_member_id(), wanted.id)
    return http.empty_response()


@routes.delete("/prod/cart", access=Access.MEMBER, responses={204: None})
def clear_cart() -> Response:
    """Empty the cart."""
    cart().clear(current_member_id())
    return http.empty_response()


@routes.post(
    "/prod/cart/checkout",
    access=Access.MEMBER,
    responses={200: ("CheckoutSuccess", "CheckoutFailure")},
    links={
        200: {
            "GetOrder": {
                "operationId": "get_prod_orders_order_id",
                "parameters": {"order_id": "$response.body#/orderId"},
            },
            "GetTransaction": {
                "operationId": "get_prod_points_tx_tx_id",
                "parameters": {"tx_id": "$response.body#/txId"},
            },
        }
    },
)
def checkout() -> Response:
    """Spend points on the cart. Business outcomes are HTTP 200 with success true/false (frontend contract)."""
    try:
        placed = checkout_service().checkout(current_member_id())
    except (InsufficientPoints, OutOfStock, CartEmpty) as outcome:
        return http.json_response(schemas.CheckoutFailure(error=outcome.message))
    return http.json_response(
        schemas.CheckoutSuccess(
            txId=placed.ledger_entry_id,
            orderId=placed.order_id,
            totalPoints=placed.total_points,
            previousBalance=placed.previous_balance,
        )
    )
