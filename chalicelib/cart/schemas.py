"""HTTP bodies of the cart and checkout (the frontend's contract)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field, StrictInt

from ..platform.schemas import Body, Out


class CartLine(Out):
    item_id: UUID
    quantity: int
    name: str
    description: str
    points_price: int
    image_url: str | None = None


class Cart(Out):
    items: list[CartLine]


class AddToCart(Body):
    id: UUID
    quantity: StrictInt = Field(default=1, ge=1, le=100)


class RemoveFromCart(Body):
    id: UUID | None = None


class CartItemAdded(Out):
    customer_id: UUID
    item_id: UUID
    quantity: int


class AddToCartResult(Out):
    success: Literal[True] = True
    item: CartItemAdded


class CheckoutSuccess(Out):
    success: Literal[True] = True
    txId: UUID
    orderId: UUID
    totalPoints: int
    previousBalance: int


class CheckoutFailure(Out):
    success: Literal[False] = False
    error: str
