"""The partner behind the current request (routes with partner access)."""

from __future__ import annotations

from ..platform.routing import call
from .models import Partner


def current_partner() -> Partner:
    found = call().partner
    assert isinstance(found, Partner), "route declared without partner access"
    return found
