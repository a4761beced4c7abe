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
from functools import cached_property
from typing import Any, Callable, TypeVar

from chalice import Chalice, CORSConfig, CognitoUserPoolAuthorizer, Cron, Response
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
from chalicelib.order_models import (
    DeadLetterList,
    OrderCreate,
    OrderEnvelope,
    OrderList,
    RedriveRequest,
    RedriveResult,
    ReservationCreate,
    ReservationEnvelope,
)
from chalicelib.models import (  # points and admin (docs/points.md)
    AdjustmentRequest,
    AdjustmentResult,
    AdminProductEnvelope,
    AdminProductList,
    CustomerCreate,
    CustomerEnvelope,
    CustomerList,
    LiabilityReport,
    ProductCreate,
    ProductUpdate,
    PurchaseRequest,
    PurchaseResult,
    StockUpdate,
)

# Our own JSON logging (chalicelib.logs) replaces Chalice's plain-text handler.
app = Chalice(app_name="xanadu-rewards", configure_logs=False)
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
    """The container's services, each built on first use: a catalog read imports no order code."""

    # -- the member journey --
    @cached_property
    def catalog(self) -> Any:
        from chalicelib.services.catalog import CatalogService

        return CatalogService(database())

    @cached_property
    def members(self) -> Any:
        from chalicelib.services.members import MemberService

        return MemberService(database(), settings())

    @cached_property
    def cart(self) -> Any:
        from chalicelib.services.cart import CartService

        return CartService(database(), settings())

    @cached_property
    def checkout(self) -> Any:
        from chalicelib.services.checkout import CheckoutService

        return CheckoutService(database(), on_commit=lambda: self.relay.kick())

    @cached_property
    def points(self) -> Any:
        from chalicelib.services.points import PointsService

        return PointsService(database(), settings())

    @cached_property
    def partners(self) -> Any:
        from chalicelib.services.partners import PartnerService

        return PartnerService(database())

    @cached_property
    def idempotency(self) -> Any:
        from chalicelib.services.idempotency import IdempotencyService

        return IdempotencyService(database())

    @cached_property
    def notifier(self) -> Any:
        from chalicelib.notifications import Notifier

        return Notifier(settings())

    # -- orders in motion (docs/orders.md) --
    @cached_property
    def sqs(self) -> Any:
        from chalicelib.services.queues import Sqs

        return Sqs(settings())

    @cached_property
    def relay(self) -> Any:
        from chalicelib.services.relay import OutboxRelay

        return OutboxRelay(database(), settings(), self.sqs)

    @cached_property
    def orders(self) -> Any:
        from chalicelib.services.orders import OrderService

        return OrderService(database(), self.relay)

    @cached_property
    def reservations(self) -> Any:
        from chalicelib.services.reservations import ReservationService

        return ReservationService(database(), settings())

    @cached_property
    def order_events(self) -> Any:
        from chalicelib.services.fulfilment import FulfilmentClient
        from chalicelib.services.processor import OrderEventProcessor

        cfg = settings()
        return OrderEventProcessor(database(), cfg, self.sqs, FulfilmentClient(cfg), self.notifier, self.relay)

    @cached_property
    def dead_letters(self) -> Any:
        from chalicelib.services.dead_letters import DeadLetterService

        return DeadLetterService(settings(), self.sqs)

    @cached_property
    def housekeeping(self) -> Any:
        from chalicelib.services.housekeeping import Housekeeping

        return Housekeeping(database(), self.idempotency)

    # -- points, admin and jobs (docs/points.md) --
    @cached_property
    def earning(self) -> Any:
        from chalicelib.services.earning import EarningService

        return EarningService(database(), settings())

    @cached_property
    def expiry(self) -> Any:
        from chalicelib.services.expiry import ExpiryService

        return ExpiryService(database(), settings(), self.notifier)

    @cached_property
    def tiers(self) -> Any:
        from chalicelib.services.tiers import TierService

        return TierService(database(), settings())

    @cached_property
    def reconciliation(self) -> Any:
        from chalicelib.services.reconciliation import ReconciliationService

        return ReconciliationService(database(), settings())

    @cached_property
    def customers(self) -> Any:
        from chalicelib.services.customers import CustomerService

        return CustomerService(database(), settings(), self.members)

    @cached_property
    def products_admin(self) -> Any:
        from chalicelib.services.products_admin import ProductAdminService

        return ProductAdminService(database())

    @cached_property
    def reports(self) -> Any:
        from chalicelib.services.reports import ReportService

        return ReportService(database())


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
    """Balance (`points`), lifetime earned, tier and progress, points expiring in the next 90 days."""
    return http.json_response(services().points.summary(member_id()))


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


