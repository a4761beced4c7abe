"""Reading the event archive in the database (GET /admin/events). Kept apart from the export job
(archive.py), so the API function is never granted the bucket: it only queries."""

from __future__ import annotations

from ..platform.db import Database
from . import archive_repository as archive
from .models import ArchivedEvent, EventFilter


class EventLog:
    def __init__(self, db: Database):
        self._db = db

    def search(self, wanted: EventFilter, limit: int, cursor: str | None) -> tuple[list[ArchivedEvent], str | None]:
        """Newest first, keyset-paged; each filter optional."""
        with self._db.reader() as tx:
            return archive.search(tx, wanted, limit, cursor)
