from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from ..config import Settings
from ..db import Database
from ..errors import NotFound
from ..models import LedgerEntry, Member, TransactionDetail, TransactionItem, Transaction
from ..repositories import ledger, members


class PointsService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings

    def summary(self, member_id: UUID) -> Member:
        with self._db.reader() as tx:
            member = members.get(tx, member_id)
        if member is None:
            raise NotFound("Unknown member.", code="MEMBER_NOT_FOUND")
        return member

    def history(self, member_id: UUID, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
        with self._db.reader() as tx:
            return ledger.list_for_member(tx, member_id, limit, cursor)

    def transaction(self, member_id: UUID, entry_id: UUID) -> TransactionDetail:
        """Someone else's entry is indistinguishable from a missing one: 404 either way."""
        with self._db.reader() as tx:
            entry = ledger.get_for_member(tx, member_id, entry_id)
            if entry is None:
                raise NotFound("Unknown transaction.", code="TRANSACTION_NOT_FOUND")
            items: list[TransactionItem] = ledger.items_of_order(tx, entry.order_id) if entry.order_id else []
        return TransactionDetail(**Transaction.of(entry).model_dump(), items=items)

    def lot_lifetime(self) -> timedelta:
        return timedelta(days=self._settings.lot_lifetime_days)
