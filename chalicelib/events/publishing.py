"""The outbox's after-commit hook: who relays events once the transaction that wrote them commits.

Its own small module so the composition root can install the hook without importing the outbox itself
(a catalog read on a cold start writes no events and should not pay for the module); `events.outbox`
re-exports both functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..platform.db import Tx

_publisher: Callable[[], None] | None = None


def set_publisher(publish: Callable[[], None] | None) -> None:
    """Installed once by the composition root: what runs after a transaction that wrote events commits."""
    global _publisher
    _publisher = publish


def written(tx: Tx) -> None:
    """This transaction wrote outbox rows: relay them once it commits (dropped if it rolls back)."""
    if _publisher is not None:
        tx.after_commit(_publisher)
