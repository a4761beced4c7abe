"""Tiers (window boundary, thresholds, the nightly job with downgrades) and GET /prod/points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.events import scheduled_event
from tests.support.points import credit, new_member

YEAR = timedelta(days=365)
TICK = timedelta(microseconds=1)


@pytest.fixture
def tier_service(db):
    from chalicelib.platform.config import get_settings
    from chalicelib.points.tiers import TierService

    return TierService(db, get_settings())


def earned_at(db, member_id) -> datetime:
    with db.reader() as tx:
        return tx.fetch_value(
            "SELECT max(created_at) FROM ledger_entries WHERE member_id = :m AND entry_type = 'EARN'", m=member_id
        )


def tier_of(db, member_id) -> str:
    with db.reader() as tx:
        return tx.fetch_value("SELECT tier FROM members WHERE id = :m", m=member_id)


def test_qualifying_window_excludes_an_earn_exactly_one_window_old(db):
    from chalicelib.points import tier_repository as tiers

    member = new_member(db, "window@example.com")
    credit(db, member, 700, at=datetime.now(UTC))
    credit(db, member, 50, at=datetime.now(UTC), entry_type="BONUS")  # never qualifies
    credit(db, member, 60, at=datetime.now(UTC), entry_type="ADJUST")  # never qualifies
    created = earned_at(db, member)
    with db.reader() as tx:
        assert tiers.qualifying_points(tx, member, created, 365) == 700
        assert tiers.qualifying_points(tx, member, created - TICK, 365) == 0  # not yet credited
        assert tiers.qualifying_points(tx, member, created + YEAR - TICK, 365) == 700
        assert tiers.qualifying_points(tx, member, created + YEAR, 365) == 0


@pytest.mark.parametrize(
    "qualifying, tier, next_tier, missing",
    [
        (0, "BRONZE", "SILVER", 5000),
        (4999, "BRONZE", "SILVER", 1),
        (5000, "SILVER", "GOLD", 15000),
        (19999, "SILVER", "GOLD", 1),
        (20000, "GOLD", None, None),
        (10**9, "GOLD", None, None),
    ],
)
def test_tier_thresholds(qualifying, tier, next_tier, missing):
    from chalicelib.platform.config import get_settings
    from chalicelib.points.tier_policy import TierPolicy

    policy = TierPolicy.of(get_settings())
    assert policy.tier_for(qualifying) == tier
    assert policy.next_tier(qualifying) == (next_tier, missing)


def test_nightly_job_upgrades_and_downgrades_in_batches(db, tier_service):
    now = datetime.now(UTC)
    members = {}
    for name, points in [("bronze", 100), ("silver", 5000), ("gold", 20000), ("edge", 4999), ("none", 0)]:
        members[name] = new_member(db, f"{name}@tiers.test")
        if points:
            credit(db, members[name], points, at=now)  # credited directly: stored tiers are still BRONZE
    created = earned_at(db, members["gold"])
    progress = []

    today = tier_service.recompute_all(now=created + timedelta(seconds=1), batch_size=2, progress=progress.append)
    assert (today.checked, today.changed, today.upgrades, today.downgrades) == (5, 2, 2, 0)
    assert today.batches == 3 and len(progress) == 3
    assert {n: tier_of(db, m) for n, m in members.items()} == {
        "bronze": "BRONZE",
        "silver": "SILVER",
        "gold": "GOLD",
        "edge": "BRONZE",
        "none": "BRONZE",
    }
    assert tier_service.recompute_all(now=created + timedelta(seconds=2)).changed == 0

    next_year = tier_service.recompute_all(now=created + YEAR + timedelta(days=1))
    assert (next_year.changed, next_year.downgrades) == (2, 2)
    assert {tier_of(db, m) for m in members.values()} == {"BRONZE"}


def test_nightly_job_never_overwrites_a_tier_earned_meanwhile(db, tier_service):
    """The job reads without locks, then recomputes under the member lock: an earn committed in
    between is counted, not overwritten by the stale reading."""
    from chalicelib.points import tier_repository as tiers

    member = new_member(db, "race@tiers.test")
    credit(db, member, 5000, at=datetime.now(UTC))
    with db.transaction() as tx:
        tx.execute("UPDATE members SET tier = 'GOLD' WHERE id = :m", m=member)  # stale: should be SILVER
    later = datetime.now(UTC) + timedelta(minutes=1)
    policy = tier_service.policy
    with db.reader() as tx:
        stale, _, _ = tiers.stale_in_batch(tx, tiers_start(), 10, later, policy)
    assert stale == [member]
    credit(db, member, 15000, at=datetime.now(UTC))  # meanwhile: now really GOLD
    with db.transaction() as tx:
        assert tiers.apply_tiers(tx, stale, later, policy) == []
    assert tier_of(db, member) == "GOLD"


def tiers_start():
    from uuid import UUID

    return UUID(int=0)


def test_points_summary_keeps_points_and_adds_tier_progress_and_expiring(api, db):
    me = api.get("/customer", as_user="summary@example.com").json_body["id"]
    now = datetime.now(UTC)
    credit(db, me, 300, at=now - YEAR + timedelta(days=10))  # expires in 10 days
    credit(db, me, 200, at=now - YEAR + timedelta(days=10, hours=1))  # same day (or the next, near midnight)
    credit(db, me, 120, at=now - YEAR + timedelta(days=89))  # inside 90 days
    credit(db, me, 999, at=now - YEAR + timedelta(days=91))  # beyond 90 days: not listed
    body = api.get("/prod/points", as_user="summary@example.com").json_body
    assert body["points"] == 1000 + 300 + 200 + 120 + 999
    assert body["tier"] == "BRONZE" and body["lifetime_earned"] == 1000 + 1619
    assert body["qualifying_points"] == 1619  # EARN only; the signup BONUS does not qualify
    assert (body["next_tier"], body["points_to_next_tier"]) == ("SILVER", 5000 - 1619)
    assert body["earn_multiplier"] == 1.0
    listed = body["expiring"]
    assert sum(e["points"] for e in listed) == 620
    assert [e["date"] for e in listed] == sorted(e["date"] for e in listed)
    assert listed[0]["date"] == (now + timedelta(days=10)).date().isoformat()
    assert listed[-1] == {"date": (now + timedelta(days=89)).date().isoformat(), "points": 120}


def test_recompute_tiers_handler(db):
    import app as app_module

    member = new_member(db, "handler@tiers.test")
    credit(db, member, 20000, at=datetime.now(UTC) - timedelta(minutes=1))
    result = app_module.recompute_tiers(
        scheduled_event(time="2030-01-01T01:30:00Z"),
        None,
    )
    assert result["upgrades"] == 1 and tier_of(db, member) == "GOLD"
