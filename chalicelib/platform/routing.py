"""How a domain declares its HTTP routes: a Chalice Blueprint with access control, the body-size limit,
the one error mapping and OpenAPI metadata on every route.

    routes = Routes(__name__)

    @routes.get("/prod/products", responses={200: ProductList})
    def list_products() -> Response:
        ...

app.py registers every domain's `routes` (after `configure`, which hands over the Cognito authorizer and
the partner-key check). Inside a view, `principal()`, `body(Model)`, `query()` and `respond_once(...)`
read the current call.
"""

from __future__ import annotations

import contextvars
import functools
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from chalice.app import Authorizer, Blueprint, Chalice, CognitoUserPoolAuthorizer, CORSConfig, Request, Response
from pydantic import BaseModel

from . import http, logs
from .auth import Principal, get_authenticator
from .config import get_settings
from .deadline import request_deadline
from .errors import DomainError, PayloadTooLarge

if TYPE_CHECKING:
    from .db import Tx

log = logs.get_logger("xanadu.http")

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=list(http.CORS_ALLOW_HEADERS),
    expose_headers=["Idempotency-Replay", "X-Request-Id"],
    max_age=600,
)


class Access(Enum):
    PUBLIC = "public"
    MEMBER = "member"
    ADMIN = "admin"
    # X-Api-Key issued by an admin; checked by the app (the same in chalice local and AWS).
    PARTNER = "partner"


@dataclass(frozen=True)
class RouteDoc:
    """One operation of the OpenAPI document."""

    path: str
    method: str
    access: Access
    summary: str
    request: type[BaseModel] | None
    # A status's body: one model, several (any of them, e.g. checkout's success true/false), or none.
    responses: Mapping[int, type[BaseModel] | tuple[type[BaseModel], ...] | None]
    idempotent: bool = False
    query: tuple[str, ...] = ()
    partner_kind: str | None = None  # partner routes: the kind of partner whose key they take
    # OpenAPI links from a response to other operations (stateful fuzzing follows them).
    links: Mapping[int, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)


# Every declared operation, in declaration order: the source of /openapi.json.
ROUTE_TABLE: list[RouteDoc] = []


@dataclass
class Call:
    """What the current request has established about its caller."""

    principal: Principal | None = None
    partner: object | None = None
    # Per-request memo for domains (e.g. the member id behind the principal).
    memo: dict[str, Any] = field(default_factory=dict)


_call: contextvars.ContextVar[Call] = contextvars.ContextVar("call")


@dataclass
class _Wiring:
    app: Chalice | None = None
    authorizer: Authorizer | None = None
    partner_gate: Callable[[str | None], object] | None = None


_wiring = _Wiring()


def configure(app: Chalice, *, authorizer: Authorizer | None, partner_gate: Callable[[str | None], object]) -> None:
    """Called once by app.py before registering blueprints: the app, API Gateway's authorizer for member
    and admin routes (None where the app verifies tokens itself) and the partner-key check."""
    _wiring.app = app
    _wiring.authorizer = authorizer
    _wiring.partner_gate = partner_gate


def cognito_authorizer() -> Authorizer | None:
    """Deployed stages put API Gateway's Cognito authorizer in front of member and admin routes (app.py
    installs it). Locally (XANADU_AUTH_MODE=verify) there is none: chalice local's imitation crashes on
    non-JWT tokens and verifies nothing, so the app verifies tokens itself."""
    if os.environ.get("XANADU_AUTH_MODE", "cognito") == "verify":
        return None
    pool_arn = os.environ.get("COGNITO_USER_POOL_ARN", "arn:aws:cognito-idp:us-east-1:000000000000:userpool/unset")
    return CognitoUserPoolAuthorizer("XanaduMembers", provider_arns=[pool_arn])


def call() -> Call:
    return _call.get()


def current_request() -> Request:
    assert _wiring.app is not None, "routing.configure was not called"
    request = _wiring.app.current_request
    assert request is not None, "no request in flight"
    return request


def principal() -> Principal:
    current = _call.get().principal
    assert current is not None, "route declared without member or admin access"
    return current


M = TypeVar("M", bound=BaseModel)


def body(model: type[M], *, allow_empty: bool | None = None) -> M:
    """The request body validated against `model` (400 with field details otherwise).

    A missing or `null` body is accepted exactly when `{}` is valid for the model (http.body_optional,
    the same test the OpenAPI document uses); `allow_empty` is accepted for compatibility and ignored.
    """
    return http.parse_body(model, current_request().raw_body, get_settings().max_body_bytes)


def query() -> dict[str, str]:
    return dict(current_request().query_params or {})


