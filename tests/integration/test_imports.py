"""Bulk import through S3: a CSV under imports/ becomes members with opening balances (IMPORT ledger rows,
lots expiring at expires_at), in committed batches that pause before Lambda's time limit and resume from
the exact line; bad rows are rejected by line number and never stop good ones; a re-import, a redelivered
event or two invocations at once change nothing more; a dry run writes nothing; imported members link at
their first verified sign-in; an erased member is never imported again.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools import localaws
from tests.support.events import LambdaClock, scheduled_event
from tests.support.imports import batch_size, csv_text, invoke, rejections, s3, upload, written
from tests.support.ledger import sums
from tests.support.orders import order_key


def members_by_email(db) -> dict[str, dict[str, Any]]:
    with db.reader() as tx:
        rows = tx.fetch(
            "SELECT m.id, m.email, m.first_name, m.last_name, m.phone, m.balance, m.identity_subject, "
            "i.external_member_id, i.line FROM members m JOIN imported_members i ON i.member_id = m.id"
        )
    return {r["email"]: r for r in rows}


def table_counts(db) -> dict[str, int]:
    with db.reader() as tx:
        return {
            t: int(tx.fetch_value(f"SELECT count(*) FROM {t}"))
            for t in ("members", "imported_members", "ledger_entries", "point_lots", "outbox_events")
        }


def many_rows(n: int, *, start: int = 1, points: int = 10) -> list[str]:
    return [f"old-{i},member{i}@old.example,First{i},Last{i},,{points},2099-12-31" for i in range(start, start + n)]


def import_status(db, key: str) -> str:
    with db.reader() as tx:
        return str(tx.fetch_value("SELECT status FROM import_jobs WHERE object_key = :k", k=key))


# -- a file becomes members with opening balances ---------------------------------------------------
def test_a_csv_becomes_members_with_opening_balances_as_import_rows_and_lots(aws, db):
    event = upload(
        aws,
        "imports/old-program.csv",
        csv_text(
            "A-1,Ann@Old.Example,Ann,Able,+1 (202) 555-0101,1500,2099-06-30",
            'A-2,bob@old.example,"Bob, Jr.",Baker,,0,',
            "A-3,cy@old.example,Cy,,,250,2099-01-01T12:00:00+02:00",
            "A-4,di@old.example,Di,Dee,,75,",
        ),
    )
    result = invoke(event)["imports"][0]
    assert result["status"] == "DONE"
    assert (result["rows_read"], result["imported"], result["skipped"], result["rejected"]) == (4, 4, 0, 0)
    assert result["points"] == 1500 + 250 + 75

    found = members_by_email(db)
    assert set(found) == {"ann@old.example", "bob@old.example", "cy@old.example", "di@old.example"}
    ann = found["ann@old.example"]
    assert (ann["first_name"], ann["phone"], ann["external_member_id"], ann["line"]) == (
        "Ann",
        "+12025550101",
        "A-1",
        2,
    )
    assert ann["identity_subject"] is None  # linked at the first verified sign-in
    assert found["bob@old.example"]["first_name"] == "Bob, Jr."
    for row in found.values():
        assert sums(db, row["id"])["balance"] == sums(db, row["id"])["ledger"] == sums(db, row["id"])["lots"]
    with db.reader() as tx:
        lots = {
            r["email"]: r
            for r in tx.fetch(
                "SELECT m.email, l.entry_type, l.points, p.expires_at, p.earned_at FROM ledger_entries l "
                "JOIN members m ON m.id = l.member_id JOIN point_lots p ON p.ledger_entry_id = l.id"
            )
        }
        events = tx.fetch("SELECT payload, published_at FROM outbox_events WHERE event_type = 'MemberImported'")
        now = tx.fetch_value("SELECT now()")
    assert set(lots) == {"ann@old.example", "cy@old.example", "di@old.example"}  # 0 points: no ledger row
    assert all(lot["entry_type"] == "IMPORT" for lot in lots.values())
    assert lots["ann@old.example"]["expires_at"] == datetime(2099, 7, 1, tzinfo=UTC)  # through June 30
    assert lots["cy@old.example"]["expires_at"] == datetime(2099, 1, 1, 10, 0, tzinfo=UTC)
    default = lots["di@old.example"]
    assert abs(default["expires_at"] - (now + timedelta(days=365))) < timedelta(minutes=5)
    # One event per member for the archive, written as settled: an import never floods the order queue.
    assert len(events) == 4 and all(e["published_at"] is not None for e in events)

    report = written(aws, "imports/old-program.csv.report.json")
    assert report["status"] == "DONE" and report["imported"] == 4 and report["percent"] == 100.0
    assert report["rejections"] == [] and report["rejections_file"] is None
    assert written(aws, "imports/old-program.csv.progress.json")["status"] == "DONE"


def test_bad_rows_are_rejected_by_line_number_and_never_stop_good_ones(aws, db, api):
    api.get("/customer", as_user="taken@old.example")  # an existing member's email
    lines = [
        "B-1,good1@old.example,Good,One,,10,",  # 2
        "B-2,not-an-email,X,Y,,10,",  # 3
        "B-3,neg@old.example,X,Y,,-5,",  # 4
        "B-4,past@old.example,X,Y,,5,2001-01-01",  # 5
        "B-5,short@old.example,X",  # 6
        "B-1,dup@old.example,X,Y,,1,",  # 7: the id of line 2
        "B-7,good1@old.example,X,Y,,1,",  # 8: the email of line 2
        "B-8,taken@old.example,X,Y,,1,",  # 9
        "B-9,phone@old.example,X,Y,12345,1,",  # 10
        "",  # 11: blank, not a row
        'B-11,"quote@old.example,X,Y,,1,',  # 12
        "B-12,good2@old.example,Good,Two,,20,",  # 13
    ]
    raw = csv_text(*lines).encode() + b"B-13,\xff\xfe@old.example,X,Y,,1,\n" + b"B-14," + b"x" * 5000 + b"\n"
    raw += b"B-15,good3@old.example,Good,Three,,30,"  # no newline at the end
    result = invoke(upload(aws, "imports/mixed.csv", raw))["imports"][0]

    assert result["status"] == "DONE"
    assert (result["rows_read"], result["imported"], result["rejected"]) == (14, 3, 11)
    assert set(members_by_email(db)) == {"good1@old.example", "good2@old.example", "good3@old.example"}
    rejected = {r["line"]: r for r in rejections(aws, "imports/mixed.csv")}
    assert sorted(rejected) == [3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15]
    assert "email" in rejected[3]["reason"] and rejected[3]["external_member_id"] == "B-2"
    assert "points" in rejected[4]["reason"]
    assert "already past" in rejected[5]["reason"]
    assert "expected 7 fields" in rejected[6]["reason"]
    assert rejected[7]["reason"] == "duplicate of line 2"
    assert rejected[8]["reason"] == "same email as line 2"
    assert rejected[9]["reason"] == "email belongs to another member"
    assert "phone" in rejected[10]["reason"]
    assert "UTF-8" in rejected[14]["reason"] and "longer than" in rejected[15]["reason"]
    report = written(aws, "imports/mixed.csv.report.json")
    assert report["rejected"] == 11 and [r["line"] for r in report["rejections"]] == sorted(rejected)
    # Only what was wrong is reported, never the row's personal data.
    assert "taken@old.example" not in str(report) and "not-an-email" not in str(report)


def test_a_file_without_the_required_columns_fails_whole(aws, db):
    result = invoke(upload(aws, "imports/headless.csv", "id,mail\n1,a@b.example\n"))["imports"][0]
    assert result["status"] == "FAILED" and "unknown column" in result["error"]
    assert written(aws, "imports/headless.csv.report.json")["status"] == "FAILED"
    assert table_counts(db)["members"] == 0


# -- idempotent -------------------------------------------------------------------------------------
def test_importing_the_same_file_again_changes_nothing(aws, db):
    text = csv_text(*many_rows(7))
    first = invoke(upload(aws, "imports/again.csv", text))["imports"][0]
    before = table_counts(db)
    second = invoke(upload(aws, "imports/again.csv", text))["imports"][0]  # a new upload: a new job
    assert first["imported"] == 7 and second["import_id"] != first["import_id"]
    assert (second["imported"], second["skipped"], second["rejected"]) == (0, 7, 0)
    assert table_counts(db) == before


def test_a_redelivered_upload_event_continues_its_own_job(aws, db):
    event = upload(aws, "imports/redelivered.csv", csv_text(*many_rows(5)))
    first = invoke(event)["imports"][0]
    again = invoke(event)["imports"][0]
    assert again["import_id"] == first["import_id"] and again["note"] == "done already"
    assert table_counts(db)["imported_members"] == 5


def test_two_invocations_of_one_import_at_once_import_each_row_once(aws, db):
    from chalicelib.container import services

    event = upload(aws, "imports/twice.csv", csv_text(*many_rows(40)))
    with batch_size(4):
        results: list[Any] = []
        barrier = threading.Barrier(2)

        def one() -> None:
            barrier.wait()
            results.append(services().imports.on_upload(event)["imports"][0])

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(r.get("note", "ran") for r in results) == ["another run has it", "ran"]
    assert table_counts(db)["imported_members"] == 40
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'IMPORT'") == 40


def test_an_invocation_that_lost_its_job_to_another_stops_without_writing(aws, db):
    """A invocation presumed dead (no heartbeat) is replaced; when it wakes up, its next batch is refused."""
    from chalicelib.container import services

    event = upload(aws, "imports/takeover.csv", csv_text(*many_rows(30)))
    taken_over = threading.Event()

    def after_batch(job) -> None:
        if taken_over.is_set() or job.rows_read < 6:
            return
        taken_over.set()
        with db.transaction() as tx:  # our heartbeat looks 10 minutes old: the schedule takes the job over
            tx.execute("UPDATE import_jobs SET heartbeat_at = now() - interval '10 minutes' WHERE id = :j", j=job.id)
        assert services().imports.resume()["resumed"][0]["status"] == "DONE"

    with batch_size(3):
        first = services().imports.on_upload(event, progress=after_batch)["imports"][0]
    assert first["status"] == "DONE" and first["imported"] == 30  # the job's totals, finished by the other run
    assert table_counts(db)["imported_members"] == 30
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'IMPORT'") == 30


# -- bounded invocations ----------------------------------------------------------------------------
def test_an_import_pauses_before_the_time_limit_and_the_schedule_resumes_it_from_the_next_line(aws, db):
    import app as app_module

    clock = LambdaClock(left_ms=900_000)
    event = upload(aws, "imports/long.csv", csv_text(*many_rows(25)))
    seen: list[int] = []
    from chalicelib.container import services

    with batch_size(5):
        original = services().imports._commit

        def commit(*args: Any, **kwargs: Any) -> Any:
            job = original(*args, **kwargs)
            seen.append(job.rows_read)
            if job.rows_read == 10:
                clock.left_ms = 10_000  # less than the handler's margin: stop after this batch
            return job

        services().imports._commit = commit  # type: ignore[method-assign]
        paused = app_module.import_members(event, clock)["imports"][0]
        assert paused["status"] == "PAUSED" and paused["rows_read"] == 10
        progress = written(aws, "imports/long.csv.progress.json")
        assert progress["status"] == "PAUSED" and 0 < progress["percent"] < 100 and progress["next_line"] == 12
        clock.left_ms = 900_000
        resumed = app_module.resume_imports(scheduled_event("resume_imports"), clock)["resumed"][0]
    assert resumed["status"] == "DONE" and resumed["imported"] == 25 and resumed["rows_read"] == 25
    assert seen == [0, 5, 10, 15, 20, 25]
    with db.reader() as tx:
        assert tx.fetch_value("SELECT invocations FROM import_jobs") == 2
        lines = [r["line"] for r in tx.fetch("SELECT line FROM imported_members ORDER BY line")]
    assert lines == list(range(2, 27))


def test_an_import_whose_invocation_died_is_resumed_once_its_heartbeat_is_stale(aws, db):
    from chalicelib.container import services

    event = upload(aws, "imports/crash.csv", csv_text(*many_rows(12)))

    def crash(job) -> None:
        if job.rows_read >= 4:
            raise RuntimeError("the Lambda runtime died")

    with batch_size(4):
        with pytest.raises(RuntimeError):
            services().imports.on_upload(event, progress=crash)
        assert import_status(db, "imports/crash.csv") == "RUNNING"
        assert services().imports.resume()["resumed"] == []  # its heartbeat is fresh: maybe still alive
        with db.transaction() as tx:
            tx.execute("UPDATE import_jobs SET heartbeat_at = now() - interval '3 minutes'")
        done = services().imports.resume()["resumed"][0]
    assert done["status"] == "DONE" and done["imported"] == 12
    assert table_counts(db)["imported_members"] == 12


def test_a_file_replaced_during_its_import_fails_instead_of_mixing_two_files(aws, db):
    event = upload(aws, "imports/replaced.csv", csv_text(*many_rows(3)))
    upload(aws, "imports/replaced.csv", csv_text(*many_rows(3, start=100)))  # a new version, new ETag
    result = invoke(event)["imports"][0]
    assert result["status"] == "FAILED" and "replaced" in result["error"]
    assert table_counts(db)["members"] == 0


# -- dry run --------------------------------------------------------------------------------------
def test_a_dry_run_validates_the_whole_file_and_writes_nothing(aws, db, api):
    api.get("/customer", as_user="existing@old.example")
    before = table_counts(db)
    text = csv_text(*many_rows(6), "D-1,existing@old.example,X,Y,,5,", "D-2,broken,X,Y,,5,")
    with batch_size(3):
        result = invoke(upload(aws, "imports/dry-run/trial.csv", text))["imports"][0]
    assert result["dry_run"] is True and result["status"] == "DONE"
    assert (result["rows_read"], result["imported"], result["rejected"], result["points"]) == (8, 6, 2, 60)
    assert table_counts(db) == before
    assert [r["line"] for r in rejections(aws, "imports/dry-run/trial.csv")] == [8, 9]
    report = written(aws, "imports/dry-run/trial.csv.report.json")
    assert report["dry_run"] is True and report["imported"] == 6


# -- the members an import made -------------------------------------------------------------------
def test_an_imported_member_is_linked_at_their_first_verified_sign_in(aws, db, api):
    invoke(upload(aws, "imports/link.csv", csv_text("L-1,linkme@old.example,Lin,Kme,,1234,2099-01-01")))
    imported = members_by_email(db)["linkme@old.example"]
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, "linkme@old.example")
    token = localaws.id_token(aws.endpoint, aws.client_id, "linkme@old.example")
    profile = api.get("/customer", token=token).json_body
    assert profile["id"] == str(imported["id"]) and profile["firstName"] == "Lin"
    assert api.get("/prod/points", token=token).json_body["points"] == 1234  # their balance, no welcome bonus


def test_an_erased_imported_member_is_never_imported_again(aws, db, api):
    text = csv_text("E-1,erase.me@old.example,Era,Sed,,500,")
    invoke(upload(aws, "imports/erase.csv", text))
    member_id = members_by_email(db)["erase.me@old.example"]["id"]
    erased = api.post(
        f"/customers/{member_id}/erase",
        as_user="import-admin@example.com",
        admin=True,
        headers={"Idempotency-Key": order_key()},
    )
    assert erased.status_code == 200 and erased.json_body["erasure"]["points_forfeited"] == 500
    with db.reader() as tx:
        kept = tx.fetch_value("SELECT external_member_id FROM imported_members WHERE member_id = :m", m=member_id)
    assert kept.startswith("sha256:") and "E-1" not in kept
    again = invoke(upload(aws, "imports/erase.csv", text))["imports"][0]
    assert (again["imported"], again["skipped"]) == (0, 1)
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM members WHERE email = 'erase.me@old.example'") == 0


def test_files_outside_imports_and_the_reports_themselves_are_ignored(aws, db):
    body = csv_text(*many_rows(2)).encode()
    s3(aws).put_object(Bucket=aws.data_bucket, Key="elsewhere/file.csv", Body=body)
    from tests.support.events import s3_put_event

    result = invoke(s3_put_event(aws.data_bucket, "imports/x.csv.report.json", etag="e", size=1))
    assert result["imports"] == [{"key": "imports/x.csv.report.json", "status": "ignored"}]
    result = invoke(s3_put_event(aws.data_bucket, "elsewhere/file.csv", etag="e", size=len(body)))
    assert result["imports"][0]["status"] == "ignored"
    assert table_counts(db)["members"] == 0
