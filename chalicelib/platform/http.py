"""The one place that turns domain outcomes into HTTP: status codes, the error body, CORS, parsing.

Error body everywhere outside checkout: {"error": "human message", "code": "MACHINE_CODE", "details": [...]}.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote
from uuid import UUID

from chalice.app import Response

from . import errors
from .logs import get_logger
from .text import text_problem

if TYPE_CHECKING:  # pydantic is imported by the requests that validate a body, not by every request
    from pydantic import BaseModel, ValidationError

log = get_logger(__name__)

CORS_ALLOW_HEADERS = (
    "Content-Type",
    "Authorization",
    "X-Api-Key",
    "Idempotency-Key",
    "X-Amz-Date",
    "X-Amz-Security-Token",
)
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": ",".join(CORS_ALLOW_HEADERS),
    "Access-Control-Allow-Methods": "GET,POST,PUT,DELETE,OPTIONS",
    "Access-Control-Expose-Headers": "Idempotency-Replay,X-Request-Id",
}

_STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.MalformedJson, 400),
    (errors.ValidationFailed, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.DatabaseUnavailable, 503),
    (errors.DependencyUnavailable, 503),
]

M = TypeVar("M", bound="BaseModel")


def status_of(error: errors.DomainError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`body`: a response model, or what json.dumps takes (dicts and lists built to a schema, e.g. the catalog)."""
    dump = getattr(body, "model_dump", None)
    payload = dump(mode="json") if dump is not None else body
    all_headers: dict[str, str | list[str]] = {"Content-Type": "application/json", **CORS_HEADERS, **(headers or {})}
    return Response(body=json.dumps(payload, separators=(",", ":")), status_code=status, headers=all_headers)


def empty_response(status: int = 204) -> Response:
    return Response(body="", status_code=status, headers={**CORS_HEADERS})


def error_response(error: errors.DomainError) -> Response:
    body = {"error": error.message, "code": error.code, "details": error.details}
    return json_response(body, status_of(error))


def internal_error_response() -> Response:
    return json_response({"error": "Internal server error.", "code": "INTERNAL", "details": []}, 500)


