"""OpenAPI 3.1 from the route table (platform.routing.ROUTE_TABLE) and the pydantic models it names.

The document is meant to be exactly true, in both directions (schemathesis checks it, tests/fuzz):
- every status an operation can answer is listed with its body: the declared ones, and those the platform
  answers on every route of a kind (400 bad input; 401/403 on protected routes; 404 where the path names
  something; 413 and 415 where a body is read; 503 when the database is down);
- every request the document allows is accepted: bodies that may be left out are optional (and may be
  `null`), query parameters are described as the parsers read them (cursor pattern, status values), and
  each operation names the one credential it takes (a member's or an admin's ID token, a partner key of
  the right kind).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .http import body_optional
from .paging import CURSOR_PATTERN
from .schemas import ErrorBody

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Invalid request (malformed or invalid body, path, query or header)",
    401: "Missing or invalid credentials",
    403: "Wrong role or partner kind",
    404: "Unknown, malformed or not yours",
    409: "Conflict",
    413: "Body too large",
    415: "Body not sent as application/json",
    503: "Database unavailable",
}
ORDER_STATUSES = ("PENDING", "CONFIRMED", "PACKED", "DELIVERED", "CANCELLED", "FAILED")
# The Idempotency-Key rule (platform/idempotency.validate_key): 1-255 visible ASCII characters, inner spaces allowed.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$"
SECURITY = {
    "member": "memberIdToken",
    "admin": "adminIdToken",
    "STORE": "storePartnerKey",
    "WAREHOUSE": "warehousePartnerKey",
    "DELIVERY": "deliveryPartnerKey",
}


def operation_id(method: str, path: str) -> str:
    return f"{method.lower()}_{_slug(path)}"


def _models(spec: Any) -> tuple[type[BaseModel], ...]:
    if spec is None:
        return ()
    return tuple(spec) if isinstance(spec, tuple) else (spec,)


def build_spec(routes: Iterable[Any]) -> dict[str, Any]:
    routes = list(routes)
    requests = {r.request for r in routes if r.request is not None}
    responses = {m for r in routes for spec in r.responses.values() for m in _models(spec)} | {ErrorBody}
    _, schema = models_json_schema(
        [(m, "validation") for m in sorted(requests, key=lambda m: m.__name__)]
        + [(m, "serialization") for m in sorted(responses - requests, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    components = schema.get("$defs", {})

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def body_of(spec: Any) -> dict[str, Any]:
        models = _models(spec)
        one = ref(models[0]) if len(models) == 1 else {"anyOf": [ref(m) for m in models]}
        return {"application/json": {"schema": one}}

    error = {"content": {"application/json": {"schema": ref(ErrorBody)}}}
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {"summary": r.summary, "operationId": operation_id(r.method, r.path), "responses": {}}
        path_names = re.findall(r"{(\w+)}", r.path)
        params: list[dict[str, Any]] = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in path_names
        ]
        params += [{"name": n, "in": "query", "required": False, "schema": _query_schema(n)} for n in r.query]
        if r.idempotent:
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                }
            )
        if params:
            op["parameters"] = params
        if r.request is not None:
            optional = body_optional(r.request)
            schema_ref = ref(r.request)
            op["requestBody"] = {
                "required": not optional,
                "content": {
                    "application/json": {
                        "schema": {"anyOf": [schema_ref, {"type": "null"}]} if optional else schema_ref
                    }
                },
            }
        if r.access.value != "public":
            scheme = SECURITY[r.partner_kind] if r.access.value == "partner" else SECURITY[r.access.value]
            op["security"] = [{scheme: []}]
        for status, spec in sorted(r.responses.items()):
            entry: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "OK" if status < 400 else "Error")}
            if spec is not None:
                entry["content"] = body_of(spec)
            elif status >= 400:
                entry.update(error)
            links = r.links.get(status)
            if links:
                entry["links"] = {name: dict(link) for name, link in links.items()}
            op["responses"][str(status)] = entry
        defaults = [400, 503]
        if path_names:
            defaults.append(404)
        if r.access.value != "public":
            defaults += [401, 403]
        if r.request is not None:
            defaults += [413, 415]
        for status in defaults:
            op["responses"].setdefault(str(status), {"description": _STATUS_TEXT[status], **error})
        op["responses"] = dict(sorted(op["responses"].items()))
        paths.setdefault(r.path, {})[r.method.lower()] = op
    id_token_text = "Cognito ID token, with or without a Bearer prefix"  # noqa: S105 - a description
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Xanadu Rewards API",
            "version": "1.0.0",
            "description": "Every string, in bodies, paths, queries and headers, is Unicode text without NUL "
            "characters. Errors: {error, code, details}; see docs/errors.md.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "memberIdToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": id_token_text,
                },
                "adminIdToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": f"{id_token_text}, of a member of the admin group",
                },
                **{
                    SECURITY[kind]: {
                        "type": "apiKey",
                        "in": "header",
                        "name": "X-Api-Key",
                        "description": f"API key of a {kind} partner, issued by POST /admin/partners",
                    }
                    for kind in ("STORE", "WAREHOUSE", "DELIVERY")
                },
            },
        },
    }


def _slug(path: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_") or "root"


def _query_schema(name: str) -> dict[str, Any]:
    if name == "limit":
        return {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    if name == "cursor":
        return {"type": "string", "pattern": CURSOR_PATTERN, "description": "next_cursor of the previous page"}
    if name == "status":
        return {"type": "string", "enum": ["", *ORDER_STATUSES]}
    if name == "q":
        return {"type": "string", "maxLength": 320}
    if name in ("member_id", "order_id"):
        return {"type": "string", "format": "uuid", "pattern": _UUID_PATTERN}
    if name in ("since", "until"):
        return {"type": "string", "format": "date-time", "description": "ISO-8601 with a zone"}
    if name == "type":
        return {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_.-]{0,63}$", "description": "event type"}
    return {"type": "string"}


_UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
