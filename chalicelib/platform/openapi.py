"""OpenAPI 3.1 from the route table in app.py and the pydantic models it names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .schemas import ErrorBody

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Invalid request",
    401: "Missing or invalid token",
    403: "Wrong role",
    404: "Unknown or not yours",
    409: "Conflict",
    413: "Body too large",
    503: "Database unavailable",
}


def build_spec(routes: Iterable[Any]) -> dict[str, Any]:
    routes = list(routes)
    requests = {r.request for r in routes if r.request is not None}
    responses = {m for r in routes for m in r.responses.values() if m is not None} | {ErrorBody}
    _, schema = models_json_schema(
        [(m, "validation") for m in sorted(requests, key=lambda m: m.__name__)]
        + [(m, "serialization") for m in sorted(responses - requests, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    components = schema.get("$defs", {})

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error = {"description": "Error", "content": {"application/json": {"schema": ref(ErrorBody)}}}
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {
            "summary": r.summary,
            "operationId": f"{r.method.lower()}_{_slug(r.path)}",
            "responses": {},
        }
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"{(\w+)}", r.path)
        ]
        params += [{"name": n, "in": "query", "required": False, "schema": _query_schema(n)} for n in r.query]
        if r.idempotent:
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            )
        if params:
            op["parameters"] = params
        if r.request is not None:
            op["requestBody"] = {
                "required": r.method in ("POST", "PUT"),
                "content": {"application/json": {"schema": ref(r.request)}},
            }
        if r.access.value != "public":
            op["security"] = [{"partnerKey": []}] if r.access.value == "partner" else [{"cognitoIdToken": []}]
        for status, model in r.responses.items():
            if status >= 400:
                op["responses"][str(status)] = {**error, "description": _STATUS_TEXT.get(status, "Error")}
            elif model is None:
                op["responses"][str(status)] = {"description": _STATUS_TEXT.get(status, "OK")}
            else:
                op["responses"][str(status)] = {
                    "description": _STATUS_TEXT.get(status, "OK"),
                    "content": {"application/json": {"schema": ref(model)}},
                }
        defaults = {"400": 400, "503": 503}
        if r.access.value != "public":
            defaults.update({"401": 401, "403": 403})
        for key, status in defaults.items():
            op["responses"].setdefault(key, {**error, "description": _STATUS_TEXT[status]})
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Xanadu Rewards API", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "cognitoIdToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Cognito ID token, with or without 'Bearer '",
                },
                "partnerKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
        },
    }


def _slug(path: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_") or "root"


def _query_schema(name: str) -> dict[str, Any]:
    if name == "limit":
        return {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    return {"type": "string"}
