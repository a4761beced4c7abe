"""Data requests: a member's own export, and admins' export and erasure of a customer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ..members.identity import current_member_id
from ..platform import http
from ..platform.routing import Access, Routes, principal, respond_once

if TYPE_CHECKING:
    from ..platform.db import Tx
    from .service import PrivacyService

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it


def privacy() -> PrivacyService:
    from ..container import services

    return services().privacy


@routes.get("/prod/me/export", access=Access.MEMBER, responses={200: "MemberExport", 401: None, 404: None})
def member_export() -> Response:
    """Everything Xanadu holds about the signed-in member, as one JSON document."""
    return http.json_response(schemas.MemberExport.model_validate(privacy().export(current_member_id())))


@routes.get("/customers/{customer_id}/export", access=Access.ADMIN, responses={200: "MemberExport", 404: None})
def admin_customer_export(customer_id: str) -> Response:
    """A customer's data export (a data request); an erased customer is 404 MEMBER_ERASED."""
    document = privacy().export(http.parse_uuid(customer_id, "customer"))
    return http.json_response(schemas.MemberExport.model_validate(document))


@routes.post(
    "/customers/{customer_id}/erase",
    access=Access.ADMIN,
    idempotent=True,
    responses={200: "ErasureEnvelope", 404: None, 409: None, 503: None},
)
def admin_erase_customer(customer_id: str) -> Response:
    """Erase a customer's personal data and sign-in, forfeit their points (Idempotency-Key; twice is a no-op)."""
    member_id = http.parse_uuid(customer_id, "customer")
    admin = principal().email or principal().subject

    def erase(tx: Tx) -> tuple[int, object]:
        erasure = privacy().erase(tx, admin, member_id)
        return 200, schemas.ErasureEnvelope(erasure=schemas.ErasureOut.of(erasure)).model_dump(mode="json")

    return respond_once(f"admin:{admin}:erase", {"customer_id": str(member_id)}, erase)
