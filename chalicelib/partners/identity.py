"""The partner behind the current request (routes with partner access)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..platform.routing import call

if TYPE_CHECKING:
    from .models import Partner


def current_partner() -> Partner:
    from .models import Partner  # on first use: importing the routes builds no row types (cold start)

    found = call().partner
    assert isinstance(found, Partner), "route declared without partner access"
    return found
