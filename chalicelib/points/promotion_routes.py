"""Admin routes of promotions: /admin/promotions (a Blueprint of the points package)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ..platform import http
from ..platform.routing import Access, Routes, body, principal, query

if TYPE_CHECKING:
    from .promotions import PromotionService

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import promotion_schemas as schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it


def promotions() -> PromotionService:
    from ..container import services

    return services().promotions


@routes.post(
    "/admin/promotions",
    access=Access.ADMIN,
    request="PromotionRequest",
    responses={201: "PromotionEnvelope", 400: None},
)
def admin_create_promotion() -> Response:
    """Create a promotion (MULTIPLIER or BONUS; conditions, per-member cap, budget, stacking)."""
    created = promotions().create(body(schemas.PromotionRequest).terms(), principal().email or principal().subject)
    return http.json_response(schemas.PromotionEnvelope(promotion=schemas.PromotionOut.of(created)), 201)


@routes.get(
    "/admin/promotions", access=Access.ADMIN, responses={200: "PromotionList", 400: None}, query=("limit", "cursor")
)
def admin_list_promotions() -> Response:
    """Every promotion, newest first, paged."""
    found, next_cursor = promotions().list(http.parse_limit(query()), query().get("cursor"))
    return http.json_response(
        schemas.PromotionList(promotions=[schemas.PromotionOut.of(p) for p in found], next_cursor=next_cursor)
    )


@routes.get("/admin/promotions/{promotion_id}", access=Access.ADMIN, responses={200: "PromotionEnvelope", 404: None})
def admin_get_promotion(promotion_id: str) -> Response:
    """One promotion with what it has awarded so far."""
    found = promotions().get(http.parse_uuid(promotion_id, "promotion"))
    return http.json_response(schemas.PromotionEnvelope(promotion=schemas.PromotionOut.of(found)))


@routes.put(
    "/admin/promotions/{promotion_id}",
    access=Access.ADMIN,
    request="PromotionChange",
    responses={200: "PromotionEnvelope", 400: None, 404: None, 409: None},
)
def admin_change_promotion(promotion_id: str) -> Response:
    """Change a promotion before it starts, or end it early (an earlier ends_at) while it runs."""
    wanted = body(schemas.PromotionChange)
    changed = promotions().change(http.parse_uuid(promotion_id, "promotion"), wanted.changes())
    return http.json_response(schemas.PromotionEnvelope(promotion=schemas.PromotionOut.of(changed)))


@routes.delete("/admin/promotions/{promotion_id}", access=Access.ADMIN, responses={200: "PromotionEnvelope", 404: None})
def admin_delete_promotion(promotion_id: str) -> Response:
    """Deactivate a promotion: it stops applying at once (repeatable); its awards stay on the ledger."""
    found = promotions().deactivate(http.parse_uuid(promotion_id, "promotion"))
    return http.json_response(schemas.PromotionEnvelope(promotion=schemas.PromotionOut.of(found)))