# -- orders ---------------------------------------------------------------------------------------
@route("/prod/orders", ["POST"], access=Access.MEMBER, request=OrderCreate, idempotent=True,
       responses={201: OrderEnvelope, 400: None, 404: None, 409: None})
def create_order() -> Response:
    """Order catalog items with points (Idempotency-Key required); confirmed asynchronously."""
    wanted = body(OrderCreate)
    me = member_id()
    response = idempotent(f"orders:{me}", wanted, lambda tx: (
        201, OrderEnvelope(order=services().orders.place(tx, me, wanted.items)).model_dump(mode="json")))
    services().orders.relay_events_now()
    return response


@route("/prod/orders", access=Access.MEMBER, responses={200: OrderList}, query=("limit", "cursor"))
def list_orders() -> Response:
    """The member's orders with their lines and status history, newest first, paged."""
    found, next_cursor = services().orders.list(member_id(), http.parse_limit(query()), query().get("cursor"))
    return http.json_response(OrderList(orders=found, next_cursor=next_cursor))


@route("/prod/orders/{order_id}", access=Access.MEMBER, responses={200: OrderEnvelope, 404: None})
def get_order(order_id: str) -> Response:
    """One of the member's orders; someone else's is 404."""
    order = services().orders.get(member_id(), http.parse_uuid(order_id, "order"))
    return http.json_response(OrderEnvelope(order=order))


@route("/prod/orders/{order_id}/cancel", ["POST"], access=Access.MEMBER,
       responses={200: OrderEnvelope, 404: None, 409: None})
def cancel_order(order_id: str) -> Response:
    """Cancel before packing: points refunded, stock restored; 409 INVALID_TRANSITION once packed."""
    order = services().orders.cancel(member_id(), http.parse_uuid(order_id, "order"))
    return http.json_response(OrderEnvelope(order=order))


# -- reservations ---------------------------------------------------------------------------------
@route("/prod/reservations", ["POST"], access=Access.MEMBER, request=ReservationCreate,
       responses={201: ReservationEnvelope, 400: None, 404: None, 409: None})
def create_reservation() -> Response:
    """Hold stock and points for 15 minutes."""
    wanted = body(ReservationCreate)
    held = services().reservations.hold(member_id(), wanted.item_id, wanted.quantity)
    return http.json_response(ReservationEnvelope(reservation=held), 201)


@route("/prod/reservations/{reservation_id}/purchase", ["POST"], access=Access.MEMBER, idempotent=True,
       responses={201: OrderEnvelope, 400: None, 404: None, 409: None})
def purchase_reservation(reservation_id: str) -> Response:
    """Turn a live hold into an order, without charging again (Idempotency-Key required)."""
    held_id = http.parse_uuid(reservation_id, "reservation")
    me = member_id()
    response = idempotent(f"orders:{me}", {}, lambda tx: (
        201, OrderEnvelope(order=services().reservations.purchase(tx, me, held_id)).model_dump(mode="json")))
    services().orders.relay_events_now()
    return response


@route("/prod/reservations/{reservation_id}", ["DELETE"], access=Access.MEMBER,
       responses={200: ReservationEnvelope, 404: None, 409: None})
def release_reservation(reservation_id: str) -> Response:
    """Release a hold: points refunded, stock restored; releasing again is a no-op."""
    released = services().reservations.release(member_id(), http.parse_uuid(reservation_id, "reservation"))
    return http.json_response(ReservationEnvelope(reservation=released))


