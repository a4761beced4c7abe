"""The event archive: every kind of outbox event is kept, append-only, and found by member, order, type and
time (keyset pages); each UTC day is exported to S3 as gzipped JSON Lines, the same objects again on a
re-run; events leave the database only once their day is exported and past the retention period.
"""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from devtools import localaws
from tests.support.events import scheduled_event
from tests.support.imports import csv_text, invoke, upload
from tests.support.orders import issue_partner, order_key, place
from tests.support.points import credit, new_member

ADMIN = "archivist@example.com"


def add_event(db, event_type: str, at: datetime, *, member: uuid.UUID | None = None, published: bool = True) -> str:
    member = member or uuid.uuid4()
    with db.transaction() as tx:
        return str(
            tx.fetch_value(
                "INSERT INTO outbox_events (event_type, aggregate_id, payload, created_at, published_at) "
                "VALUES (:t, :m, CAST(:p AS jsonb), :at, CASE WHEN :pub THEN CAST(:at AS timestamptz) END) RETURNING id",
                t=event_type,
                m=member,
                p=json.dumps({"member_id": str(member), "points": 1}),
                at=at,
                pub=published,
            )
        )


def events(api, query: str = "") -> Any:
    return api.get(f"/admin/events{query}", as_user=ADMIN, admin=True)


def archive_objects(aws, day: date) -> dict[str, bytes]:
    s3 = localaws.client("s3", aws.endpoint)
    listed = s3.list_objects_v2(Bucket=aws.data_bucket, Prefix=f"events/dt={day.isoformat()}/").get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=aws.data_bucket, Key=o["Key"])["Body"].read() for o in listed}


def db_now(db) -> datetime:
    with db.reader() as tx:
        value: datetime = tx.fetch_value("SELECT now()")
    return value


# -- every event, queryable -----------------------------------------------------------------------
def test_every_kind_of_event_lands_in_the_archive_and_is_found_by_member_and_order(api, aws, db, product_ids):
    from chalicelib.container import services

    email = "journey@example.com"
    me = api.get("/customer", as_user=email).json_body["id"]
    order_id = place(api, email, [(product_ids["T-CAP"], 1)]).json_body["order"]["id"]
    assert api.post(f"/prod/orders/{order_id}/cancel", as_user=email).status_code == 200
    key = issue_partner(api, "STORE")
    api.post(
        "/partner/purchases",
        headers={"X-Api-Key": key},
        json_body={"customer_id": me, "external_id": "arch-1", "amount_usd": "10.00"},
    )
    api.post(
        "/prod/points/tx",
        as_user=ADMIN,
        admin=True,
        headers={"Idempotency-Key": order_key()},
        json_body={"customer_id": me, "txType": "ADJUST", "points": -5, "description": "fix"},
    )
    lapsing = new_member(db, "lapsing@example.com")
    credit(db, lapsing, 40, at=db_now(db) - timedelta(days=400))
    services().expiry.run()
    invoke(upload(aws, "imports/archive.csv", csv_text("AR-1,arch.import@old.example,A,R,,10,")))
    erased = api.get("/customer", as_user="archive-leaver@example.com").json_body["id"]
    api.post(f"/customers/{erased}/erase", as_user=ADMIN, admin=True, headers={"Idempotency-Key": order_key()})

    everything = events(api, "?limit=100").json_body["events"]
    assert {e["type"] for e in everything} >= {
        "OrderCreated",
        "OrderStatusChanged",
        "PointsEarned",
        "PointsAdjusted",
        "PointsExpired",
        "MemberImported",
        "MemberErased",
    }
    mine = events(api, f"?member_id={me}&limit=100").json_body["events"]
    assert [e["type"] for e in mine] == ["PointsAdjusted", "PointsEarned", "OrderStatusChanged", "OrderCreated"]
    assert all(e["member_id"] == me for e in mine)
    by_order = events(api, f"?order_id={order_id}").json_body["events"]
    assert [(e["type"], e["payload"].get("to_status")) for e in by_order] == [
        ("OrderStatusChanged", "CANCELLED"),
        ("OrderCreated", None),
    ]
    adjusted = events(api, "?type=PointsAdjusted").json_body["events"]
    assert len(adjusted) == 1 and adjusted[0]["payload"]["points"] == -5 and adjusted[0]["occurred_at"].endswith("Z")
    assert events(api, f"?member_id={lapsing}&type=PointsExpired").json_body["events"][0]["payload"]["points"] == 40
    assert events(api, f"?member_id={erased}").json_body["events"][0]["type"] == "MemberErased"


