"""Health: is the database reachable and are its migrations current."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from ..platform.db import Database
from ..platform.errors import DatabaseUnavailable
from ..platform.logs import get_logger
from ..platform.migrations import pending

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: Literal["ok", "degraded"]
    database: Literal["up", "down"]
    migrations: Literal["current", "pending", "unknown"]
    pending_migrations: list[str] = field(default_factory=list)
    configuration: Literal["ok", "invalid"] = "ok"
    configuration_problems: list[str] = field(default_factory=list)


def health_report(db: Database) -> HealthReport:
    """Degraded (503) when the database is unreachable or behind the code's migrations, or the stage's
    configuration cannot work (platform/readiness.py)."""
    from ..platform.readiness import configuration_problems

    problems = configuration_problems(db.settings)
    report = _database_report(db)
    if problems:
        return replace(report, status="degraded", configuration="invalid", configuration_problems=problems)
    return report


def _database_report(db: Database) -> HealthReport:
    try:
        with db.reader() as tx:
            missing = pending(tx)
    except DatabaseUnavailable:
        return HealthReport(status="degraded", database="down", migrations="unknown")
    except Exception:
        log.exception("health check failed")
        return HealthReport(status="degraded", database="down", migrations="unknown")
    if missing:
        return HealthReport(status="degraded", database="up", migrations="pending", pending_migrations=missing)
    return HealthReport(status="ok", database="up", migrations="current")
