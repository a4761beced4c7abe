"""Promotions, as admins manage them (/admin/promotions). How a purchase earns them is in
`promotion_policy` (the rule) and `earning` (the grant, under the budget's row lock).

Lifecycle: SCHEDULED (before starts_at) -> RUNNING -> ENDED (from ends_at on); INACTIVE once
deleted (deactivated, kept for the ledger's references). Before it starts a promotion may change
freely (PUT); once it runs only `ends_at` may move, and only earlier (ending it early; a time in the
past ends it now); once it ended nothing changes. Every change locks the promotion row, which a
purchase granting from its budget also locks, so a change never lands in the middle of a grant.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ..platform.db import Database
from ..platform.errors import NotFound, PromotionLocked, ValidationFailed
from . import promotion_repository as repository
from .models import Promotion, PromotionTerms


def check_terms(terms: PromotionTerms) -> None:
    """The rules across fields (each field's own range is checked by the request body)."""
    problems: list[dict[str, str]] = []
    if terms.ends_at <= terms.starts_at:
        problems.append({"field": "ends_at", "message": "must be after starts_at"})
    if terms.kind == "MULTIPLIER":
        if terms.multiplier is None:
            problems.append({"field": "multiplier", "message": "a MULTIPLIER promotion needs a multiplier"})
        if terms.bonus_points is not None:
            problems.append({"field": "bonus_points", "message": "only BONUS promotions have bonus_points"})
    else:
        if terms.bonus_points is None:
            problems.append({"field": "bonus_points", "message": "a BONUS promotion needs bonus_points"})
        if terms.multiplier is not None:
            problems.append({"field": "multiplier", "message": "only MULTIPLIER promotions have a multiplier"})
    if problems:
        raise ValidationFailed("The promotion is invalid.", details=problems)


class PromotionService:
    def __init__(self, db: Database):
        self._db = db

    def create(self, terms: PromotionTerms, admin: str) -> Promotion:
        check_terms(terms)
        if terms.ends_at <= datetime.now(UTC):
            raise ValidationFailed(
                "The promotion would end in the past.",
                details=[{"field": "ends_at", "message": "must be in the future"}],
            )
        with self._db.transaction() as tx:
            return repository.insert(tx, terms, admin)

    def get(self, promotion_id: UUID) -> Promotion:
        with self._db.reader() as tx:
            found = repository.get(tx, promotion_id)
        if found is None:
            raise NotFound("Unknown promotion.", code="PROMOTION_NOT_FOUND")
        return found

    def list(self, limit: int, cursor: str | None) -> tuple[list[Promotion], str | None]:
        with self._db.reader() as tx:
            return repository.list_page(tx, limit, cursor)

    def change(self, promotion_id: UUID, changes: dict[str, Any]) -> Promotion:
        with self._db.transaction() as tx:
            state = repository.lock(tx, promotion_id)
            if state is None:
                raise NotFound("Unknown promotion.", code="PROMOTION_NOT_FOUND")
            now = state["now"]
            if not state["active"]:
                raise PromotionLocked("This promotion was deleted; it cannot change.")
            if now >= state["ends_at"]:
                raise PromotionLocked("This promotion has ended; it cannot change.")
            if now >= state["starts_at"]:
                if set(changes) != {"ends_at"}:
                    raise PromotionLocked(
                        "This promotion is running: the only change allowed is an earlier ends_at (ending it early)."
                    )
                if changes["ends_at"] > state["ends_at"]:
                    raise PromotionLocked("A running promotion can end earlier, never later.")
                repository.end_at(tx, promotion_id, changes["ends_at"])
            else:
                current = repository.get(tx, promotion_id)
                assert current is not None
                merged = dataclasses.replace(_terms_of(current), **changes)
                check_terms(merged)
                if merged.ends_at <= now:
                    raise ValidationFailed(
                        "The promotion would end in the past.",
                        details=[{"field": "ends_at", "message": "must be in the future"}],
                    )
                repository.update_terms(tx, promotion_id, changes)
            found = repository.get(tx, promotion_id)
            assert found is not None
            return found

    def deactivate(self, promotion_id: UUID) -> Promotion:
        """DELETE: the promotion stops applying at once; repeatable; its awards stay on the ledger."""
        with self._db.transaction() as tx:
            if not repository.deactivate(tx, promotion_id):
                raise NotFound("Unknown promotion.", code="PROMOTION_NOT_FOUND")
            found = repository.get(tx, promotion_id)
            assert found is not None
            return found


def _terms_of(p: Promotion) -> PromotionTerms:
    return PromotionTerms(
        **{f.name: getattr(p, f.name) for f in dataclasses.fields(PromotionTerms)},
    )
