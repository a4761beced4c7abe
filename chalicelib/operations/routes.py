"""Operations routes: health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chalice.app import Response

from ..platform import http
from ..platform.routing import ROUTE_TABLE, Routes
from .schemas import Health

routes = Routes(__name__)
_spec: dict[str, Any] = {}


@routes.get("/health", responses={200: Health, 503: Health})
def health() -> Response:
    """Database reachability and migration state."""
    from ..platform.db import get_database
    from .health import health_report

    report = health_report(get_database())
    return http.json_response(Health.model_validate(report), 200 if report.status == "ok" else 503)


@routes.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3 document, generated from the route table and the pydantic models."""
    if not _spec:
        from ..platform.openapi import build_spec

        _spec.update(build_spec(ROUTE_TABLE))
    return http.json_response(_spec)
