"""Issue 8, point 13 (and DESIGN promise 10): the unzipped deployment package, run offline under an
isolated interpreter, serves the member journey from AWS-shaped events as the least-privilege role.

What runs: `python -I -S devtools/lambda_runner.py <unzipped package> <runtime libs>`: no
site-packages, no PYTHONPATH; only the package and a directory standing in for the Lambda runtime's
own boto3 (the package leaves boto3 out on purpose) can be imported. Each function runs with the
environment the packaged template gives it (Globals + its own), parameters resolved to local values.

What it proves: the package's code and dependency versions import and work without the dev
environment; the custom resource applies migrations as the migrator and ensures the app role with
the password from its secret (PostgreSQL checks it: scram-sha-256 for xanadu_app); API Gateway
proxy events with Cognito authorizer claims (`email_verified` as the string "true") are served,
including our 401 for a request without claims; the outbox reaches SQS and the SQS batch handler
confirms the order; schedule events run; a database that never answers is our 503 inside 29 s.

What it does not prove (said in docs/operations.md too): the zip run here is the cp311 twin of the
deployed zip (same files and dependency versions, extension modules built for this machine's 3.11:
cp312 ones cannot load here); the cp312 zip itself is only checked for its wheel tags. PostgreSQL
is reached over loopback without TLS; AWS is moto (per-service AWS_ENDPOINT_URL_* variables, which
botocore reads and the app does not); API Gateway's authorizer is not run, its claims are given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from devtools.localdb import LocalPostgres, free_port

pytestmark = pytest.mark.deploy_package

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LIBS = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3")
APP_PASSWORD = "offline-app-password-1"


# -- harness --------------------------------------------------------------------------------------
class Runner:
    """One isolated interpreter hosting one function, fed events over stdin."""

    def __init__(self, package: Path, runtime: Path, env: dict[str, str], handler: str):
        self.handler = handler
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(ROOT / "devtools" / "lambda_runner.py"), str(package), str(runtime)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )

    def invoke(self, event: dict[str, Any], timeout_ms: int = 30_000) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"handler": self.handler, "event": event, "timeout_ms": timeout_ms}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        assert not reply["modules_outside_package"], reply["modules_outside_package"]
        return reply

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def api_event(
    method: str,
    path: str,
    resource: str | None = None,
    *,
    claims: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event as the Cognito-authorised integration delivers it."""
    all_headers = {
        "Content-Type": "application/json",
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        **(headers or {}),
    }
    context: dict[str, Any] = {
        "resourcePath": resource or path,
        "httpMethod": method,
        "stage": "api",
        "requestId": str(uuid.uuid4()),
        "path": "/api" + path,
        "identity": {"sourceIp": "203.0.113.7"},
        "accountId": "123456789012",
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": context,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def claims_for(email: str, sub: str, groups: str | None = None) -> dict[str, str]:
    """What API Gateway's Cognito authorizer passes: every claim a string, email_verified "true"."""
    claims = {
        "sub": sub,
        "email": email,
        "email_verified": "true",
        "token_use": "id",
        "cognito:username": sub,
        "aud": "offline-client",
        "auth_time": str(int(time.time())),
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_offline",
        "exp": "Mon Jan 01 00:00:00 UTC 2099",
        "iat": "Mon Jan 01 00:00:00 UTC 2024",
    }
    if groups:
        claims["cognito:groups"] = groups
    return claims


def body_of(reply: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assert reply["ok"], reply.get("trace")
    result = reply["result"]
    assert result["headers"]["Access-Control-Allow-Origin"] == "*"
    return result["statusCode"], json.loads(result["body"]) if result.get("body") else {}


class CustomResourceResponses(BaseHTTPRequestHandler):
    """Stands in for CloudFormation's pre-signed response URL."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        CustomResourceResponses.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def unpacked(packaged) -> Iterator[tuple[Path, Path]]:
    """The cp311 twin unzipped, and a stand-in for /var/runtime holding only boto3 and its deps."""
    with tempfile.TemporaryDirectory(prefix="xanadu-offline-") as tmp:
        package, runtime = Path(tmp) / "task", Path(tmp) / "runtime"
        with zipfile.ZipFile(packaged.dir / "deployment-local.zip") as archive:
            archive.extractall(package)
        runtime.mkdir()
        import boto3

        site = Path(boto3.__file__).parents[1]
        for name in RUNTIME_LIBS:
            (runtime / name).symlink_to(site / name)
        yield package, runtime


@pytest.fixture(scope="module")
def offline_db(packaged) -> Iterator[LocalPostgres]:
    """Its own server per stage: xanadu_app must prove its password (scram-sha-256); the migrator is trusted."""
    pg = LocalPostgres(Path(tempfile.mkdtemp(prefix="xanadu-offline-pg-")), free_port()).start()
    hba = pg.data_dir / "pgdata" / "pg_hba.conf"
    hba.write_text("host all xanadu_app 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    pg._cmd(["pg_ctl", "-D", str(pg.data_dir / "pgdata"), "reload"])
    pg.create_database("xanadu")
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="module")
def stack(packaged, unpacked, offline_db, aws) -> Iterator[dict[str, Any]]:
    from devtools import localaws

    secrets = localaws.client("secretsmanager", aws.endpoint)
    suffix = uuid.uuid4().hex[:8]
    app_secret = secrets.create_secret(
        Name=f"xanadu/{packaged.stage}/app-{suffix}",
        SecretString=json.dumps({"username": "xanadu_app", "password": APP_PASSWORD}),
    )["ARN"]
    migrator_secret = secrets.create_secret(
        Name=f"xanadu/{packaged.stage}/migrator-{suffix}",
        SecretString=json.dumps({"username": "postgres", "password": "trusted-locally"}),
    )["ARN"]
    # A private queue pair per stage (moto, like SQS, allows one purge a minute).
    queue_url, dlq_url = localaws.create_queue_with_dlq(
        localaws.client("sqs", aws.endpoint), f"order-events-offline-{packaged.stage}-{suffix}"
    )
    localaws.client("ses", aws.endpoint).verify_email_identity(EmailAddress="rewards@xanadu.example")
    # A user pool of the emulator's, so erasure's calls to it are answered (the pool is empty).
    pool_id = localaws.client("cognito-idp", aws.endpoint).create_user_pool(PoolName=f"offline-{suffix}")["UserPool"][
        "Id"
    ]
    pseudo = {
        "AWS::StackName": "xanadu-offline",
        "AWS::AccountId": "123456789012",
        "AWS::Region": "us-east-1",
        "AWS::Partition": "aws",
    }
    values = {
        "DatabaseProxyEndpoint": "127.0.0.1",
        "DatabaseName": "xanadu",
        "EmailSender": "rewards@xanadu.example",
        "OrderEventsQueue": queue_url,
        "OrderEventsDeadLetterQueue": dlq_url,
        "UserPool": pool_id,
        "UserPoolClient": "offline-client",
        "AppDatabaseSecretArn": app_secret,
        "MigratorDatabaseSecretArn": migrator_secret,
        "MigratorDatabaseUser": "postgres",
    }

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Ref" in value:
            return values[value["Ref"]]
        if "Fn::GetAtt" in value:
            return f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{values[value['Fn::GetAtt'][0]]}"
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            for name, replacement in pseudo.items():
                text = text.replace("${" + name + "}", replacement)
            assert "${" not in text, text
            return text
        raise AssertionError(f"unresolved {value}")

    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    base.update(
        {
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            # The emulator's address, the way botocore reads it; the app's settings never see it.
            "AWS_ENDPOINT_URL_SQS": aws.endpoint,
            "AWS_ENDPOINT_URL_SES": aws.endpoint,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": aws.endpoint,
            "AWS_ENDPOINT_URL_S3": aws.endpoint,
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": aws.endpoint,
            # RDS Proxy listens on 5432; the local server on a free port.
            "DB_PORT": str(offline_db.port),
        }
    )
    global_env = packaged.template["Globals"]["Function"]["Environment"]["Variables"]
    bucket = resolve(global_env["DATA_BUCKET"])
    localaws.ensure_bucket(aws.endpoint, bucket)
    if packaged.config["database_auth"] == "iam":
        # IAM tokens need real RDS; offline the app role signs in with its secret instead.
        global_env = {**global_env, "DB_AUTH": "secret", "DB_SECRET_ID": {"Ref": "AppDatabaseSecretArn"}}

    def env_of(function: str, **overrides: str) -> dict[str, str]:
        own = packaged.functions()[function]["Properties"]["Environment"]["Variables"]
        env = {**base, **{k: resolve(v) for k, v in {**global_env, **own}.items()}, **overrides}
        return env

    server = HTTPServer(("127.0.0.1", 0), CustomResourceResponses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runners: dict[str, Runner] = {}

    def runner(function: str, **overrides: str) -> Runner:
        key = function + json.dumps(overrides, sort_keys=True)
        if key not in runners:
            handler = packaged.functions()[function]["Properties"]["Handler"]
            runners[key] = Runner(*unpacked, env_of(function, **overrides), handler)
        return runners[key]

    migrator_overrides = {}
    if packaged.config["database_auth"] == "iam":
        migrator_overrides = {"APP_DB_AUTH": "secret", "APP_DB_SECRET_ID": app_secret}
    try:
        yield {
            "runner": runner,
            "responses": f"http://127.0.0.1:{server.server_port}/response",
            "migrator": migrator_overrides,
            "aws": aws,
            "db": offline_db,
            "queue_url": queue_url,
            "bucket": bucket,
        }
    finally:
        for r in runners.values():
            r.close()
        server.shutdown()


# -- the journey ----------------------------------------------------------------------------------
def test_packaged_functions_serve_the_journey_offline(stack, packaged):
    runner = stack["runner"]
    CustomResourceResponses.received.clear()

    # 1. CloudFormation creates the migrations custom resource: the migrator applies everything and
    #    gives xanadu_app the password from its secret.
    create = {
        "RequestType": "Create",
        "ResponseURL": stack["responses"],
        "StackId": "arn:aws:cloudformation:offline",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"DeploymentId": "1"},
    }
    reply = runner("ApplyMigrations", **stack["migrator"]).invoke(create, timeout_ms=300_000)
    assert reply["ok"], reply.get("trace")
    assert reply["result"]["status"] == "SUCCESS" and reply["result"]["applied"]
    assert CustomResourceResponses.received[-1]["Status"] == "SUCCESS"
    again = runner("ApplyMigrations", **stack["migrator"]).invoke(
        {**create, "RequestType": "Update", "PhysicalResourceId": "xanadu-database-migrations"}
    )
    assert again["result"]["applied"] == []  # every deploy runs it; nothing twice

    api = runner("APIHandler")
    status, health = body_of(api.invoke(api_event("GET", "/health")))
    assert (status, health["status"], health["configuration"]) == (200, "ok", "ok"), health

    # 2. An admin (group claim as API Gateway formats it) adds a reward.
    admin = claims_for("boss@xanadu.example", str(uuid.uuid4()), groups="[admin]")
    status, created = body_of(
        api.invoke(
            api_event(
                "POST",
                "/admin/products",
                claims=admin,
                body={
                    "sku": "OFF-1",
                    "name": "Offline Mug",
                    "description": "Packaged and served",
                    "category": "Home",
                    "points_price": 150,
                    "stock": 10,
                },
            )
        )
    )
    assert status == 201, created
    product_id = created["product"]["id"]

    status, products = body_of(api.invoke(api_event("GET", "/prod/products")))
    assert status == 200 and [p["name"] for p in products["products"]] == ["Offline Mug"]

    # 3. A member: signup bonus, cart, checkout, an order by the orders API.
    member = claims_for("Member@Xanadu.example", str(uuid.uuid4()))
    status, points = body_of(api.invoke(api_event("GET", "/prod/points", claims=member)))
    assert (status, points["points"]) == (200, 1000)
    status, _ = body_of(
        api.invoke(api_event("POST", "/prod/cart/item", claims=member, body={"id": product_id, "quantity": 2}))
    )
    assert status == 201
    status, checkout = body_of(api.invoke(api_event("POST", "/prod/cart/checkout", claims=member)))
    assert status == 200 and checkout["success"] is True and checkout["totalPoints"] == 300, checkout
    status, ordered = body_of(
        api.invoke(
            api_event(
                "POST",
                "/prod/orders",
                claims=member,
                headers={"Idempotency-Key": str(uuid.uuid4())},
                body={"items": [{"item_id": product_id, "quantity": 1}]},
            )
        )
    )
    assert status == 201 and ordered["order"]["status"] == "PENDING", ordered
    order_id = ordered["order"]["id"]

    status, unauthenticated = body_of(api.invoke(api_event("GET", "/prod/points")))
    assert status == 401 and unauthenticated["code"] == "UNAUTHORIZED"

    # 4. The outbox reached SQS after commit; the batch goes to the SQS handler as Lambda sends it.
    from devtools import localaws

    sqs = localaws.client("sqs", stack["aws"].endpoint)
    messages = []
    for _ in range(10):
        got = sqs.receive_message(
            QueueUrl=stack["queue_url"],
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=1,
        )
        messages += got.get("Messages", [])
        if len(messages) >= 2:
            break
    assert len(messages) >= 2  # two OrderCreated events: checkout and POST /prod/orders
    queue_arn = sqs.get_queue_attributes(QueueUrl=stack["queue_url"], AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {**m.get("Attributes", {}), "ApproximateReceiveCount": "1"},
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
                for k, v in m.get("MessageAttributes", {}).items()
            },
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": "us-east-1",
        }
        for m in messages
    ]
    reply = runner("ProcessOrderEvents").invoke({"Records": records})
    assert reply["ok"], reply.get("trace")
    assert reply["result"] == {"batchItemFailures": []}
    status, order = body_of(
        api.invoke(
            api_event(
                "GET",
                f"/prod/orders/{order_id}",
                "/prod/orders/{order_id}",
                claims=member,
                path_parameters={"order_id": order_id},
            )
        )
    )
    assert status == 200 and order["order"]["status"] == "CONFIRMED", order

    # 5. Scheduled functions from EventBridge events.
    schedule = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/offline"],
        "detail": {},
    }
    for function in ("RelayOutbox", "Housekeeping"):
        reply = runner(function).invoke(schedule)
        assert reply["ok"], (function, reply.get("trace"))
        assert isinstance(reply["result"], dict)

    # 6. The member's history, as the frontend reads it.
    status, history = body_of(api.invoke(api_event("GET", "/prod/points/tx", claims=member)))
    assert status == 200 and [t["tx_type"] for t in history["transactions"]][-1] == "BONUS"

    # 7. Operator tools: a CSV under imports/ reaches the import function as S3 invokes it; the resume and
    #    export schedules run; admins read the archive; an in-store customer is erased (the pool is asked).
    s3 = localaws.client("s3", stack["aws"].endpoint)
    body = b"external_member_id,email,points\nOFF-1,offline.import@old.example,250\n"
    put = s3.put_object(Bucket=stack["bucket"], Key="imports/offline.csv", Body=body)
    upload = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "imports",
                    "bucket": {"name": stack["bucket"], "arn": f"arn:aws:s3:::{stack['bucket']}"},
                    "object": {
                        "key": "imports/offline.csv",
                        "size": len(body),
                        "eTag": put["ETag"].strip('"'),
                        "sequencer": uuid.uuid4().hex.upper(),
                    },
                },
            }
        ]
    }
    reply = runner("ImportMembers").invoke(upload, timeout_ms=300_000)
    assert reply["ok"], reply.get("trace")
    assert reply["result"]["imports"][0]["status"] == "DONE" and reply["result"]["imports"][0]["imported"] == 1
    assert s3.get_object(Bucket=stack["bucket"], Key="imports/offline.csv.report.json")["ContentLength"] > 0
    for function in ("ResumeImports", "ExportEvents"):
        reply = runner(function).invoke(schedule, timeout_ms=300_000)
        assert reply["ok"], (function, reply.get("trace"))
    status, archived = body_of(api.invoke(api_event("GET", "/admin/events", claims=admin)))
    assert status == 200 and {"MemberImported", "OrderCreated"} <= {e["type"] for e in archived["events"]}
    status, customer = body_of(
        api.invoke(
            api_event(
                "POST",
                "/customers",
                claims=admin,
                body={"email": "leaving@xanadu.example", "first_name": "Lea", "last_name": "Ving"},
            )
        )
    )
    assert status == 201, customer
    customer_id = customer["customer"]["id"]
    status, erased = body_of(
        api.invoke(
            api_event(
                "POST",
                f"/customers/{customer_id}/erase",
                "/customers/{customer_id}/erase",
                claims=admin,
                headers={"Idempotency-Key": str(uuid.uuid4())},
                path_parameters={"customer_id": customer_id},
            )
        )
    )
    assert status == 200 and erased["erasure"]["points_forfeited"] == 1000, erased


def test_packaged_api_turns_an_unanswering_database_into_our_503(stack, packaged):
    """A server that accepts TCP connections and never answers: our 503 body, well inside 29 s."""
    import socket

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    try:
        api = stack["runner"]("APIHandler", DB_PORT=str(hole.getsockname()[1]))
        started = time.monotonic()
        reply = api.invoke(api_event("GET", "/prod/products"), timeout_ms=28_000)
        elapsed = time.monotonic() - started
        status, body = body_of(reply)
        assert (status, body["code"]) == (503, "DATABASE_UNAVAILABLE"), body
        assert elapsed < 10, elapsed
    finally:
        hole.close()