# -- partner callbacks ----------------------------------------------------------------------------
@route("/partner/orders/{order_id}/packed", ["POST"], access=Access.PARTNER,
       responses={200: OrderEnvelope, 404: None, 409: None})
def partner_order_packed(order_id: str) -> Response:
    """A warehouse partner reports the order packed; repeating it is a no-op."""
    from chalicelib.services.lifecycle import Action

    partner().require("WAREHOUSE")
    order = services().orders.advance(http.parse_uuid(order_id, "order"), Action.PACK, partner().name)
    return http.json_response(OrderEnvelope(order=order))


@route("/partner/orders/{order_id}/delivered", ["POST"], access=Access.PARTNER,
       responses={200: OrderEnvelope, 404: None, 409: None})
def partner_order_delivered(order_id: str) -> Response:
    """A delivery partner reports the order delivered; repeating it is a no-op."""
    from chalicelib.services.lifecycle import Action

    partner().require("DELIVERY")
    order = services().orders.advance(http.parse_uuid(order_id, "order"), Action.DELIVER, partner().name)
    return http.json_response(OrderEnvelope(order=order))


# -- admin: orders and dead letters ---------------------------------------------------------------
@route("/admin/orders", access=Access.ADMIN, responses={200: OrderList}, query=("status", "limit", "cursor"))
def admin_orders() -> Response:
    """All orders, newest first, optionally of one status."""
    from chalicelib.services.lifecycle import parse_status

    status = parse_status(query().get("status"))
    found, next_cursor = services().orders.list_all(status, http.parse_limit(query()), query().get("cursor"))
    return http.json_response(OrderList(orders=found, next_cursor=next_cursor))


@route("/admin/dead-letters", access=Access.ADMIN, responses={200: DeadLetterList})
def admin_dead_letters() -> Response:
    """Messages order-events gave up on (up to 100), without consuming them."""
    return http.json_response(DeadLetterList(dead_letters=services().dead_letters.peek()))


@route("/admin/dead-letters/redrive", ["POST"], access=Access.ADMIN, request=RedriveRequest,
       responses={200: RedriveResult})
def admin_redrive_dead_letters() -> Response:
    """Move dead letters back to order-events (body optional: {"limit": n}, default 100)."""
    wanted = body(RedriveRequest, allow_empty=True)
    return http.json_response(RedriveResult(redriven=services().dead_letters.redrive(wanted.limit)))


# -- async: SQS and schedules (orders) ------------------------------------------------------------
def _event_context(event_id: str | None) -> Any:
    """Handlers outside HTTP log like requests do: JSON lines carrying an id (the event's)."""
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    return logs.request_id_var.set(event_id or str(uuid.uuid4()))


@app.on_sqs_message(queue="order-events", batch_size=10, name="process_order_events")
def process_order_events(event: Any) -> dict[str, Any]:
    """OrderCreated -> confirm/fail, OrderStatusChanged -> email; see chalicelib/services/processor.py."""
    token = _event_context(None)
    try:
        context = event.context
        remaining = getattr(context, "get_remaining_time_in_millis", None) if context is not None else None
        return services().order_events.handle_batch(event.to_dict()["Records"], remaining)
    finally:
        logs.request_id_var.reset(token)


@app.schedule("rate(1 minute)", name="relay_outbox")
def relay_outbox(event: Any) -> dict[str, int]:
    """Publish outbox events to order-events (what the after-commit attempts did not)."""
    token = _event_context(event.to_dict().get("id"))
    try:
        return services().relay.publish_pending().as_dict()
    finally:
        logs.request_id_var.reset(token)


@app.schedule("rate(5 minutes)", name="release_expired_reservations")
def release_expired_reservations(event: Any) -> dict[str, int]:
    """Release reservations whose 15 minutes are up: points refunded, stock restored."""
    token = _event_context(event.to_dict().get("id"))
    try:
        return {"released": services().reservations.expire_due()}
    finally:
        logs.request_id_var.reset(token)


