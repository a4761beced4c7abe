"""Found by the fault suite (issue 10 item 5): two money operations of one member that both first insert a
row referencing the member (an order, a reservation: the foreign key takes a KEY SHARE lock on the member
row) and then lock the member row to move points deadlocked (40P01, a 500) when that lock was FOR UPDATE,
which conflicts with KEY SHARE. Member (and order) rows are locked FOR NO KEY UPDATE: it serialises the
movers and lets foreign keys be."""

from __future__ import annotations

import threading

from chalicelib.points import ledger_repository as ledger
from tests.support.points import credit as give
from tests.support.points import new_member, sums


def test_two_debits_of_one_member_after_foreign_key_inserts_do_not_deadlock(db):
    from datetime import UTC, datetime

    member = new_member(db, "upgrade@example.com")
    give(db, member, 100, at=datetime.now(UTC))
    both_share = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def spend() -> None:
        try:
            with db.transaction() as tx:
                tx.fetch("SELECT 1 FROM members WHERE id = :m FOR KEY SHARE", m=member)  # what an FK insert takes
                both_share.wait()
                ledger.debit(tx, member, "SPEND", 10, "racing spend")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=spend) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sums(db, member) == {"balance": 80, "ledger": 80, "lots": 80}
