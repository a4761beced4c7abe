"""The loop both batched ledger jobs run (expiry of lapsed lots, vesting of pending credits).

Keyset batches in (member_id, time, id) order: each transaction claims the next `size` candidates
after the cursor and locks their members SKIP LOCKED (a member another transaction holds is skipped,
never waited for), applies the job's one statement to the locked members within the batch's range,
and commits whole. The skipped members are swept at the end with a waiting lock. Because every batch
re-reads under the member lock, a run killed anywhere, run again or run twice at once ends as one
clean run (promise 4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from ..platform.db import Database, Tx
from ..platform.jobs import ShouldStop
from . import lot_repository as lots

K = TypeVar("K")
R = TypeVar("R")
K_co = TypeVar("K_co", covariant=True)


class MemberBatch(Protocol[K_co]):
    @property
    def candidates(self) -> int: ...
    @property
    def through(self) -> K_co | None: ...
    @property
    def locked(self) -> list[UUID]: ...
    @property
    def skipped(self) -> list[UUID]: ...


class MemberBatches(Generic[K, R]):
    """`claim(tx, after, size)` takes and locks a batch; `apply(tx, members, after, through)` does the
    job's work (a sweep passes no range); `committed(result, swept_members)` runs after each commit."""

    def __init__(
        self,
        db: Database,
        claim: Callable[[Tx, K, int], MemberBatch[K]],
        apply: Callable[[Tx, list[UUID], K | None, K | None], R],
        committed: Callable[[R, int], None],
    ):
        self._db = db
        self._claim = claim
        self._apply = apply
        self._committed = committed

    def run(self, start: K, size: int, should_stop: ShouldStop | None) -> bool:
        """Walk every batch, then sweep; True when `should_stop` ended the walk early (no sweep then)."""
        cursor = start
        skipped: list[UUID] = []
        while True:
            if should_stop and should_stop():
                return True
            with self._db.transaction() as tx:
                batch = self._claim(tx, cursor, size)
                if batch.candidates == 0:
                    break
                assert batch.through is not None
                done = self._apply(tx, batch.locked, cursor, batch.through)
            skipped.extend(batch.skipped)
            self._committed(done, 0)
            cursor = batch.through
            if batch.candidates < size:
                break
        self._sweep(sorted(set(skipped), key=str), size)
        return False

    def _sweep(self, member_ids: list[UUID], size: int) -> None:
        """Members skipped because another transaction held them: wait for them this time."""
        for i in range(0, len(member_ids), size):
            chunk = member_ids[i : i + size]
            with self._db.transaction() as tx:
                done = self._apply(tx, lots.lock_members(tx, chunk), None, None)
            self._committed(done, len(chunk))
