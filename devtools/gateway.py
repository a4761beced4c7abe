"""chalice local (and chalice.test.Client) answer unknown paths the way the deployed API Gateway does.

Deployed, API Gateway answers a path no route matches with its MISSING_AUTHENTICATION_TOKEN gateway
response, which the packaged API configures as 404 with our error body and CORS headers. chalice
local imitates API Gateway's default instead (403 `{"message": "Missing Authentication Token"}`), so
`make run` and the tests install this once to serve what production serves. Dev only, never deployed.
"""

from __future__ import annotations

import json
from typing import Any

NOT_FOUND_BODY = {"error": "No such route.", "code": "NOT_FOUND", "details": []}


def not_found_response() -> dict[str, Any]:
    from chalicelib.platform.http import CORS_HEADERS

    return {
        "statusCode": 404,
        "headers": {"Content-Type": "application/json", **CORS_HEADERS},
        "multiValueHeaders": {},
        "body": json.dumps(NOT_FOUND_BODY),
    }


def install() -> None:
    """Idempotent: wraps LocalGateway.handle_request so that an unmatched path is our 404."""
    from chalice import local

    original = local.LocalGateway.handle_request
    if getattr(original, "_xanadu_gateway", False):
        return

    def handle_request(
        self: local.LocalGateway, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Any:
        try:
            self.event_converter._route_matcher.match_route(path)
        except ValueError:
            return not_found_response()
        return original(self, method, path, headers, body)

    handle_request._xanadu_gateway = True  # type: ignore[attr-defined]
    local.LocalGateway.handle_request = handle_request  # type: ignore[method-assign]
    # http.server answers methods its handler has no do_X for with its own 501 HTML page; let them reach
    # the app, which answers 405 with our body (as it does for any method a path does not have).
    for method in ("TRACE", "CONNECT", "PROPFIND", "QUERY"):
        setattr(local.ChaliceRequestHandler, f"do_{method}", local.ChaliceRequestHandler._generic_handle)
