from __future__ import annotations

from ..db import Database
from ..errors import DatabaseUnavailable
from ..logs import get_logger
from ..migrations import available, pending
from ..models import Health

log = get_logger(__name__)


def health_report(db: Database) -> Health:
    """Degraded (503) when the database is unreachable or behind the code's migrations, or the
    stage's configuration cannot work (chalicelib/readiness.py)."""
    from ..readiness import configuration_problems

    problems = configuration_problems(db.settings)
    report = _database_report(db)
    if problems:
        return report.model_copy(update={"status": "degraded", "configuration": "invalid",
                                         "configuration_problems": problems})
    return report


def _database_report(db: Database) -> Health:
    try:
        with db.reader() as tx:
            missing = pending(tx)
    except DatabaseUnavailable:
        return Health(status="degraded", database="down", migrations="unknown")
    except Exception:
        log.exception("health check failed")
        return Health(status="degraded", database="down", migrations="unknown")
    if missing:
        return Health(status="degraded", database="up", migrations="pending", pending_migrations=missing)
    return Health(status="ok", database="up", migrations="current")


__all__ = ["health_report", "available"]
