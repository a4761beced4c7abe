"""Operations routes: health and the OpenAPI document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Response

from ..platform import http
from ..platform.routing import ROUTE_TABLE, Routes

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it
_spec: dict[str, Any] = {}


@routes.get("/health", responses={200: "Health", 503: "Health"})
def health() -> Response:
    """Database reachability and migration state."""
    from ..platform.db import get_database
    from .health import health_report

    report = health_report(get_database())
    return http.json_response(schemas.Health.model_validate(report), 200 if report.status == "ok" else 503)


@routes.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3 document, generated from the route table and the pydantic models."""
    if not _spec:
        from ..platform.openapi import build_spec

        _spec.update(build_spec(ROUTE_TABLE))
    return http.json_response(_spec)
