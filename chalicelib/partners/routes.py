"""Partner administration (admins): issue and revoke partners' API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ..platform import http
from ..platform.routing import Access, Routes, body, principal

if TYPE_CHECKING:
    from .service import PartnerService

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it


def partners() -> PartnerService:
    from ..container import services

    return services().partners


@routes.post(
    "/admin/partners",
    access=Access.ADMIN,
    request="PartnerCreate",
    responses={201: "PartnerIssued"},
    links={
        201: {
            "RevokePartner": {
                "operationId": "delete_admin_partners_partner_id",
                "parameters": {"partner_id": "$response.body#/partner/id"},
            }
        }
    },
)
def issue_partner_key() -> Response:
    """Register a partner and issue its API key (shown once, stored only as a hash)."""
    wanted = body(schemas.PartnerCreate)
    row, api_key = partners().issue(wanted.name, wanted.kind, principal().email or principal().subject)
    return http.json_response(
        schemas.PartnerIssued(partner=schemas.PartnerOut.model_validate(row), api_key=api_key), 201
    )


@routes.get("/admin/partners", access=Access.ADMIN, responses={200: "PartnerList"})
def list_partners() -> Response:
    """Partners and whether their keys are revoked (never the keys)."""
    return http.json_response(
        schemas.PartnerList(partners=[schemas.PartnerOut.model_validate(p) for p in partners().list()])
    )


@routes.delete("/admin/partners/{partner_id}", access=Access.ADMIN, responses={200: "PartnerEnvelope", 404: None})
def revoke_partner_key(partner_id: str) -> Response:
    """Revoke a partner's key; repeating it is harmless."""
    row = partners().revoke(http.parse_uuid(partner_id, "partner"))
    return http.json_response(schemas.PartnerEnvelope(partner=schemas.PartnerOut.model_validate(row)))
