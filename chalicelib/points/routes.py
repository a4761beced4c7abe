"""Points routes: the member's balance and history, partner purchases, admin adjustments and reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ..members.identity import current_member_id
from ..partners.identity import current_partner
from ..platform import http
from ..platform.routing import Access, Routes, body, principal, query, respond_once

if TYPE_CHECKING:
    from ..platform.db import Tx
    from .earning import EarningService
    from .reports import ReportService
    from .returns import ReturnService
    from .service import PointsService

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it


def points() -> PointsService:
    from ..container import services

    return services().points


def earning() -> EarningService:
    from ..container import services

    return services().earning


def returns() -> ReturnService:
    from ..container import services

    return services().returns


def reports() -> ReportService:
    from ..container import services

    return services().reports


@routes.get("/prod/points", access=Access.MEMBER, responses={200: "PointsSummary", 401: None})
def points_balance() -> Response:
    """Balance (`points`), lifetime earned, tier and progress, points expiring in the next 90 days."""
    return http.json_response(schemas.PointsSummary.of(points().standing(current_member_id())))


@routes.get(
    "/prod/points/tx", access=Access.MEMBER, responses={200: "TransactionList", 401: None}, query=("limit", "cursor")
)
def points_history() -> Response:
    """The member's ledger, newest first, paged."""
    entries, next_cursor = points().history(current_member_id(), http.parse_limit(query()), query().get("cursor"))
    return http.json_response(
        schemas.TransactionList(transactions=[schemas.Transaction.of(e) for e in entries], next_cursor=next_cursor)
    )


@routes.get("/prod/points/tx/{tx_id}", access=Access.MEMBER, responses={200: "TransactionEnvelope", 404: None})
def points_transaction(tx_id: str) -> Response:
    """One ledger entry with the order lines it paid for; someone else's is 404."""
    detail = points().transaction(current_member_id(), http.parse_uuid(tx_id, "transaction"))
    return http.json_response(schemas.TransactionEnvelope(transaction=schemas.TransactionDetail.of_detail(detail)))


@routes.post(
    "/prod/points/tx",
    access=Access.ADMIN,
    request="AdjustmentRequest",
    idempotent=True,
    responses={201: "AdjustmentResult", 400: None, 404: None, 409: None},
)
def admin_adjust_points() -> Response:
    """Adjust a member's points (signed, never below zero, reason required; Idempotency-Key required)."""
    wanted = body(schemas.AdjustmentRequest)
    admin = principal().email or principal().subject

    def adjust(tx: Tx) -> tuple[int, object]:
        posting = points().adjust(tx, admin, wanted.customer_id, wanted.points, wanted.description)
        result = schemas.AdjustmentResult(transaction=schemas.Transaction.of(posting.entry), balance=posting.balance)
        return 201, result.model_dump(mode="json")

    return respond_once(f"admin:{admin}:adjust", wanted, adjust)


@routes.post(
    "/partner/purchases",
    access=Access.PARTNER,
    partner="STORE",
    request="PurchaseRequest",
    responses={201: "PurchaseResult", 200: "PurchaseResult", 400: None, 401: None, 403: None, 404: None, 409: None},
)
def partner_purchase() -> Response:
    """A store partner reports a purchase; points are credited once per (partner, external_id)."""
    from .earning import PurchaseReport

    partner = current_partner()
    wanted = body(schemas.PurchaseRequest)
    recorded = earning().record(partner.id, PurchaseReport(**wanted.model_dump()))
    return http.json_response(schemas.PurchaseResult.of(recorded), 201 if recorded.created else 200)


@routes.post(
    "/partner/purchases/{external_id}/returns",
    access=Access.PARTNER,
    partner="STORE",
    request="ReturnRequest",
    responses={201: "ReturnResult", 200: "ReturnResult", 400: None, 401: None, 403: None, 404: None, 409: None},
)
def partner_purchase_return(external_id: str) -> Response:
    """The partner that reported a purchase reports a return of (part of) it: points are taken back in proportion."""
    from urllib.parse import unquote

    partner = current_partner()
    wanted = body(schemas.ReturnRequest)
    recorded = returns().record(partner.id, unquote(external_id), wanted.return_id, wanted.amount_usd)
    return http.json_response(schemas.ReturnResult.of(recorded), 201 if recorded.created else 200)


@routes.get("/admin/reports/liability", access=Access.ADMIN, responses={200: "LiabilityReport"})
def admin_liability_report() -> Response:
    """Outstanding points and what expires within 30/60/90 days, in total and by tier."""
    return http.json_response(schemas.LiabilityReport.model_validate(reports().liability()))
