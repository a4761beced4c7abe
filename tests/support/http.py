"""Calling the app in tests: the chalice test client with JSON conveniences, and plain urllib for
live servers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


class Api:
    """The chalice test client (same LocalGateway as `chalice local`) with JSON conveniences."""

    def __init__(self, client: Any, tokens: Callable[..., str]):
        self._client = client
        self._tokens = tokens

    def request(
        self,
        method: str,
        path: str,
        *,
        as_user: str | None = None,
        admin: bool = False,
        token: str | None = None,
        json_body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token is None and as_user is not None:
            token = self._tokens(as_user, admin)
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        body = raw if raw is not None else (json.dumps(json_body).encode() if json_body is not None else b"")
        return self._client.http.request(method, path, headers=all_headers, body=body)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


def http_call(
    base: str,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, str], Any]:
    """Plain urllib call for live-server tests: (status, headers, parsed JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return err.code, dict(err.headers), parsed
