"""The operator tools through `make run` (python -m devtools.run): `devtools.ops import` uploads a CSV to the
emulated bucket, the worker feeds the app's S3 handler, the command follows the progress and prints the
report; imported members sign in; the archive shows it all and exports a day; an erasure completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools import localaws
from tests.support.http import http_call
from tests.support.stack import ROOT, LocalStack, call


def ops(stack: LocalStack, *args: str) -> tuple[int, str, str]:
    env = {**stack.environment, "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "devtools.ops", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
def test_import_archive_and_erasure_through_make_run(tmp_path: Path, launch: Callable[[Path], LocalStack]) -> None:
    from devtools.run import StackInfo
    from devtools.token import token_for

    data_dir = tmp_path / "local"
    stack = launch(data_dir)
    stack.wait_ready()
    info = StackInfo.load(data_dir)
    admin = token_for(info, localaws.DEMO_ADMIN[0])
    run = uuid.uuid4().hex[:6]
    rows = [f"e2e-{run}-{i},e2e{i}.{run}@old.example,First{i},Last{i},,{100 + i},2099-12-31" for i in range(300)]
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(
        "external_member_id,email,first_name,last_name,phone,points,expires_at\n"
        + "\n".join([*rows, "broken,not-an-email,X,Y,,1,"])
        + "\n"
    )

    status, out, err = ops(stack, "import", str(csv_file), "--dry-run")
    assert status == 0, err
    dry = json.loads(out)
    assert (dry["dry_run"], dry["status"], dry["imported"], dry["rejected"]) == (True, "DONE", 300, 1), dry
    assert "line 302:" in err

    status, out, err = ops(stack, "import", str(csv_file))
    assert status == 0, err
    report = json.loads(out)
    assert (report["status"], report["imported"], report["rejected"]) == ("DONE", 300, 1), report
    assert "[import]" in err and "100.0%" in err

    status, out, _ = ops(stack, "import", str(csv_file))
    assert status == 0 and json.loads(out)["skipped"] == 300  # the same file again changes nothing

    email = f"e2e7.{run}@old.example"
    member = token_for(info, email)
    status, profile = call(stack.api, "GET", "/customer", member)
    assert status == 200 and profile["firstName"] == "First7"
    assert call(stack.api, "GET", "/prod/points", member)[1]["points"] == 107

    status, found = call(stack.api, "GET", f"/admin/events?type=MemberImported&member_id={profile['id']}", admin)
    assert status == 200 and found["events"][0]["payload"]["points"] == 107
    status, _, erased = http_call(
        stack.api, "POST", f"/customers/{profile['id']}/erase", admin, headers={"Idempotency-Key": f"e2e-{run}"}
    )
    assert status == 200 and erased["erasure"]["points_forfeited"] == 107
    assert call(stack.api, "GET", "/prod/points", member)[0] == 401

    today = datetime.now(UTC).date().isoformat()
    status, out, err = ops(stack, "export-events", "--day", today)
    assert status == 0, err
    exported = json.loads(out)
    assert exported["events"] >= 300 + 1 and exported["objects"] >= 1
    s3 = localaws.client("s3", info.aws.endpoint)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=info.aws.data_bucket, Prefix=f"events/dt={today}/")["Contents"]]
    assert keys and all(k.endswith(".jsonl.gz") for k in keys)
    assert os.path.exists(data_dir / "cognito-deletions.json")  # the erased sign-in stays distinct after a restart
