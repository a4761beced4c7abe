"""How a domain declares its HTTP routes: a Chalice Blueprint with access control, the body-size limit,
the one error mapping and OpenAPI metadata on every route.

    routes = Routes(__name__)
    if TYPE_CHECKING:
        from . import schemas
    else:
        schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it

    @routes.post("/prod/things", request="ThingCreate", responses={201: "ThingEnvelope"})
    def create_thing() -> Response:
        wanted = body(schemas.ThingCreate)
        ...

Request and response models are named, not imported: a name is looked up in the domain's `schemas`
module (or "<domain>.schemas:Name" for another domain's) when a request needs the model and when
/openapi.json is built, so importing app.py imports no pydantic model and no pydantic (issue 11's
lean cold path). Passing the class itself still works.

app.py registers every domain's `routes` (after `configure`, which hands over the Cognito authorizer and
the partner-key check). Inside a view, `principal()`, `body(Model)`, `query()` and `respond_once(...)`
read the current call.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import os
import time
import uuid
from collections.abc import Callable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from chalice.app import Authorizer, Blueprint, Chalice, CognitoUserPoolAuthorizer, CORSConfig, Request, Response

from . import http, logs
from .config import get_settings
from .deadline import request_deadline
from .errors import DomainError, PayloadTooLarge

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .auth import Authenticator, Principal
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


def resolve(ref: type[BaseModel] | str, schemas: str) -> type[BaseModel]:
    """The model a reference names: "Name" in the module `schemas`, "domain.module:Name" in chalicelib.domain.module."""
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.rpartition(":")
    model: type[BaseModel] = getattr(importlib.import_module(f"chalicelib.{module}" if module else schemas), name)
    return model


class LazyModule:
    """A module imported on first attribute access (importlib's import is thread-safe; later accesses are a
    dictionary lookup). Route modules use it for their schemas."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


class RouteDoc(NamedTuple):
    """One operation of the OpenAPI document. `request` and `responses` resolve model names on access.

    (This module's types are tuples and plain classes, not dataclasses: generating a dataclass costs ~1 ms
    at import, and every cold start imports this module.)
    """

    path: str
    method: str
    access: Access
    summary: str
    request_ref: type[BaseModel] | str | None
    # A status's body: one model, several (any of them, e.g. checkout's success true/false), or none.
    response_refs: Mapping[int, type[BaseModel] | str | tuple[type[BaseModel] | str, ...] | None]
    idempotent: bool = False
    query: tuple[str, ...] = ()
    partner_kind: str | None = None  # partner routes: the kind of partner whose key they take
    # OpenAPI links from a response to other operations (stateful fuzzing follows them).
    links: Mapping[int, Mapping[str, Mapping[str, Any]]] = MappingProxyType({})
    schemas: str = ""  # the module that model names are looked up in

    @property
    def request(self) -> type[BaseModel] | None:
        return None if self.request_ref is None else resolve(self.request_ref, self.schemas)

    @property
    def responses(self) -> dict[int, type[BaseModel] | tuple[type[BaseModel], ...] | None]:
        resolved: dict[int, type[BaseModel] | tuple[type[BaseModel], ...] | None] = {}
        for status, spec in self.response_refs.items():
            if spec is None:
                resolved[status] = None
            elif isinstance(spec, tuple):
                resolved[status] = tuple(resolve(ref, self.schemas) for ref in spec)
            else:
                resolved[status] = resolve(spec, self.schemas)
        return resolved


# Every declared operation, in declaration order: the source of /openapi.json.
ROUTE_TABLE: list[RouteDoc] = []


class Call:
    """What the current request has established about its caller."""

    __slots__ = ("memo", "partner", "principal")

    def __init__(self) -> None:
        self.principal: Principal | None = None
        self.partner: object | None = None
        # Per-request memo for domains (e.g. the member id behind the principal).
        self.memo: dict[str, Any] = {}


_call: contextvars.ContextVar[Call] = contextvars.ContextVar("call")


class _Wiring:
    __slots__ = ("app", "authorizer", "partner_gate")

    def __init__(self) -> None:
        self.app: Chalice | None = None
        self.authorizer: Authorizer | None = None
        self.partner_gate: Callable[[str | None], object] | None = None


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


M = TypeVar("M", bound="BaseModel")


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
    dump = getattr(parsed_body, "model_dump", None)
    payload = dump(mode="json") if dump is not None else parsed_body
    outcome = get_idempotency().execute(scope, key, fingerprint(request.method, request.path, payload), operation)
    headers = {"Idempotency-Replay": "true"} if outcome.replayed else None
    return http.json_response(outcome.body, outcome.status, headers)


View = Callable[..., Response]


class Routes(Blueprint):
    """A domain's routes. `get/post/put/delete` add authentication, the body-size limit, the error
    mapping and an OpenAPI entry to Chalice's `route`."""

    @property
    def schemas(self) -> Any:
        """The domain's schemas module, imported on first use (the module docstring shows the idiom)."""
        return LazyModule(self._schemas_module)

    @property
    def _schemas_module(self) -> str:
        """The routes module's schemas: `x.routes` -> `x.schemas`, `x.promotion_routes` -> `x.promotion_schemas`."""
        package, _, module = self._import_name.rpartition(".")
        return f"{package}.{module.removesuffix('routes')}schemas"

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
        request: type[BaseModel] | str | None = None,
        responses: Mapping[int, type[BaseModel] | str | tuple[type[BaseModel] | str, ...] | None] | None = None,
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
                    self._schemas_module,
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
                _call.get().principal = _authenticator().principal(request.headers, request.context)
            elif access is Access.ADMIN:
                _call.get().principal = _authenticator().admin(request.headers, request.context)
            return view(**params)
        except DomainError as error:
            return http.error_response(error)
        except Exception:
            log.exception("unhandled error", extra={"path": path})
            return http.internal_error_response()
        finally:
            _call.reset(token)

    return endpoint


def _authenticator() -> Authenticator:
    """Imported by the first member or admin request, not by every cold start (a catalog read needs none)."""
    from .auth import get_authenticator

    return get_authenticator()


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
