"""HTTP bodies of operations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..platform.schemas import Out


class Health(Out):
    status: Literal["ok", "degraded"]
    database: Literal["up", "down"]
    migrations: Literal["current", "pending", "unknown"]
    pending_migrations: list[str] = Field(default_factory=list)
    configuration: Literal["ok", "invalid"] = "ok"
    configuration_problems: list[str] = Field(default_factory=list)
