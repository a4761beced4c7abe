"""Xanadu Rewards: the composition root. Routes, authorizers, SQS handlers and schedules live here.

Routes are thin: who is calling, the validated body, one service call, the response model.
Everything heavy (settings, database, boto3) is built lazily on first use, never at import.
"""
from __future__ import annotations

import contextvars
import functools
import os
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, TypeVar

from chalice import Chalice, CORSConfig, CognitoUserPoolAuthorizer, Response
from pydantic import BaseModel

from chalicelib import http, logs
from chalicelib.auth import Authenticator, Principal
from chalicelib.config import Settings, get_settings
from chalicelib.db import Database, get_database
from chalicelib.errors import DomainError, InsufficientPoints, OutOfStock, CartEmpty
from chalicelib.models import (
    PartnerCreate,
    PartnerEnvelope,
    PartnerIssued,
    PartnerList,
    PartnerOut,
    AddToCart,
    AddToCartResult,
    Cart,
    CartItemAdded,
    CategoryList,
    CheckoutFailure,
    CheckoutSuccess,
    CustomerProfile,
    Health,
    PointsSummary,
    ProductEnvelope,
    ProductList,
    RemoveFromCart,
    Transaction,
    TransactionEnvelope,
    TransactionList,
)

app = Chalice(app_name="xanadu-rewards")
app.log.setLevel("INFO")
log = logs.get_logger("xanadu.app")

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=list(http.CORS_ALLOW_HEADERS),
    expose_headers=["Idempotency-Replay", "X-Request-Id"],
    max_age=600,
)


# -- composition root: lazy getters --------------------------------------------------------------
_singletons: dict[str, Any] = {}


def _once(name: str, factory: Callable[[], Any]) -> Any:
    """One instance per container, built on first use."""
    try:
        return _singletons[name]
    except KeyError:
        return _singletons.setdefault(name, factory())


def settings() -> Settings:
    return get_settings()


def database() -> Database:
    return get_database()


def authenticator() -> Authenticator:
    return _once("authenticator", lambda: Authenticator(settings()))


def services() -> "Services":
    return _once("services", Services)


class Services:
    """Built once per container, on the first request that needs one."""

    def __init__(self) -> None:
        from chalicelib.services.cart import CartService
        from chalicelib.services.catalog import CatalogService
        from chalicelib.services.checkout import CheckoutService
        from chalicelib.services.members import MemberService
        from chalicelib.services.idempotency import IdempotencyService
        from chalicelib.services.partners import PartnerService
        from chalicelib.services.points import PointsService

        db, cfg = database(), settings()
        self.catalog = CatalogService(db)
        self.members = MemberService(db, cfg)
        self.cart = CartService(db, cfg)
        self.checkout = CheckoutService(db)
        self.points = PointsService(db, cfg)
        self.partners = PartnerService(db)
        self.idempotency = IdempotencyService(db)


# -- access control ------------------------------------------------------------------------------
class Access(Enum):
    PUBLIC = "public"
    MEMBER = "member"
    ADMIN = "admin"
    # X-Api-Key issued by an admin; checked by the app (works the same in chalice local and AWS).
    PARTNER = "partner"


def _cognito_authorizer() -> CognitoUserPoolAuthorizer | None:
    """Deployed stages put API Gateway's Cognito authorizer in front of member/admin routes.

    Locally (XANADU_AUTH_MODE=verify) there is none: chalice local's imitation crashes on
    non-JWT tokens and verifies nothing, so the app verifies tokens itself.
    """
    if os.environ.get("XANADU_AUTH_MODE", "cognito") == "verify":
        return None
    return CognitoUserPoolAuthorizer(
        "XanaduMembers",
        provider_arns=[os.environ.get("COGNITO_USER_POOL_ARN", "arn:aws:cognito-idp:us-east-1:000000000000:userpool/unset")],
    )


_AUTHORIZER = _cognito_authorizer()


@dataclass
class Call:
    principal: Principal | None = None
    member_id: uuid.UUID | None = None
    partner: Any = None


_call: contextvars.ContextVar[Call] = contextvars.ContextVar("call")


def principal() -> Principal:
    current = _call.get().principal
    assert current is not None, "route declared without authentication"
    return current


def member_id() -> uuid.UUID:
    """The caller's member id; the member (and signup bonus) is created on first use."""
    call = _call.get()
    if call.member_id is None:
        call.member_id = services().members.member_id(principal())
    return call.member_id


def partner() -> Any:
    """The calling partner (chalicelib.services.partners.Partner)."""
    current = _call.get().partner
    assert current is not None, "route declared without partner access"
    return current


M = TypeVar("M", bound=BaseModel)


def body(model: type[M], *, allow_empty: bool = False) -> M:
    return http.parse_body(model, app.current_request.raw_body, settings().max_body_bytes, allow_empty=allow_empty)


def query() -> dict[str, str]:
    return app.current_request.query_params or {}


