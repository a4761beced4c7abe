"""Reservation routes: hold a reward for a while, then purchase or release it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ..members.identity import current_member_id
from ..orders.routes import ORDER_LINKS
from ..platform import http
from ..platform.routing import Access, Routes, body, respond_once

if TYPE_CHECKING:
    from ..platform.db import Tx
    from .service import ReservationService

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it


def reservations() -> ReservationService:
    from ..container import services

    return services().reservations


@routes.post(
    "/prod/reservations",
    access=Access.MEMBER,
    request="ReservationCreate",
    responses={201: "ReservationEnvelope", 400: None, 404: None, 409: None},
    links={
        201: {
            "PurchaseReservation": {
                "operationId": "post_prod_reservations_reservation_id_purchase",
                "parameters": {"reservation_id": "$response.body#/reservation/id"},
            },
            "ReleaseReservation": {
                "operationId": "delete_prod_reservations_reservation_id",
                "parameters": {"reservation_id": "$response.body#/reservation/id"},
            },
        }
    },
)
def create_reservation() -> Response:
    """Hold stock and points for 15 minutes."""
    wanted = body(schemas.ReservationCreate)
    held = reservations().hold(current_member_id(), wanted.item_id, wanted.quantity)
    return http.json_response(schemas.ReservationEnvelope(reservation=schemas.ReservationOut.of(held)), 201)


@routes.post(
    "/prod/reservations/{reservation_id}/purchase",
    access=Access.MEMBER,
    idempotent=True,
    responses={201: "orders.schemas:OrderEnvelope", 400: None, 404: None, 409: None},
    links={201: ORDER_LINKS},
)
def purchase_reservation(reservation_id: str) -> Response:
    """Turn a live hold into an order, without charging again (Idempotency-Key required)."""
    held_id = http.parse_uuid(reservation_id, "reservation")
    me = current_member_id()

    def purchase(tx: Tx) -> tuple[int, object]:
        order = reservations().purchase(tx, me, held_id)
        from ..orders.schemas import OrderEnvelope

        return 201, OrderEnvelope.model_validate({"order": order}).model_dump(mode="json")

    return respond_once(f"orders:{me}", {}, purchase)


@routes.delete(
    "/prod/reservations/{reservation_id}",
    access=Access.MEMBER,
    responses={200: "ReservationEnvelope", 404: None, 409: None},
)
def release_reservation(reservation_id: str) -> Response:
    """Release a hold: points refunded, stock restored; releasing again is a no-op."""
    released = reservations().release(current_member_id(), http.parse_uuid(reservation_id, "reservation"))
    return http.json_response(schemas.ReservationEnvelope(reservation=schemas.ReservationOut.of(released)))