def test_pages_are_newest_first_and_filters_narrow_them(api, db):
    base = datetime(2030, 5, 1, tzinfo=UTC)
    member = uuid.uuid4()
    ids = [
        add_event(db, "PointsEarned" if i % 2 else "PointsExpired", base + timedelta(hours=i), member=member)
        for i in range(7)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        page = events(api, f"?member_id={member}&limit=2" + (f"&cursor={cursor}" if cursor else "")).json_body
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    window = events(api, f"?member_id={member}&since=2030-05-01T02:00:00Z&until=2030-05-01T05:00:00%2B00:00").json_body
    assert [e["id"] for e in window["events"]] == [ids[4], ids[3], ids[2]]  # since inclusive, until exclusive
    earned = events(api, f"?member_id={member}&type=PointsEarned").json_body["events"]
    assert [e["id"] for e in earned] == [ids[5], ids[3], ids[1]]


@pytest.mark.parametrize(
    "query",
    [
        "?member_id=nope",
        "?order_id=1",
        "?since=yesterday",
        "?until=2030-01-01T00:00:00",
        "?type=bad%20type",
        "?limit=0",
        "?cursor=@@@",
        # what the document allows and nothing more: an empty filter is not "no filter", a UUID is
        # hyphenated, a time is RFC 3339 with a zone (found by schemathesis)
        "?member_id=",
        "?until=",
        "?type=",
        "?member_id=12345678123456781234567812345678",
        "?since=20261122T000000Z",
        "?until=0001-01-01T00:00:00%2B03:04",  # valid RFC 3339, before year 1 in UTC: was a 500 (schemathesis)
    ],
)
def test_bad_filters_are_400(api, query):
    response = events(api, query)
    assert response.status_code == 400 and response.json_body["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "since", ["2000-01-01T00:00:00Z", "2000-01-01t00:00:00.123456789z", "2000-01-01T01:00:00+01:00"]
)
def test_rfc_3339_times_are_accepted_in_every_form_the_document_allows(api, since):
    assert events(api, f"?since={since.replace('+', '%2B')}").status_code == 200


def test_only_admins_read_the_archive(api):
    assert api.get("/admin/events").status_code == 401
    assert api.get("/admin/events", as_user="curious@example.com").status_code == 403


def test_events_are_append_only(db):
    from pg8000.exceptions import DatabaseError

    event_id = add_event(db, "PointsEarned", datetime(2030, 1, 1, tzinfo=UTC), published=False)
    for statement in (
        "UPDATE outbox_events SET payload = '{}' WHERE id = :e",
        "UPDATE outbox_events SET created_at = now() WHERE id = :e",
        "DELETE FROM outbox_events WHERE id = :e",  # its day was never exported
    ):
        with pytest.raises(DatabaseError) as refused, db.transaction() as tx:
            tx.execute(statement, e=event_id)
        assert refused.value.args[0]["C"] == "23001"  # restrict_violation
    with db.transaction() as tx:  # the relay's bookkeeping may change
        assert tx.execute("UPDATE outbox_events SET published_at = now(), attempts = 1 WHERE id = :e", e=event_id) == 1


# -- the daily export ---------------------------------------------------------------------------------
def test_a_day_is_exported_as_gzipped_json_lines_and_a_rerun_writes_the_same_objects(aws, db, monkeypatch):
    from chalicelib.container import services
    from chalicelib.events import archive

    monkeypatch.setattr(archive, "EVENTS_PER_OBJECT", 3)
    monkeypatch.setattr(archive, "PAGE", 2)
    day = date(2030, 3, 14)
    start = datetime(2030, 3, 14, tzinfo=UTC)
    written = [add_event(db, "PointsEarned", start + timedelta(minutes=i)) for i in range(7)]
    add_event(db, "PointsEarned", start - timedelta(microseconds=1))  # the day before
    add_event(db, "PointsEarned", start + timedelta(days=1))  # the day after

    first = services().archive.export_day(day)
    objects = archive_objects(aws, day)
    assert (first.events, first.objects) == (7, 3)
    assert sorted(objects) == [f"events/dt=2030-03-14/part-{n:05d}.jsonl.gz" for n in range(3)]
    lines = [json.loads(line) for key in sorted(objects) for line in gzip.decompress(objects[key]).splitlines()]
    assert [line["event_id"] for line in lines] == written
    assert set(lines[0]) == {
        "event_id",
        "event_type",
        "aggregate_id",
        "member_id",
        "order_id",
        "occurred_at",
        "request_id",
        "payload",
    }
    assert lines[0]["occurred_at"] == "2030-03-14T00:00:00.000000Z"
    assert json.loads(lines[0]["payload"])["points"] == 1

    again = services().archive.export_day(day)
    assert archive_objects(aws, day) == objects and again.events == 7


def test_the_daily_job_exports_each_missing_day_up_to_yesterday(aws, db):
    import app as app_module

    now = db_now(db)
    today = now.astimezone(UTC).date()
    for back in (3, 1, 0):
        add_event(
            db,
            "PointsEarned",
            datetime.combine(today - timedelta(days=back), datetime.min.time(), UTC) + timedelta(hours=1),
        )
    result = app_module.export_events(scheduled_event("export_events"), None)
    expected = [(today - timedelta(days=n)).isoformat() for n in (3, 2, 1)]
    assert result["exported_days"] == expected and result["events_exported"] == 2
    assert app_module.export_events(scheduled_event("export_events"), None)["exported_days"] == []
    # An event of yesterday that committed after the export: the next run exports yesterday again.
    add_event(
        db, "PointsEarned", datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=2)
    )
    rerun = app_module.export_events(scheduled_event("export_events"), None)
    assert rerun["exported_days"] == [expected[-1]] and rerun["events_exported"] == 2