def idempotent(scope: str, parsed_body: Any, operation: Callable[[Any], tuple[int, Any]]) -> Response:
    """Run `operation(tx)` once per (scope, Idempotency-Key); replays carry `Idempotency-Replay: true`."""
    from chalicelib.services.idempotency import fingerprint, validate_key

    request = app.current_request
    key = validate_key(request.headers.get("idempotency-key"))
    payload = parsed_body.model_dump(mode="json") if isinstance(parsed_body, BaseModel) else parsed_body
    outcome = services().idempotency.execute(
        scope, key, fingerprint(request.method, request.path, payload), operation
    )
    headers = {"Idempotency-Replay": "true"} if outcome.replayed else None
    return http.json_response(outcome.body, outcome.status, headers)


# -- route registration ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RouteDoc:
    path: str
    method: str
    access: Access
    summary: str
    request: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | None]
    idempotent: bool = False
    query: tuple[str, ...] = ()


ROUTES: list[RouteDoc] = []


def route(
    path: str,
    methods: list[str] | None = None,
    *,
    access: Access = Access.PUBLIC,
    request: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | None] | None = None,
    idempotent: bool = False,
    query: tuple[str, ...] = (),
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """app.route plus: authentication, body-size limit, domain-error mapping, OpenAPI metadata."""
    methods = methods or ["GET"]

    def register(view: Callable[..., Response]) -> Callable[..., Response]:
        for method in methods:
            ROUTES.append(RouteDoc(path, method, access, (view.__doc__ or view.__name__).strip().split("\n")[0],
                                   request, responses or {200: None}, idempotent, query))

        @functools.wraps(view)
        def endpoint(**params: str) -> Response:
            token = _call.set(Call())
            try:
                request = app.current_request
                raw = request.raw_body
                if raw and len(raw) > settings().max_body_bytes:
                    from chalicelib.errors import PayloadTooLarge

                    raise PayloadTooLarge(f"Request body exceeds {settings().max_body_bytes} bytes.")
                if access is Access.PARTNER:
                    _call.get().partner = services().partners.authenticate(request.headers.get("x-api-key"))
                elif access is not Access.PUBLIC:
                    auth = authenticator()
                    check = auth.admin if access is Access.ADMIN else auth.principal
                    _call.get().principal = check(request.headers, request.context)
                return view(**params)
            except DomainError as error:
                return http.error_response(error)
            except Exception:
                log.exception("unhandled error", extra={"path": path})
                return http.internal_error_response()
            finally:
                _call.reset(token)

        authorizer = _AUTHORIZER if access in (Access.MEMBER, Access.ADMIN) else None
        app.route(path, methods=methods, cors=CORS, authorizer=authorizer)(endpoint)
        return endpoint

    return register


