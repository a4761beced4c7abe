"""Lambda SnapStart runtime hooks (python3.12+ runtimes with SnapStart on published versions).

Why: a snapshot freezes the whole process, open sockets included. A database connection (or a
cached Secrets Manager password) captured in the snapshot would be shared by every environment
restored from it and is dead on restore anyway. Nothing connects at import today, but any warm-up
added later would; the hook makes that safe. `snapshot_restore_py` exists only in Lambda's runtime,
so elsewhere registering is a no-op.
"""

from __future__ import annotations


def drop_connections() -> None:
    """Close every pooled database connection and forget cached credentials and settings."""
    from .config import reset_settings
    from .db import reset_database

    reset_database()
    reset_settings()


def register_hooks() -> bool:
    """Register the before-snapshot hook when running in Lambda's runtime; True if registered."""
    try:
        from snapshot_restore_py import register_before_snapshot  # only in Lambda; mypy config ignores it
    except ImportError:
        return False
    register_before_snapshot(drop_connections)
    return True
