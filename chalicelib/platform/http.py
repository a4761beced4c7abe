"""The one place that turns domain outcomes into HTTP: status codes, the error body, CORS, parsing.

Error body everywhere outside checkout: {"error": "human message", "code": "MACHINE_CODE", "details": [...]}.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar
from uuid import UUID

from chalice.app import Response
from pydantic import BaseModel, ValidationError

from . import errors
from .logs import get_logger

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
    (errors.DatabaseUnavailable, 503),
    (errors.DependencyUnavailable, 503),
]

M = TypeVar("M", bound=BaseModel)


def status_of(error: errors.DomainError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    all_headers: dict[str, str | list[str]] = {"Content-Type": "application/json", **CORS_HEADERS, **(headers or {})}
    return Response(body=json.dumps(payload, separators=(",", ":")), status_code=status, headers=all_headers)


def empty_response(status: int = 204) -> Response:
    return Response(body="", status_code=status, headers={**CORS_HEADERS})


def error_response(error: errors.DomainError) -> Response:
    body = {"error": error.message, "code": error.code, "details": error.details}
    return json_response(body, status_of(error))


def internal_error_response() -> Response:
    return json_response({"error": "Internal server error.", "code": "INTERNAL", "details": []}, 500)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": _location(e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def parse_json(raw: str | bytes | None, max_bytes: int) -> Any:
    if raw is not None and len(raw) > max_bytes:
        raise errors.PayloadTooLarge(f"Request body exceeds {max_bytes} bytes.")
    if not raw or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.MalformedJson(f"Request body is not valid JSON: {exc}") from exc


def parse_body(model: type[M], raw: str | bytes | None, max_bytes: int, *, allow_empty: bool = False) -> M:
    data = parse_json(raw, max_bytes)
    if data is None:
        if not allow_empty:
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


def check_path_params(params: dict[str, str]) -> None:
    """Path segments obey the same rule as body strings: no NUL, valid UTF-8 (else 400, not a 500 from
    the database)."""
    from urllib.parse import unquote

    for name, value in params.items():
        try:
            decoded = unquote(value, errors="strict")
        except UnicodeDecodeError:
            decoded = "\x00"
        if "\x00" in decoded or "\x00" in value:
            raise errors.ValidationFailed(
                f"The {name} in the path is not valid text.",
                details=[{"field": name, "message": "must be valid UTF-8 without NUL characters"}],
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