def test_events_leave_the_database_only_once_exported_and_past_retention(aws, db):
    from chalicelib.container import services

    now = db_now(db)
    old = now - timedelta(days=120)
    recent = now - timedelta(days=10)
    old_ids = [add_event(db, "PointsEarned", old + timedelta(seconds=i)) for i in range(3)]
    stuck = add_event(db, "OrderCreated", old + timedelta(seconds=9), published=False)  # never relayed
    recent_id = add_event(db, "PointsEarned", recent)

    report = services().archive.run(now=now)  # retention: 90 days (the default)
    old_day = old.astimezone(UTC).date().isoformat()
    assert old_day in report.exported_days and report.purged_days == [old_day] and report.events_purged == 3
    with db.reader() as tx:
        left = {str(r["id"]) for r in tx.fetch("SELECT id FROM outbox_events")}
        purged_at = tx.fetch_value("SELECT purged_at FROM event_exports WHERE day = :d", d=old.date())
    assert left == {stuck, recent_id} and not set(old_ids) & left and purged_at is not None
    assert len(archive_objects(aws, old.astimezone(UTC).date())) == 1  # the archive keeps them

    from chalicelib.platform.errors import Conflict

    with pytest.raises(Conflict):  # a purged day is never exported again with fewer events
        services().archive.export_day(old.astimezone(UTC).date())
