"""Promise 4: the expiry job run twice, twice at once (beside spends), or killed mid-run and run
again, ends in the same state as one clean run on an identical dataset.

"State" (points_support.state) is everything expiry touches, named by natural identities:
balances, every lot (remaining, expiry count), every ledger row (type, points, natural key with the
lot named by member and order), the EXPIRE allocations, and the PointsExpired points per member.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.jobs import killable_job
from tests.support.points import T0, credit, debit, new_member, refund, state, truncate

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 60
BATCH = 10  # 60 members x 2 lapsed lots = 120 lapsed lots = 12 batches
# Lapsed lots with points left: all but the first lot of members who spent it and kept the spend.
LAPSED_LOTS = 2 * MEMBERS - len([i for i in range(MEMBERS) if i % 3 == 0 and i % 2 == 1])


def build(db) -> list:
    """The same dataset every time: per member two lapsed lots (one partly spent for some, refunded
    for others) and one live lot."""
    members = []
    for i in range(MEMBERS):
        member = new_member(db, f"m{i:03d}@promise4.test")
        credit(db, member, 100 + i, at=T0 - timedelta(days=400, minutes=-i))  # lapsed 35 days ago
        credit(db, member, 50 + i % 7, at=T0 - timedelta(days=380, minutes=-i))  # lapsed 15 days ago
        credit(db, member, 30, at=T0 - timedelta(days=10, minutes=-i))  # live
        if i % 3 == 0:
            spent = debit(db, member, 120 + i, at=T0 - timedelta(days=390))
            if i % 2 == 0:
                refund(db, spent)
        members.append(member)
    return members


def spends_after_expiry(db, members) -> None:
    """Members spending at T0 (each spend expires the member's lapsed lots first, if still there)."""
    for member in members[::4]:
        debit(db, member, 10, at=T0)


@pytest.fixture
def expiry(db):
    from chalicelib.platform.config import get_settings
    from chalicelib.points.expiry import ExpiryService

    return ExpiryService(db, get_settings())


@pytest.fixture(scope="module")
def clean_state(environment, owner_db):
    """One clean run (then the spends) on the dataset, once per module; each test then starts from
    an empty database (conftest's clean_database) and builds the identical dataset again."""
    from chalicelib.platform.config import get_settings
    from chalicelib.platform.db import get_database
    from chalicelib.points.expiry import ExpiryService

    db = get_database()
    truncate(owner_db)
    members = build(db)
    report = ExpiryService(db, get_settings()).run(now=T0, batch_size=BATCH)
    assert report.lots == LAPSED_LOTS
    expired_only = state(db)
    spends_after_expiry(db, members)
    with_spends = state(db)
    truncate(owner_db)
    return expired_only, with_spends


def test_run_twice_equals_one_clean_run(db, expiry, clean_state):
    build(db)
    expiry.run(now=T0, batch_size=BATCH)
    second = expiry.run(now=T0, batch_size=BATCH)
    assert (second.lots, second.points) == (0, 0)
    assert state(db) == clean_state[0]


def test_two_concurrent_runs_beside_spends_equal_one_clean_run(db, expiry, clean_state):
    members = build(db)
    barrier = threading.Barrier(3)
    reports, errors = [], []

    def job():
        try:
            barrier.wait()
            reports.append(expiry.run(now=T0, batch_size=BATCH))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def spender():
        try:
            barrier.wait()
            spends_after_expiry(db, members)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=job), threading.Thread(target=job), threading.Thread(target=spender)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with db.reader() as tx:
        by_spends = tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE created_by = 'expiry-on-spend'")
    assert sum(r.lots for r in reports) + by_spends == LAPSED_LOTS  # each lapsed lot expired by exactly one
    # Between them (and the spends' own expiry) every lapsed lot expired once.
    assert state(db) == clean_state[1]


CHILD = killable_job("expiry", "ExpiryService", "expire_lapsed")


@pytest.mark.parametrize("mode", ["between", "inside"])
def test_killed_mid_run_then_run_again_equals_one_clean_run(db, expiry, clean_state, mode):
    build(db)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, "4", T0.isoformat(), str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XANADU_ROOT": str(ROOT)},
    )
    try:
        line = child.stdout.readline().strip()
        assert line.startswith("HANGING"), (line, child.stderr.read() if child.poll() is not None else "")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    with db.reader() as tx:
        done = tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'EXPIRE'")
    # Batches 1-3 committed (or 1-4 when killed after the 4th committed); the rest never happened.
    assert 0 < done < 2 * MEMBERS - 10
    assert state(db) != clean_state[0]

    expiry.run(now=T0, batch_size=BATCH)
    assert state(db) == clean_state[0]