@app.schedule("rate(1 hour)", name="housekeeping")
def housekeeping(event: Any) -> dict[str, int]:
    """Purge idempotency keys past 24 h, published outbox rows and old processed-event ids."""
    token = _event_context(event.to_dict().get("id"))
    try:
        return services().housekeeping.run()
    finally:
        logs.request_id_var.reset(token)


# -- partner purchases ----------------------------------------------------------------------------
@route("/partner/purchases", ["POST"], access=Access.PARTNER, request=PurchaseRequest,
       responses={201: PurchaseResult, 200: PurchaseResult, 400: None, 401: None, 403: None, 404: None, 409: None})
def partner_purchase() -> Response:
    """A store partner reports a purchase; points are credited once per (partner, external_id)."""
    partner().require("STORE")
    recorded = services().earning.record(partner().id, body(PurchaseRequest))
    return http.json_response(recorded.result, 201 if recorded.created else 200)


# -- admin: customers, adjustments, products, reports ---------------------------------------------
@route("/customers", access=Access.ADMIN, responses={200: CustomerList}, query=("q", "limit", "cursor"))
def admin_customers() -> Response:
    """Members, newest first; `q` searches email and name."""
    found, next_cursor = services().customers.search(query().get("q"), http.parse_limit(query()), query().get("cursor"))
    return http.json_response(CustomerList(customers=found, next_cursor=next_cursor))


@route("/customers", ["POST"], access=Access.ADMIN, request=CustomerCreate,
       responses={201: CustomerEnvelope, 400: None, 409: None})
def admin_create_customer() -> Response:
    """In-store sign-up: the member exists before their first sign-in (409 MEMBER_EXISTS if the email does)."""
    customer = services().customers.create(body(CustomerCreate))
    return http.json_response(CustomerEnvelope(customer=customer), 201)


@route("/customers/{customer_id}", access=Access.ADMIN, responses={200: CustomerEnvelope, 404: None})
def admin_customer(customer_id: str) -> Response:
    """One member with balance, tier, qualifying points and what expires soon."""
    customer = services().customers.get(http.parse_uuid(customer_id, "customer"))
    return http.json_response(CustomerEnvelope(customer=customer))


@route("/prod/points/tx", ["POST"], access=Access.ADMIN, request=AdjustmentRequest, idempotent=True,
       responses={201: AdjustmentResult, 400: None, 404: None, 409: None})
def admin_adjust_points() -> Response:
    """Adjust a member's points (signed, never below zero, reason required; Idempotency-Key required)."""
    wanted = body(AdjustmentRequest)
    admin = principal().email
    return idempotent(f"admin:{admin}:adjust", wanted, lambda tx: (
        201, services().points.adjust(tx, admin, wanted).model_dump(mode="json")))


@route("/admin/products", access=Access.ADMIN, responses={200: AdminProductList}, query=("limit", "cursor"))
def admin_products() -> Response:
    """Every product with stock and active flag (inactive ones too), newest first."""
    found, next_cursor = services().products_admin.list(http.parse_limit(query()), query().get("cursor"))
    return http.json_response(AdminProductList(products=found, next_cursor=next_cursor))


@route("/admin/products", ["POST"], access=Access.ADMIN, request=ProductCreate,
       responses={201: AdminProductEnvelope, 400: None, 409: None})
def admin_create_product() -> Response:
    """Add a reward to the catalog (409 SKU_EXISTS)."""
    product = services().products_admin.create(body(ProductCreate))
    return http.json_response(AdminProductEnvelope(product=product), 201)


@route("/admin/products/{item_id}", ["PUT"], access=Access.ADMIN, request=ProductUpdate,
       responses={200: AdminProductEnvelope, 400: None, 404: None, 409: None})
def admin_update_product(item_id: str) -> Response:
    """Change some of a product's fields (stock has its own route)."""
    wanted = body(ProductUpdate)
    product = services().products_admin.update(http.parse_uuid(item_id, "product"), wanted)
    return http.json_response(AdminProductEnvelope(product=product))


