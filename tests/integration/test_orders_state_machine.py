"""The full order state machine as a table: every status x every action, against the real database
(stock, points and history move as the table says; the table itself is tests/unit/test_order_state_machine_rules.py).
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.members import repository as members
from chalicelib.members.models import Profile
from chalicelib.orders.lifecycle import Action, transition
from chalicelib.orders.models import LineDraft
from chalicelib.orders.placement import place_order
from chalicelib.platform.errors import InvalidTransition
from chalicelib.points import ledger_repository as ledger
from tests.support.order_rules import EXPECTED, ILLEGAL, NOOP, PATH_TO

CASES = [(status, action) for status in EXPECTED for action in EXPECTED[status]]


def _snapshot(tx, order_id, member_id, product_id):
    return {
        "status": tx.fetch_value("SELECT status FROM orders WHERE id = :o", o=order_id),
        "history": [
            r["status"]
            for r in tx.fetch("SELECT status FROM order_status_history WHERE order_id = :o ORDER BY at", o=order_id)
        ],
        "events": [
            (r["payload"]["from_status"], r["payload"]["to_status"])
            for r in tx.fetch(
                "SELECT payload FROM outbox_events WHERE aggregate_id = :o AND event_type = 'OrderStatusChanged' "
                "ORDER BY created_at",
                o=order_id,
            )
        ],
        "refunds": tx.fetch_value(
            "SELECT count(*) FROM ledger_entries WHERE order_id = :o AND entry_type = 'REFUND'", o=order_id
        ),
        "balance": ledger.sums(tx, member_id),
        "stock": tx.fetch_value("SELECT stock FROM products WHERE id = :p", p=product_id),
    }


def test_every_transition_against_the_database(db, product_ids):
    """For each (status, action): the order's status, history, outbox, ledger and stock afterwards."""
    import uuid

    product_id = uuid.UUID(product_ids["T-CARD"])
    with db.transaction() as tx:
        member_id = members.insert_customer(tx, "table@example.com", Profile())
        ledger.credit(tx, member_id, "BONUS", 100_000, "seed", lot_lifetime=timedelta(days=30))
    problems = []
    for status, action in CASES:
        with db.transaction() as tx:
            line = LineDraft(product_id, "Test Gift Card", "", None, 2, 100)
            order_id = place_order(tx, member_id, [line], "ORDER").order_id
        for step in PATH_TO[status]:
            with db.transaction() as tx:
                transition(tx, order_id, Action(step), read_back=False)
        with db.reader() as tx:
            before = _snapshot(tx, order_id, member_id, product_id)
        assert before["status"] == status
        expected = EXPECTED[status][action]
        try:
            with db.transaction() as tx:
                result = transition(tx, order_id, Action(action))
            outcome = result.order.status if result.changed else NOOP
            assert result.order.status == (expected if result.changed else status)
        except InvalidTransition as error:
            outcome = ILLEGAL
            assert error.details == [{"status": status, "action": action}]  # noqa: PT017 - the table records every cell
        with db.reader() as tx:
            after = _snapshot(tx, order_id, member_id, product_id)
        if outcome != expected:
            problems.append(f"{status} --{action}--> {outcome}, expected {expected}")
            continue
        if expected in (NOOP, ILLEGAL):
            if after != before:
                problems.append(f"{status} --{action}--> {expected} changed something: {before} -> {after}")
            continue
        refunds = expected in ("CANCELLED", "FAILED")
        wanted = {
            "status": expected,
            "history": before["history"] + [expected],
            "events": before["events"] + [(status, expected)],
            "refunds": 1 if refunds else 0,
            "balance": {k: v + 200 for k, v in before["balance"].items()} if refunds else before["balance"],
            "stock": before["stock"] + 2 if refunds else before["stock"],
        }
        if after != wanted:
            problems.append(f"{status} --{action}--> {expected}: got {after}, wanted {wanted}")
    assert not problems, "\n".join(problems)
    with db.reader() as tx:
        sums = ledger.sums(tx, member_id)
    assert sums["balance"] == sums["ledger"] == sums["lots"]
