"""A batched ledger job run in a child process that hangs where the test wants to kill it."""

from __future__ import annotations

_TEMPLATE = r"""
import importlib, os, sys, time
sys.path.insert(0, os.environ["XANADU_ROOT"])
from datetime import datetime
from chalicelib.platform.config import get_settings
from chalicelib.platform.db import get_database
from chalicelib.points import ledger_repository as ledger

mode, kill_at = sys.argv[1], int(sys.argv[2])
batches = 0
real_statement = getattr(ledger, "{statement}")

def statement_then_hang(*args, **kwargs):
    # Inside the batch's transaction, after its statement ran and before it commits.
    global batches
    result = real_statement(*args, **kwargs)
    batches += 1
    if mode == "inside" and batches == kill_at:
        print("HANGING-UNCOMMITTED", flush=True)
        time.sleep(60)
    return result

def progress(report):
    # After the batch committed, before the next one starts.
    if mode == "between" and report.batches == kill_at:
        print("HANGING-COMMITTED", flush=True)
        time.sleep(60)

setattr(ledger, "{statement}", statement_then_hang)
service = getattr(importlib.import_module("chalicelib.points.{module}"), "{service}")
service(get_database(), get_settings()).run(
    now=datetime.fromisoformat(sys.argv[3]), batch_size=int(sys.argv[4]), progress=progress)
print("FINISHED", flush=True)
"""


def killable_job(module: str, service: str, statement: str) -> str:
    """Source for `python -c`: argv = mode ("between" | "inside"), the batch to hang at, now, batch size.
    It prints HANGING-COMMITTED / HANGING-UNCOMMITTED where it hangs, FINISHED when it is not killed."""
    return _TEMPLATE.replace("{module}", module).replace("{service}", service).replace("{statement}", statement)