def respond_once(scope: str, parsed_body: object, operation: Callable[[Tx], tuple[int, Any]]) -> Response:
    """Run `operation(tx)` once per (scope, Idempotency-Key); replays carry `Idempotency-Replay: true`."""
    from .idempotency import fingerprint, get_idempotency, validate_key

    request = current_request()
    key = validate_key(request.headers.get("idempotency-key"))
    payload = parsed_body.model_dump(mode="json") if isinstance(parsed_body, BaseModel) else parsed_body
    outcome = get_idempotency().execute(scope, key, fingerprint(request.method, request.path, payload), operation)
    headers = {"Idempotency-Replay": "true"} if outcome.replayed else None
    return http.json_response(outcome.body, outcome.status, headers)


View = Callable[..., Response]


class Routes(Blueprint):
    """A domain's routes. `get/post/put/delete` add authentication, the body-size limit, the error
    mapping and an OpenAPI entry to Chalice's `route`."""

    def get(self, path: str, **spec: Any) -> Callable[[View], View]:
        return self._operation(path, "GET", **spec)

    def post(self, path: str, **spec: Any) -> Callable[[View], View]:
        return self._operation(path, "POST", **spec)

    def put(self, path: str, **spec: Any) -> Callable[[View], View]:
        return self._operation(path, "PUT", **spec)

    def delete(self, path: str, **spec: Any) -> Callable[[View], View]:
        return self._operation(path, "DELETE", **spec)

    def _operation(
        self,
        path: str,
        method: str,
        *,
        access: Access = Access.PUBLIC,
        request: type[BaseModel] | None = None,
        responses: Mapping[int, type[BaseModel] | tuple[type[BaseModel], ...] | None] | None = None,
        idempotent: bool = False,
        query: tuple[str, ...] = (),
        partner: str | None = None,
        links: Mapping[int, Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> Callable[[View], View]:
        def register(view: View) -> View:
            # A partner route says which kind of partner's key opens it (the gate checks, the document says).
            assert (access is Access.PARTNER) == (partner is not None), f"{method} {path}: partner kind"
            summary = (view.__doc__ or view.__name__).strip().split("\n")[0]
            ROUTE_TABLE.append(
                RouteDoc(
                    path,
                    method,
                    access,
                    summary,
                    request,
                    responses or {200: None},
                    idempotent,
                    query,
                    partner,
                    links or {},
                )
            )
            endpoint = _guarded(view, path, access, takes_body=request is not None, query=query, partner=partner)

            def deferred(app: Chalice, options: dict[str, Any]) -> None:
                authorizer = _wiring.authorizer if access in (Access.MEMBER, Access.ADMIN) else None
                # Any Content-Type reaches the view: _guarded decides 415 itself, with our error body.
                app.route(path, methods=[method], cors=CORS, authorizer=authorizer, content_types=["*/*"])(endpoint)

            self._deferred_registrations.append(deferred)
            return endpoint

        return register


class _Partner(Protocol):
    def require(self, *kinds: Any) -> None: ...


def _guarded(
    view: View,
    path: str,
    access: Access,
    *,
    takes_body: bool = False,
    query: tuple[str, ...] = (),
    partner: str | None = None,
) -> View:
    @functools.wraps(view)
    def endpoint(**params: str) -> Response:
        token = _call.set(Call())
        try:
            request = current_request()
            http.check_path_params(params)
            http.check_request_strings(request.query_params, request.headers)
            http.check_query_names(request.query_params, query)
            limit = get_settings().max_body_bytes
            raw = request.raw_body
            if raw and len(raw) > limit:
                raise PayloadTooLarge(f"Request body exceeds {limit} bytes.")
            if takes_body and raw and raw.strip():
                http.check_content_type(request.headers.get("content-type"))
            if access is Access.PARTNER:
                assert _wiring.partner_gate is not None, "routing.configure was not called"
                caller: _Partner = _wiring.partner_gate(request.headers.get("x-api-key"))  # type: ignore[assignment]
                if partner is not None:
                    caller.require(partner)
                _call.get().partner = caller
            elif access is Access.MEMBER:
                _call.get().principal = get_authenticator().principal(request.headers, request.context)
            elif access is Access.ADMIN:
                _call.get().principal = get_authenticator().admin(request.headers, request.context)
            return view(**params)
        except DomainError as error:
            return http.error_response(error)
        except Exception:
            log.exception("unhandled error", extra={"path": path})
            return http.internal_error_response()
        finally:
            _call.reset(token)

    return endpoint


def http_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Request id on every log line and response; CORS and our error body on every response, the ones
    Chalice answers itself (405, its own 415/400/500) included."""
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    context = getattr(event, "context", None) or {}
    request_id = context.get("requestId") or str(uuid.uuid4())
    token = logs.request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        # Every wait of an API request ends below API Gateway's 29 s, so an outage is our 503 (deadline.py).
        with request_deadline():
            response = http.framework_error_to_ours(get_response(event))
    except Exception:
        log.exception("unhandled error outside a view")
        response = http.internal_error_response()
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
