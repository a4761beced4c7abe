"""The Xanadu frontend's own sign-in and API calls in a real browser, against `make run`.

Headless Debian Chromium (driven by playwright-core, never a downloaded browser) opens a page that uses
Amplify v5 `Auth` and axios exactly as the frontend does (tests/e2e/browser/src/journey.js): default SRP
sign-in against the local pool, `GET /customer` and `GET /prod/points` with the ID token, `PUT /customer`,
`GET /customer` again, sign-out. Everything the browser saw must be clean: no console error, no failed
request (a CORS failure is one), no HTTP error, one RevokeToken and a quick sign-out.

Needs Chromium and the npm packages: `make browser-test` installs both and runs this file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devtools import localaws
from tests.support.stack import ROOT, LocalStack

BROWSER_DIR = ROOT / "tests" / "e2e" / "browser"
MEMBER_EMAIL, MEMBER_PASSWORD, MEMBER_GIVEN, MEMBER_FAMILY = localaws.DEMO_MEMBER
PROFILE_CHANGE = {
    "firstName": "Mayra",
    "lastName": "Member-Quinn",
    "phone": "+12025550199",
    "address": {"street": "2 Rewards Road", "city": "Shelbyville", "state": "IL", "zipCode": "62565"},
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("XANADU_BROWSER_TEST"),
        reason="needs Debian Chromium and npm packages: run `make browser-test`",
    ),
]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    """The journey page, served from its own origin (so every API and Cognito call is cross-origin)."""
    if not (BROWSER_DIR / "dist" / "journey.js").exists():
        pytest.fail("tests/e2e/browser/dist/journey.js is missing: `make browser-test` builds it")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(BROWSER_DIR)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """`make run` on free ports and a fresh data dir, so the demo member starts with the signup bonus."""
    base = tmp_path_factory.mktemp("browser-stack")
    running = LocalStack(base / "local", base / "run.log")
    try:
        running.wait_ready()
        yield running
        running.send(signal.SIGINT)
        running.wait_exit(30)
    finally:
        running.force_cleanup()
        print(f"--- devtools.run ---\n{running.output()}")


def drive(stack: LocalStack, page_url: str, profile_change: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the journey page in Chromium; the driver's report (see tests/e2e/browser/drive.mjs)."""
    from devtools.run import StackInfo

    info = StackInfo.load(stack.data_dir)
    settings = {
        "region": localaws.REGION,
        "userPoolId": info.aws.user_pool_id,
        "clientId": info.aws.client_id,
        "cognitoEndpoint": info.aws.endpoint,
        "apiUrl": info.api_url,
        "email": MEMBER_EMAIL,
        "password": MEMBER_PASSWORD,
        "profileChange": profile_change,
    }
    url = f"{page_url}?{urllib.parse.urlencode({'settings': json.dumps(settings)})}"
    finished = subprocess.run(
        ["node", "drive.mjs", url, "60000"], cwd=BROWSER_DIR, capture_output=True, text=True, timeout=150
    )
    assert finished.returncode == 0, finished.stderr
    report: dict[str, Any] = json.loads(finished.stdout)
    print(json.dumps(report, indent=1))  # shown when a test fails
    assert "driverError" not in report, f"{report['driverError']}\nconsole: {report['console']}\n{stack.output()}"
    assert report["journey"]["ok"], f"{report['journey']['error']}\n{json.dumps(report, indent=1)}"
    return report


def assert_clean(report: dict[str, Any]) -> None:
    assert report["consoleErrors"] == [], report["consoleErrors"]
    assert report["failedRequests"] == [], report["failedRequests"]  # a CORS failure shows here
    assert report["httpErrors"] == [], report["httpErrors"]


def cognito_calls(report: dict[str, Any]) -> list[str]:
    return [r["target"].split(".")[-1] for r in report["requests"] if r["target"]]


def api_calls(report: dict[str, Any], api_url: str) -> list[str]:
    return [
        f"{r['method']} {urllib.parse.urlparse(r['url']).path}"
        for r in report["requests"]
        if r["url"].startswith(api_url)
    ]


def assert_signed_out_quickly(report: dict[str, Any]) -> None:
    journey = report["journey"]
    assert cognito_calls(report).count("RevokeToken") == 1  # answered at once: no retries
    assert journey["signOutMs"] < 2000, journey["signOutMs"]
    assert journey["sessionAfterSignOut"] is False


def test_the_frontends_sign_in_reads_and_sign_out_work_in_chromium(stack: LocalStack, page_url: str) -> None:
    report = drive(stack, page_url)
    journey = report["journey"]
    assert_clean(report)
    assert journey["steps"] == ["signIn", "read", "signOut"]
    assert journey["challengeName"] is None

    calls = cognito_calls(report)
    assert calls[:2] == ["InitiateAuth", "RespondToAuthChallenge"], calls  # SRP: Amplify's default flow
    assert (journey["idTokenEmail"], journey["idTokenEmailVerified"]) == (MEMBER_EMAIL, True)
    assert report["shown"]["email"] == MEMBER_EMAIL  # the member, not a ghost keyed on the username
    assert report["shown"]["name"] == f"{MEMBER_GIVEN} {MEMBER_FAMILY}"
    assert journey["customer"]["email"] == MEMBER_EMAIL
    assert journey["points"] == 1000
    assert api_calls(report, stack.api) == ["GET /customer", "GET /prod/points"]
    assert_signed_out_quickly(report)


def test_the_frontend_shows_and_updates_the_members_profile_in_chromium(stack: LocalStack, page_url: str) -> None:
    report = drive(stack, page_url, PROFILE_CHANGE)
    journey = report["journey"]
    assert_clean(report)
    assert journey["steps"] == ["signIn", "read", "update", "signOut"]

    # The profile comes from the pool at first sign-in...
    assert report["shown"]["email"] == MEMBER_EMAIL
    assert report["shown"]["name"] == f"{MEMBER_GIVEN} {MEMBER_FAMILY}"
    assert journey["customer"]["phone"] == localaws.DEMO_MEMBER_PHONE
    assert journey["customer"]["address"] == {
        "street": "1 Xanadu Way",
        "city": "Springfield",
        "state": "IL",
        "zipCode": "62701",
    }
    # ...and PUT /customer changes it: the answer and the next GET show the change, the email is unchanged.
    assert journey["putStatus"] == 200
    expected = {**journey["customer"], **PROFILE_CHANGE}
    assert journey["putBody"] == expected
    assert journey["customerAfter"] == expected
    assert report["shown"]["name-after"] == "Mayra Member-Quinn"
    assert report["shown"]["phone-after"] == "+12025550199"
    assert report["shown"]["address-after"] == "2 Rewards Road, Shelbyville, IL, 62565"
    assert api_calls(report, stack.api) == ["GET /customer", "GET /prod/points", "PUT /customer", "GET /customer"]
    assert_signed_out_quickly(report)
