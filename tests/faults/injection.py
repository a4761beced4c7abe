"""Fault injection inside the API process of the fault suite (tests only; never imported by the app).

`install()` wraps the database layer's after-commit step: when the trigger file named by
XANADU_FAULT_TRIGGER exists and a transaction that wrote outbox events has just committed, the process
dies on the spot (os._exit), exactly between COMMIT and the response: the Lambda killed after its
transaction committed but before it answered. The trigger is consumed, so it fires once.
"""

from __future__ import annotations

import os
from typing import Any


def install() -> None:
    from chalicelib.platform import db

    trigger = os.environ.get("XANADU_FAULT_TRIGGER")
    if not trigger:
        return
    original = db._run_after_commit

    def after_commit(tx: Any) -> None:
        if tx._after_commit and os.path.exists(trigger):
            try:
                os.unlink(trigger)
            except FileNotFoundError:
                return original(tx)  # another request took it
            os._exit(137)
        return original(tx)

    db._run_after_commit = after_commit