@app.middleware("http")
def request_context(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Request id on every log line and response; CORS on every response, errors included."""
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    context = getattr(event, "context", None) or {}
    request_id = context.get("requestId") or str(uuid.uuid4())
    token = logs.request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        response = get_response(event)
    finally:
        logs.request_id_var.reset(token)
    for name, value in http.CORS_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["X-Request-Id"] = request_id
    log.info(
        "request",
        extra={
            "request_id": request_id,
            "method": getattr(event, "method", None),
            "path": getattr(event, "path", None),
            "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return response


# -- catalog (public) -----------------------------------------------------------------------------
@route("/prod/products", responses={200: ProductList})
def list_products() -> Response:
    """All active rewards, sorted by name."""
    return http.json_response(ProductList(products=services().catalog.products()))


@route("/prod/products/categories", responses={200: CategoryList})
def product_categories() -> Response:
    """Category names, sorted."""
    return http.json_response(CategoryList(categories=services().catalog.categories()))


@route("/prod/category", responses={200: CategoryList})
def categories_alias() -> Response:
    """Category names, sorted (the frontend's older path)."""
    return http.json_response(CategoryList(categories=services().catalog.categories()))


@route("/prod/products/{item_id}", responses={200: ProductEnvelope, 404: None})
def get_product(item_id: str) -> Response:
    """One reward; unknown or malformed ids are 404."""
    product = services().catalog.product(http.parse_uuid(item_id, "product"))
    return http.json_response(ProductEnvelope(product=product))


@route("/category/{category}", responses={200: ProductList})
def products_in_category(category: str) -> Response:
    """Active rewards of one category."""
    from urllib.parse import unquote

    return http.json_response(ProductList(products=services().catalog.products(unquote(category))))


# -- member profile and points --------------------------------------------------------------------
@route("/customer", access=Access.MEMBER, responses={200: CustomerProfile, 401: None})
def customer_profile() -> Response:
    """The signed-in member's profile (camelCase, as the frontend reads it)."""
    return http.json_response(CustomerProfile.of(services().members.profile(member_id())))


@route("/prod/points", access=Access.MEMBER, responses={200: PointsSummary, 401: None})
def points_balance() -> Response:
    """Balance (`points`), lifetime earned and tier."""
    member = services().points.summary(member_id())
    return http.json_response(PointsSummary(points=member.balance, lifetime_earned=member.lifetime_earned, tier=member.tier))


@route("/prod/points/tx", access=Access.MEMBER, responses={200: TransactionList, 401: None}, query=("limit", "cursor"))
def points_history() -> Response:
    """The member's ledger, newest first, paged."""
    entries, next_cursor = services().points.history(member_id(), http.parse_limit(query()), query().get("cursor"))
    return http.json_response(TransactionList(transactions=[Transaction.of(e) for e in entries], next_cursor=next_cursor))


@route("/prod/points/tx/{tx_id}", access=Access.MEMBER, responses={200: TransactionEnvelope, 404: None})
def points_transaction(tx_id: str) -> Response:
    """One ledger entry with the order lines it paid for; someone else's is 404."""
    detail = services().points.transaction(member_id(), http.parse_uuid(tx_id, "transaction"))
    return http.json_response(TransactionEnvelope(transaction=detail))


# -- cart and checkout ----------------------------------------------------------------------------
@route("/prod/cart", access=Access.MEMBER, responses={200: Cart})
def view_cart() -> Response:
    """The server-side cart, priced from the catalog."""
    return http.json_response(Cart(items=services().cart.lines(member_id())))


@route("/prod/cart/item", ["POST"], access=Access.MEMBER, request=AddToCart,
       responses={201: AddToCartResult, 400: None, 404: None})
def add_to_cart() -> Response:
    """Add `quantity` (default 1) of a reward to the cart line."""
    wanted = body(AddToCart)
    me = member_id()
    quantity = services().cart.add(me, wanted.id, wanted.quantity)
    result = AddToCartResult(item=CartItemAdded(customer_id=me, item_id=wanted.id, quantity=quantity))
    return http.json_response(result, 201)


@route("/prod/cart/item/{item_id}", ["DELETE"], access=Access.MEMBER, responses={204: None})
def remove_cart_line(item_id: str) -> Response:
    """Remove one line (removing an absent line is not an error)."""
    services().cart.remove(member_id(), http.parse_uuid(item_id, "cart item"))
    return http.empty_response()


@route("/prod/cart/item", ["DELETE"], access=Access.MEMBER, request=RemoveFromCart, responses={204: None})
def remove_cart_item_or_all() -> Response:
    """With body {"id"}: remove that line; without a body: empty the cart."""
    wanted = body(RemoveFromCart, allow_empty=True)
    if wanted.id is None:
        services().cart.clear(member_id())
    else:
        services().cart.remove(member_id(), wanted.id)
    return http.empty_response()


@route("/prod/cart", ["DELETE"], access=Access.MEMBER, responses={204: None})
def clear_cart() -> Response:
    """Empty the cart."""
    services().cart.clear(member_id())
    return http.empty_response()


@route("/prod/cart/checkout", ["POST"], access=Access.MEMBER, responses={200: CheckoutSuccess})
def checkout() -> Response:
    """Spend points on the cart. Business outcomes are HTTP 200 with success true/false (frontend contract)."""
    try:
        placed = services().checkout.checkout(member_id())
    except (InsufficientPoints, OutOfStock, CartEmpty) as outcome:
        return http.json_response(CheckoutFailure(error=outcome.message))
    return http.json_response(CheckoutSuccess(
        txId=placed.ledger_entry_id, orderId=placed.order_id,
        totalPoints=placed.total_points, previousBalance=placed.previous_balance,
    ))


# -- partners (admin) -----------------------------------------------------------------------------
@route("/admin/partners", ["POST"], access=Access.ADMIN, request=PartnerCreate, responses={201: PartnerIssued})
def issue_partner_key() -> Response:
    """Register a partner and issue its API key (shown once, stored only as a hash)."""
    wanted = body(PartnerCreate)
    row, api_key = services().partners.issue(wanted.name, wanted.kind, principal().email)
    return http.json_response(PartnerIssued(partner=PartnerOut.model_validate(row), api_key=api_key), 201)


@route("/admin/partners", access=Access.ADMIN, responses={200: PartnerList})
def list_partners() -> Response:
    """Partners and whether their keys are revoked (never the keys)."""
    return http.json_response(PartnerList(partners=[PartnerOut.model_validate(p) for p in services().partners.list()]))


@route("/admin/partners/{partner_id}", ["DELETE"], access=Access.ADMIN, responses={200: PartnerEnvelope, 404: None})
def revoke_partner_key(partner_id: str) -> Response:
    """Revoke a partner's key; repeating it is harmless."""
    row = services().partners.revoke(http.parse_uuid(partner_id, "partner"))
    return http.json_response(PartnerEnvelope(partner=PartnerOut.model_validate(row)))


# -- operations -----------------------------------------------------------------------------------
@route("/health", responses={200: Health, 503: Health})
def health() -> Response:
    """Database reachability and migration state."""
    from chalicelib.services.operations import health_report

    report = health_report(database())
    return http.json_response(report, 200 if report.status == "ok" else 503)


@route("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3 document, generated from the route table and the pydantic models."""
    from chalicelib.openapi import build_spec

    return http.json_response(_once("openapi", lambda: build_spec(ROUTES)))