@route("/admin/products/{item_id}", ["DELETE"], access=Access.ADMIN, responses={200: AdminProductEnvelope, 404: None})
def admin_deactivate_product(item_id: str) -> Response:
    """Deactivate a product: gone from the catalog and checkout, kept in orders and history."""
    product = services().products_admin.deactivate(http.parse_uuid(item_id, "product"))
    return http.json_response(AdminProductEnvelope(product=product))


@route("/admin/products/{item_id}/stock", ["PUT"], access=Access.ADMIN, request=StockUpdate,
       responses={200: AdminProductEnvelope, 400: None, 404: None, 409: None})
def admin_product_stock(item_id: str) -> Response:
    """Set the stock level ({"stock": n}) or change it ({"delta": n}, 409 STOCK_BELOW_ZERO)."""
    wanted = body(StockUpdate)
    product = services().products_admin.stock(http.parse_uuid(item_id, "product"), wanted)
    return http.json_response(AdminProductEnvelope(product=product))


@route("/admin/reports/liability", access=Access.ADMIN, responses={200: LiabilityReport})
def admin_liability_report() -> Response:
    """Outstanding points and what expires within 30/60/90 days, in total and by tier."""
    return http.json_response(services().reports.liability())


# -- scheduled jobs (points) ----------------------------------------------------------------------
def _points_job(event: Any, name: str, work: Callable[[Any], Any]) -> dict[str, Any]:
    """Run a points job once: JSON logs with the job name and a run id, stop before the Lambda times out."""
    import dataclasses

    from chalicelib.services.job_runner import lambda_deadline, run_job

    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    should_stop = lambda_deadline(getattr(event, "context", None))
    return dataclasses.asdict(run_job(name, lambda: work(should_stop)))


@app.schedule(Cron(15, 0, "*", "*", "?", "*"), name="expire_points")
def expire_points(event: Any) -> dict[str, Any]:
    """Daily 00:15 UTC: lapsed lots become EXPIRE ledger rows, in batches that each commit."""
    return _points_job(event, "expire_points", lambda stop: services().expiry.run(should_stop=stop))


@app.schedule(Cron(0, 9, "?", "*", "MON", "*"), name="notify_expiring_points")
def notify_expiring_points(event: Any) -> dict[str, Any]:
    """Mondays 09:00 UTC: email members whose points expire within 30 days (once per lot)."""
    return _points_job(event, "notify_expiring_points", lambda stop: services().expiry.notify_expiring(should_stop=stop))


@app.schedule(Cron(30, 1, "*", "*", "?", "*"), name="recompute_tiers")
def recompute_tiers(event: Any) -> dict[str, Any]:
    """Nightly 01:30 UTC: every member's tier from the trailing 12 months (upgrades and downgrades)."""
    return _points_job(event, "recompute_tiers", lambda stop: services().tiers.recompute_all(should_stop=stop))


@app.schedule(Cron(0, 3, "*", "*", "?", "*"), name="reconcile_points")
def reconcile_points(event: Any) -> dict[str, Any]:
    """Nightly 03:00 UTC: balance == sum(ledger) == sum(lots) for every member; logs drift, changes nothing."""
    return _points_job(event, "reconcile_points", lambda stop: services().reconciliation.run(should_stop=stop))


# -- deploy-time handlers --------------------------------------------------------------------------
@app.middleware("http")
def request_deadline(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Every API request's waits end below API Gateway's 29 s, so an outage is our 503 (chalicelib/deadline.py)."""
    from chalicelib.deadline import request_deadline as deadline

    with deadline():
        return get_response(event)


@app.lambda_function(name="apply_migrations")
def apply_migrations(event: Any, context: Any) -> dict[str, Any]:
    """Pending migrations and the application role: a CloudFormation custom resource on every deploy, or by hand."""
    from chalicelib.migrations.deploy import handle

    token = _event_context((event or {}).get("RequestId"))
    try:
        return handle(event or {}, settings())
    finally:
        logs.request_id_var.reset(token)


def _register_snapstart_hooks() -> None:
    from chalicelib.snapstart import register_hooks

    register_hooks()


_register_snapstart_hooks()