# Chalice's own answers (405 on a known path, and its 400/415/500 bodies) carry {"Code", "Message"}.
_FRAMEWORK_CODES = {
    400: ("BAD_REQUEST", "The request is not valid."),
    403: ("FORBIDDEN", "Forbidden."),
    404: ("NOT_FOUND", "No such resource."),
    405: ("METHOD_NOT_ALLOWED", "This method is not allowed on this path."),
    406: ("NOT_ACCEPTABLE", "No acceptable representation."),
    413: ("PAYLOAD_TOO_LARGE", "Request body too large."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Send the request body as application/json."),
    500: ("INTERNAL", "Internal server error."),
}


def framework_error_to_ours(response: Response) -> Response:
    """A response Chalice produced itself (not a view) gets our error body, keeping its status and headers."""
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
        return response
    code, message = _FRAMEWORK_CODES.get(response.status_code, ("ERROR", "The request failed."))
    if response.status_code == 405:
        message = f"{message} Allowed: {response.headers.get('Allow', '')}."
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    ours = json_response({"error": message, "code": code, "details": []}, response.status_code)
    ours.headers.update(headers)
    return ours


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": _location(e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


# -- request bodies: the one parser ---------------------------------------------------------------
# Nesting deeper than this is refused before the JSON decoder runs (CPython's decoder recurses once per
# level and would hit the interpreter's recursion limit long before any body of ours is that deep).
MAX_JSON_DEPTH = 32
_JSON_TOKENS = r'"(?:[^"\\]|\\.)*"|[\[\]{}]'  # compiled (and cached by `re`) by the first body parsed


def _json_number(text: str) -> int | float:
    """JSON numbers with a fraction or exponent: integral ones (86.0, 1e2) are integers, as JSON Schema
    says, so a field documented as `integer` accepts every number the document allows."""
    value = float(text)
    if math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_depth(text: str, max_depth: int) -> None:
    """Bounded and iterative: strings are skipped whole, brackets counted; stops at the first excess."""
    depth = 0
    for token in re.finditer(_JSON_TOKENS, text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > max_depth:
                raise errors.ValidationFailed(
                    f"The JSON body is nested more than {max_depth} levels deep.",
                    details=[{"field": "body", "message": f"nested more than {max_depth} levels"}],
                )
        elif char in "]}":
            depth -= 1


def check_strings(value: Any, root: str = "body") -> None:
    """Every string in a parsed body, keys included, however nested, obeys the text rule (text.py)."""
    stack: list[tuple[Any, str]] = [(value, root)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, where)
                stack.append((child, f"{where}.{key}" if where != "body" else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}.{index}") for index, child in enumerate(item))


def _check_text(value: str, where: str) -> None:
    problem = text_problem(value)
    if problem is not None:
        field = where if text_problem(where) is None else "body"
        raise errors.ValidationFailed(
            f"{field} is not valid text: it {problem}.", details=[{"field": field, "message": problem}]
        )


def parse_json(raw: str | bytes | None, max_bytes: int, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The request body as JSON: size limit (413), UTF-8 only, nesting limit, no NaN/Infinity, the text
    rule for every string. An empty body and a JSON `null` are both "no body" (None)."""
    if raw is not None and len(raw) > max_bytes:
        raise errors.PayloadTooLarge(f"Request body exceeds {max_bytes} bytes.")
    if not raw or not raw.strip():
        return None
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise errors.MalformedJson(f"Request body is not UTF-8: {exc.reason} at byte {exc.start}.") from None
    _check_depth(text, max_depth)
    try:
        data = json.loads(text, parse_float=_json_number, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise errors.MalformedJson(f"Request body is not valid JSON: {exc}") from None
    check_strings(data)
    return data


def body_optional(model: type[BaseModel]) -> bool:
    """A body may be left out (or be `null`) exactly when an empty object is valid for the model; the
    OpenAPI document marks those bodies optional by the same test."""
    cached = _OPTIONAL_BODIES.get(model)
    if cached is None:
        from pydantic import ValidationError

        try:
            model.model_validate({})
            cached = True
        except ValidationError:
            cached = False
        _OPTIONAL_BODIES[model] = cached
    return cached


_OPTIONAL_BODIES: dict[type[BaseModel], bool] = {}


def parse_body(model: type[M], raw: str | bytes | None, max_bytes: int) -> M:
    from pydantic import ValidationError

    data = parse_json(raw, max_bytes)
    if data is None:
        if not body_optional(model):
            raise errors.ValidationFailed(
                "A JSON body is required.", details=[{"field": "body", "message": "required"}]
            )
        data = {}
    if not isinstance(data, dict):
        raise errors.ValidationFailed(
            "The JSON body must be an object.", details=[{"field": "body", "message": "must be an object"}]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.ValidationFailed("The request body is invalid.", details=validation_details(exc)) from exc


def is_json_media_type(content_type: str | None) -> bool:
    """application/json, any +json type, and no Content-Type at all (API Gateway's default)."""
    if not content_type or not content_type.strip():
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def check_content_type(content_type: str | None) -> None:
    if not is_json_media_type(content_type):
        raise errors.UnsupportedMediaType(
            "Send the request body as application/json.",
            details=[{"field": "Content-Type", "message": "must be application/json"}],
        )


# -- strings outside the body: path segments, query parameters, headers ---------------------------
def check_path_params(params: dict[str, str]) -> None:
    """Path segments obey the text rule after percent-decoding (NUL, invalid UTF-8: 400)."""
    for name, value in params.items():
        try:
            decoded = unquote(value, errors="strict")
        except UnicodeDecodeError:
            decoded = "\udc80"  # invalid UTF-8: refused below like a lone surrogate
        problem = text_problem(value) or text_problem(decoded)
        if problem is not None:
            raise errors.ValidationFailed(
                f"The {name} in the path is not valid text.",
                details=[{"field": name, "message": "must be valid UTF-8 without NUL characters"}],
            )


def check_query_names(query: Mapping[str, Any] | None, allowed: tuple[str, ...]) -> None:
    """A query parameter the route does not take is refused (like an unknown body field), not ignored."""
    unknown = sorted(name for name in (query or {}) if name not in allowed)
    if unknown:
        shown = ", ".join(repr(n) if text_problem(n) is None else "(not text)" for n in unknown)
        raise errors.ValidationFailed(
            f"Unknown query parameter(s): {shown}.",
            details=[{"field": n if text_problem(n) is None else "query", "message": "unknown"} for n in unknown],
        )


def check_request_strings(query: Mapping[str, Any] | None, headers: Mapping[str, str] | None) -> None:
    """Query parameters (every value of a repeated one) and header values obey the same text rule."""
    getlist = getattr(query, "getlist", None)
    pairs = [(n, v) for n in (query or {}) for v in (getlist(n) if getlist else [query[n]])]  # type: ignore[index]
    for name, value in pairs:
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            field = name if text_problem(name) is None else "query"
            raise errors.ValidationFailed(
                f"The query parameter {field} is not valid text.", details=[{"field": field, "message": problem}]
            )
    for name, value in (headers or {}).items():
        problem = text_problem(value)
        if problem is not None:
            raise errors.ValidationFailed(
                f"The {name} header is not valid text.", details=[{"field": name, "message": problem}]
            )


def parse_uuid(value: str, what: str = "resource") -> UUID:
    """Path ids: a malformed id names nothing we have, so it is a 404 like an unknown one."""
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise errors.NotFound(f"Unknown {what}.") from None


def parse_limit(query: dict[str, str] | None, default: int = 20, maximum: int = 100) -> int:
    raw = (query or {}).get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.ValidationFailed(
            "limit must be an integer between 1 and 100.", details=[{"field": "limit", "message": "not an integer"}]
        ) from None
    if not 1 <= value <= maximum:
        raise errors.ValidationFailed(
            f"limit must be between 1 and {maximum}.", details=[{"field": "limit", "message": "out of range"}]
        )
    return value
