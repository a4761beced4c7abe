"""`make package STAGE=dev`: the deployable template and zip for one stage (dev tool, never deployed).

    python -m devtools.package --stage dev [--out out/dev]

Steps, and why each exists:
1. `chalice package` writes Chalice's SAM template and deployment zip (its own packaging of app.py,
   chalicelib/ and its runtime).
2. The zip's dependencies are rebuilt for the declared Lambda runtime (RUNTIME, python3.12):
   Chalice picks wheels for the interpreter running it (3.11 here), so pydantic_core and
   cryptography would be the wrong ABI. We install cp312 manylinux wheels with pip's --platform /
   --python-version options, and leave boto3/botocore out (the runtime ships them; see
   docs/operations.md "Package" for the measurement behind that).
3. The template is merged with the fragments in infra/*.yml (parameters, queues, identity,
   network, alarms), then every function found in Chalice's template gets what a function needs:
   runtime, VPC config, environment, X-Ray, log group with retention, reserved concurrency, its own
   least-privilege policy (from the AWS calls its code can make, devtools/aws_calls.py), error and
   throttle alarms, a failure destination if scheduled, SnapStart with an alias. Adding a Lambda
   handler to app.py therefore needs no edit here, only (optionally) limits in infra/stages/*.json.
4. The API gets stage throttling (stricter on partner/admin paths), gateway responses with CORS
   and our error body, X-Ray, and alarms on 5XX rate and p99 latency; a dashboard shows it all.

Output: <out>/sam.yaml, <out>/deployment.zip, <out>/manifest.json (runtime, digest, functions).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
RUNTIME = "python3.12"
PYTHON_VERSION = "3.12"
ABI = "cp312"
PLATFORM = "manylinux2014_x86_64"
# Provided by the Lambda Python runtime; bundling them costs ~30 MB unzipped and ~0.2 s of import
# (no .pyc can be shipped for 3.12 from a 3.11 build machine). Measured in docs/operations.md.
# (python-dateutil and six stay bundled: pg8000 needs dateutil, and requirements.txt pins it below 3
# so the copy in /var/task, which comes first on sys.path, also suits the runtime's botocore.)
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3")
RUNTIME_PROVIDED_DIRS = RUNTIME_PROVIDED
# Top-level entries of Chalice's zip that are ours (everything else was a dependency).
OWN_ENTRIES = ("app.py", "chalicelib", "chalice")
SNAPSTART_ALIAS = "live"
PLACEHOLDER = "REPLACE"

GATEWAY_RESPONSES = {
    # type: (status, code)
    "DEFAULT_4XX": (None, "BAD_REQUEST"),
    "DEFAULT_5XX": (None, "INTERNAL"),
    "UNAUTHORIZED": (401, "UNAUTHORIZED"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "NOT_FOUND"),
    "EXPIRED_TOKEN": (401, "UNAUTHORIZED"),
    "INVALID_SIGNATURE": (401, "UNAUTHORIZED"),
    "ACCESS_DENIED": (403, "FORBIDDEN"),
    "AUTHORIZER_FAILURE": (500, "INTERNAL"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "INTERNAL"),
    "THROTTLED": (429, "THROTTLED"),
    "QUOTA_EXCEEDED": (429, "THROTTLED"),
    "REQUEST_TOO_LARGE": (413, "PAYLOAD_TOO_LARGE"),
    "BAD_REQUEST_BODY": (400, "VALIDATION_ERROR"),
    "BAD_REQUEST_PARAMETERS": (400, "VALIDATION_ERROR"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "UNSUPPORTED_MEDIA_TYPE"),
    "INTEGRATION_FAILURE": (502, "INTERNAL"),
    "INTEGRATION_TIMEOUT": (504, "UPSTREAM_TIMEOUT"),
    "WAF_FILTERED": (403, "FORBIDDEN"),
}
CORS_ALLOW_HEADERS = "Content-Type,Authorization,X-Api-Key,Idempotency-Key,X-Amz-Date,X-Amz-Security-Token"


def _ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def _arn(name: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [name, "Arn"]}


def _sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


# -- inputs ---------------------------------------------------------------------------------------
def stage_config(stage: str) -> dict[str, Any]:
    path = INFRA / "stages" / f"{stage}.json"
    if not path.exists():
        raise SystemExit(f"no stage file {path}")
    return json.loads(path.read_text())


def fragments() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(INFRA.glob("*.yml"))]


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge recursively; anything else in `extra` wins (Chalice's merge-template rule)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


# The bucket of infra/60-bucket.yml: every @app.on_s3_event subscribes to it.
DATA_BUCKET = "DataBucket"
# `chalice package` refuses @app.on_s3_event ("CloudFormation does not support modifying the event
# notifications of existing buckets"). Our bucket is in the same template, where SAM can subscribe a
# function to it, so the S3 subscription is written as a SAM `S3` event on that bucket instead.
_CHALICE_PACKAGE = f"""
import sys
from chalice import package
from chalice.utils import to_cfn_resource_name

def s3_event(self, resource, template):
    function = template["Resources"][to_cfn_resource_name(resource.lambda_function.resource_name)]
    rules = [{{"Name": n, "Value": v}} for n, v in (("prefix", resource.prefix), ("suffix", resource.suffix)) if v]
    event = {{"Type": "S3", "Properties": {{"Bucket": {{"Ref": "{DATA_BUCKET}"}}, "Events": list(resource.events)}}}}
    if rules:
        event["Properties"]["Filter"] = {{"S3Key": {{"Rules": rules}}}}
    function["Properties"].setdefault("Events", {{}})[to_cfn_resource_name(resource.resource_name)] = event

package.SAMTemplateGenerator._generate_s3bucketnotification = s3_event
from chalice.cli import main
sys.argv[0] = "chalice"
sys.exit(main())
"""


def chalice_package(stage: str, into: Path) -> tuple[dict[str, Any], Path]:
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    # Chalice reads XANADU_AUTH_MODE at import (authorizer wiring): deployed stages use Cognito.
    env["XANADU_AUTH_MODE"] = "cognito"
    subprocess.run([sys.executable, "-c", _CHALICE_PACKAGE, "--project-dir", str(ROOT), "package",
                    "--stage", stage, "--template-format", "yaml", str(into)],
                   check=True, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return yaml.safe_load((into / "sam.yaml").read_text()), into / "deployment.zip"


# -- the deployment package ---------------------------------------------------------------------
def _dependency_dir(python_version: str = PYTHON_VERSION, abi: str = ABI) -> Path:
    """Manylinux wheels (cp312 by default) of requirements.txt minus what the runtime provides, cached."""
    requirements = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.lstrip().startswith("#")
                    and not any(line.strip().lower().startswith(p) for p in RUNTIME_PROVIDED)]
    key = hashlib.sha256("\n".join([*requirements, PLATFORM, abi]).encode()).hexdigest()[:16]
    target = ROOT / ".var" / "package-deps" / key
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write("\n".join(requirements) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--target", str(target), "--only-binary=:all:", "--platform", PLATFORM,
                    "--python-version", python_version, "--implementation", "cp", "--abi", abi,
                    "-r", req.name], check=True)
    os.unlink(req.name)
    for provided in RUNTIME_PROVIDED_DIRS:  # pulled in transitively? the runtime's copy is used
        path = target / provided
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    (target / ".complete").write_text(key)
    return target


def build_zip(chalice_zip: Path, out_zip: Path, python_version: str = PYTHON_VERSION, abi: str = ABI) -> str:
    """Our code and Chalice's runtime from Chalice's zip + cp312 dependencies; deterministic bytes.

    Returns the sha256 of the zip: it changes exactly when code or dependencies change. The offline
    check also builds a cp311 twin (same code, same dependency versions) to run under this machine's
    Python 3.11, since cp312 extension modules cannot load there."""
    deps = _dependency_dir(python_version, abi)
    entries: dict[str, bytes] = {}
    with zipfile.ZipFile(chalice_zip) as source:
        for info in source.infolist():
            top = info.filename.split("/", 1)[0]
            if top in OWN_ENTRIES and not info.is_dir() and "__pycache__" not in info.filename:
                entries[info.filename] = source.read(info)
    for path in sorted(deps.rglob("*")):
        rel = path.relative_to(deps).as_posix()
        if path.is_file() and "__pycache__" not in rel and not rel.startswith(".complete") \
                and not rel.startswith("bin/"):
            entries.setdefault(rel, path.read_bytes())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, entries[name])
    out_zip.write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


# -- the template ---------------------------------------------------------------------------------
def functions_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def _handler_name(function: dict[str, Any]) -> str:
    return function["Properties"]["Handler"].split(".", 1)[1]


def _is_scheduled(function: dict[str, Any]) -> bool:
    return any(e["Type"] == "Schedule" for e in function["Properties"].get("Events", {}).values())


def _limits(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    return {**cfg["functions"].get("default", {}), **cfg["functions"].get(name, {})}


def _environment(cfg: dict[str, Any]) -> dict[str, Any]:
    """What every function needs to know about the stage (Globals; a function may override)."""
    env: dict[str, Any] = {
        "DB_HOST": _ref("DatabaseProxyEndpoint"),
        "DB_NAME": _ref("DatabaseName"),
        "DB_USER": "xanadu_app",
        "DB_AUTH": cfg["database_auth"],
        "EMAIL_SENDER": _ref("EmailSender"),
        "ORDER_EVENTS_QUEUE_URL": _ref("OrderEventsQueue"),
        "ORDER_EVENTS_DLQ_URL": _ref("OrderEventsDeadLetterQueue"),
        "ORDER_EVENTS_MAX_RECEIVES": "3",
        "COGNITO_USER_POOL_ID": _ref("UserPool"),
        "COGNITO_CLIENT_ID": _ref("UserPoolClient"),
        "COGNITO_USER_POOL_ARN": _arn("UserPool"),
    }
    if cfg["database_auth"] == "secret":
        env["DB_SECRET_ID"] = _ref("AppDatabaseSecretArn")
    return env


def _bucket_name(template: dict[str, Any]) -> str:
    """The data bucket's name as the template computes it (a Fn::Sub string of pseudo parameters)."""
    name = template["Resources"][DATA_BUCKET]["Properties"]["BucketName"]
    assert isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str), "BucketName must be a Fn::Sub"
    return str(name["Fn::Sub"])


def _logical_id(service: str) -> str:
    """cognito-idp -> CognitoIdp (logical ids are alphanumeric)."""
    return "".join(part.capitalize() for part in re.split(r"[^a-z0-9]+", service) if part)


def _policy_statements(name: str, actions: set[str], cfg: dict[str, Any], migrator: bool,
                       bucket: str = "") -> list[dict[str, Any]]:
    """The function's own policy: its log group, ENIs, X-Ray, and the stage resources its calls touch."""
    statements: list[dict[str, Any]] = [
        {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [_arn(f"{name}LogGroup")]},
        # ENI management and X-Ray have no resource-level permissions: AWS requires "*".
        {"Sid": "VpcNetworkInterfaces", "Effect": "Allow",
         "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"], "Resource": "*"},
        {"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
         "Resource": "*"},
    ]
    sqs = sorted(a for a in actions if a.startswith("sqs:"))
    if sqs:
        statements.append({"Sid": "OrderEventsQueues", "Effect": "Allow", "Action": sqs,
                           "Resource": [_arn("OrderEventsQueue"), _arn("OrderEventsDeadLetterQueue")]})
    objects = sorted(a for a in actions if a.startswith("s3:"))
    if objects:  # object reads and writes only: nothing here lists or deletes
        statements.append({"Sid": "DataBucketObjects", "Effect": "Allow", "Action": objects,
                           "Resource": [_sub(f"arn:${{AWS::Partition}}:s3:::{bucket}/*")]})
    idp = sorted(a for a in actions if a.startswith("cognito-idp:"))
    if idp:
        statements.append({"Sid": "UserPoolUsers", "Effect": "Allow", "Action": idp, "Resource": [_arn("UserPool")]})
    if "ses:SendEmail" in actions:
        statements.append({"Sid": "MemberEmail", "Effect": "Allow", "Action": ["ses:SendEmail"],
                           "Resource": [_ref("SesIdentityArn")],
                           "Condition": {"StringEquals": {"ses:FromAddress": _ref("EmailSender")}}})
    if migrator:
        secrets = [_ref("MigratorDatabaseSecretArn")]
        if cfg["database_auth"] == "secret":
            secrets.append(_ref("AppDatabaseSecretArn"))  # it sets the app role's password from it
        statements.append({"Sid": "DatabaseSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                           "Resource": secrets})
    elif cfg["database_auth"] == "secret" and "secretsmanager:GetSecretValue" in actions:
        statements.append({"Sid": "DatabaseSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                           "Resource": [_ref("AppDatabaseSecretArn")]})
    elif cfg["database_auth"] == "iam" and "rds-db:connect" in actions:
        statements.append({"Sid": "DatabaseIamAuth", "Effect": "Allow", "Action": ["rds-db:connect"], "Resource": [
            _sub("arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${DatabaseProxyResourceId}/xanadu_app")]})
    return statements


def _unused_parameters(cfg: dict[str, Any]) -> list[str]:
    """IAM auth needs the proxy's resource id, secret auth the app's secret; not both."""
    return ["AppDatabaseSecretArn"] if cfg["database_auth"] == "iam" else ["DatabaseProxyResourceId"]


def _alarm(description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]], *, statistic: str | None = None,
           extended: str | None = None, threshold: float, period: int = 300, evaluations: int = 1) -> dict[str, Any]:
    props: dict[str, Any] = {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric, "Dimensions": dimensions,
        "Period": period, "EvaluationPeriods": evaluations, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [_ref("AlarmTopic")],
    }
    if extended:
        props["ExtendedStatistic"] = extended
    else:
        props["Statistic"] = statistic or "Sum"
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def _gateway_responses() -> dict[str, Any]:
    """API Gateway's own errors (authorizer, unknown path, throttling...) in our body, with CORS."""
    responses = {}
    for kind, (status, code) in GATEWAY_RESPONSES.items():
        response: dict[str, Any] = {
            "ResponseParameters": {"Headers": {
                "Access-Control-Allow-Origin": "'*'",
                "Access-Control-Allow-Headers": f"'{CORS_ALLOW_HEADERS}'",
            }},
            # $context.error.messageString is already a quoted JSON string.
            "ResponseTemplates": {"application/json":
                                  '{"error":$context.error.messageString,"code":"%s","details":[]}' % code},
        }
        if status is not None:
            response["StatusCode"] = status
        responses[kind] = response
    return responses


def _method_settings(cfg: dict[str, Any], paths: list[str]) -> list[dict[str, Any]]:
    api = cfg["api"]
    settings = [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True,
                 "ThrottlingRateLimit": api["throttle"]["rate"], "ThrottlingBurstLimit": api["throttle"]["burst"]}]
    for path in paths:
        if any(path.startswith(prefix) for prefix in api["strict_paths"]):
            # MethodSettings name a resource as "/" + its path with each "/" written "~1".
            settings.append({"ResourcePath": "/" + path.replace("/", "~1"),
                             "HttpMethod": "*", "MetricsEnabled": True,
                             "ThrottlingRateLimit": api["strict_throttle"]["rate"],
                             "ThrottlingBurstLimit": api["strict_throttle"]["burst"]})
    return settings


def _dashboard(functions: list[str]) -> dict[str, Any]:
    widgets: list[dict[str, Any]] = []

    def widget(title: str, metrics: list[list[Any]], stat: str = "Sum") -> None:
        widgets.append({"type": "metric", "width": 12, "height": 6,
                        "properties": {"title": title, "metrics": metrics, "stat": stat, "period": 300,
                                       "region": "${AWS::Region}"}})

    widget("API requests and errors", [["AWS/ApiGateway", m, "ApiName", "${RestAPI}"]
                                       for m in ("Count", "4XXError", "5XXError")])
    widget("API latency p99 (ms)", [["AWS/ApiGateway", "Latency", "ApiName", "${RestAPI}"]], "p99")
    widget("order-events: depth and DLQ", [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${OrderEventsQueue.QueueName}"],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${OrderEventsDeadLetterQueue.QueueName}"],
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "${OrderEventsQueue.QueueName}"]], "Maximum")
    widget("Function errors", [["AWS/Lambda", "Errors", "FunctionName", "${%s}" % f] for f in functions])
    widget("Function throttles", [["AWS/Lambda", "Throttles", "FunctionName", "${%s}" % f] for f in functions])
    widget("Function concurrency", [["AWS/Lambda", "ConcurrentExecutions", "FunctionName", "${%s}" % f]
                                    for f in functions], "Maximum")
    return {"Type": "AWS::CloudWatch::Dashboard",
            "Properties": {"DashboardName": _sub("${AWS::StackName}"),
                           "DashboardBody": _sub(json.dumps({"widgets": widgets}))}}


def build_template(chalice: dict[str, Any], cfg: dict[str, Any], package_digest: str) -> dict[str, Any]:
    from devtools.aws_calls import calls_by_handler

    template = copy.deepcopy(chalice)
    for fragment in fragments():
        deep_merge(template, fragment)
    resources = template["Resources"]
    functions = functions_of(template)
    derived = calls_by_handler()
    bucket = _bucket_name(template)
    template.setdefault("Globals", {}).setdefault("Function", {})["Environment"] = {
        "Variables": {**_environment(cfg), "DATA_BUCKET": _sub(bucket)}}

    for name, function in functions.items():
        props = function["Properties"]
        handler = _handler_name(function)
        limits = _limits(cfg, name)
        migrator = handler == "apply_migrations"
        props["Runtime"] = RUNTIME
        props["Tracing"] = "Active"
        props["ReservedConcurrentExecutions"] = limits["reserved_concurrency"]
        if "timeout" in limits:
            props["Timeout"] = limits["timeout"]
        props["VpcConfig"] = {"SubnetIds": _ref("PrivateSubnetIds"), "SecurityGroupIds": [_ref("FunctionSecurityGroup")]}
        props["LoggingConfig"] = {"LogGroup": _ref(f"{name}LogGroup"), "LogFormat": "Text"}
        # Stage values come from Globals; drop Chalice's copies so there is one source.
        chalice_env = props.get("Environment", {}).get("Variables", {})
        props["Environment"] = {"Variables": {k: v for k, v in chalice_env.items()
                                              if k not in template["Globals"]["Function"]["Environment"]["Variables"]}}
        resources[f"{name}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"RetentionInDays": cfg["log_retention_days"]}}
        role = props["Role"]["Fn::GetAtt"][0]
        actions = {c.action for c in derived.get(handler, set())}
        resources[role]["Properties"]["Policies"] = [{
            "PolicyName": f"{name}Policy",
            "PolicyDocument": {"Version": "2012-10-17",
                               "Statement": _policy_statements(name, actions, cfg, migrator, bucket)}}]
        resources[f"{name}ErrorsAlarm"] = _alarm(
            f"{name} raised errors (docs/operations.md#alarms)", "AWS/Lambda", "Errors",
            [{"Name": "FunctionName", "Value": _ref(name)}], threshold=0)
        resources[f"{name}ThrottlesAlarm"] = _alarm(
            f"{name} was throttled at its reserved concurrency (docs/operations.md#alarms)", "AWS/Lambda",
            "Throttles", [{"Name": "FunctionName", "Value": _ref(name)}], threshold=0)
        if migrator:
            props["Environment"]["Variables"].update({
                "DB_USER": _ref("MigratorDatabaseUser"), "DB_AUTH": "secret",
                "DB_SECRET_ID": _ref("MigratorDatabaseSecretArn"),
                "APP_DB_USER": "xanadu_app", "APP_DB_AUTH": cfg["database_auth"],
                **({"APP_DB_SECRET_ID": _ref("AppDatabaseSecretArn")} if cfg["database_auth"] == "secret" else {}),
            })
            continue  # invoked synchronously by CloudFormation: no alias, no SnapStart, no destination
        if _is_scheduled(function):
            props["EventInvokeConfig"] = {"MaximumRetryAttempts": 2, "DestinationConfig": {
                "OnFailure": {"Type": "SQS", "Destination": _arn("JobFailuresQueue")}}}
            resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
                {"Sid": "FailureDestination", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                 "Resource": [_arn("JobFailuresQueue")]})
        for event in props.get("Events", {}).values():
            if event["Type"] == "SQS":
                event["Properties"]["Queue"] = _arn("OrderEventsQueue")  # created before the mapping
                event["Properties"]["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
                if "sqs_maximum_concurrency" in limits:
                    event["Properties"]["ScalingConfig"] = {"MaximumConcurrency": limits["sqs_maximum_concurrency"]}
                props["Environment"]["Variables"]["SQS_BATCH_RESPONSE"] = "report"
        if cfg.get("snapstart"):
            props["AutoPublishAlias"] = SNAPSTART_ALIAS
            props["SnapStart"] = {"ApplyOn": "PublishedVersions"}
        function["DependsOn"] = sorted(set(function.get("DependsOn", [])) | {"DatabaseMigrations"})

    # Migrations on every deploy, before any other function's new code goes live.
    migrations_fn = next(n for n, f in functions.items() if _handler_name(f) == "apply_migrations")
    resources["DatabaseMigrations"] = {
        "Type": "Custom::DatabaseMigrations",
        "Properties": {"ServiceToken": _arn(migrations_fn), "PackageDigest": package_digest,
                       "DeploymentId": _ref("DeploymentId")}}

    # VPC interface endpoints for the AWS APIs the code calls (SES has none for its API: NAT).
    # (rds only signs a token locally; the migrator reads its secret whatever the stage's app auth.)
    services = sorted({c.service for calls in derived.values() for c in calls} - {"rds", "ses"})
    for service in services:
        endpoint: dict[str, Any] = {
            "VpcEndpointType": "Interface", "PrivateDnsEnabled": True, "VpcId": _ref("VpcId"),
            "ServiceName": _sub("com.amazonaws.${AWS::Region}.%s" % service),
            "SubnetIds": _ref("PrivateSubnetIds"), "SecurityGroupIds": [_ref("EndpointSecurityGroup")]}
        if service == "s3":
            # S3's private DNS serves in-VPC requests only when not limited to inbound resolver
            # endpoints (that default needs a gateway endpoint, i.e. the VPC's route tables).
            endpoint["DnsOptions"] = {"PrivateDnsOnlyForInboundResolverEndpoint": "AllResolvers"}
        resources[f"{_logical_id(service)}Endpoint"] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": endpoint}

    api = resources["RestAPI"]["Properties"]
    api["TracingEnabled"] = True
    api["GatewayResponses"] = _gateway_responses()
    api["MethodSettings"] = _method_settings(cfg, sorted(api["DefinitionBody"]["paths"]))
    api["DefinitionBody"]["securityDefinitions"]["XanaduMembers"]["x-amazon-apigateway-authorizer"]["providerARNs"] = \
        [_arn("UserPool")]
    api_fn = next(n for n, f in functions.items() if _handler_name(f) == "app")
    if cfg.get("snapstart"):
        # Route API Gateway to the published alias (where SnapStart applies), not $LATEST.
        target = {"Ref": f"{api_fn}.Alias"}
        for methods in api["DefinitionBody"]["paths"].values():
            for operation in methods.values():
                integration = operation.get("x-amazon-apigateway-integration", {})
                if integration.get("type") == "aws_proxy":
                    integration["uri"] = {"Fn::Sub": [
                        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                        "${Target}/invocations", {"Target": target}]}
        resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] = target
    alarms = cfg["alarms"]
    api_dims = [{"Name": "ApiName", "Value": _ref("RestAPI")}]
    resources["Api5xxRateAlarm"] = _alarm("API 5XX rate above the stage's threshold (docs/operations.md#alarms)",
                                          "AWS/ApiGateway", "5XXError", api_dims, statistic="Average",
                                          threshold=alarms["api_5xx_rate"], evaluations=2)
    resources["ApiLatencyP99Alarm"] = _alarm("API p99 latency above the stage's threshold (docs/operations.md#alarms)",
                                             "AWS/ApiGateway", "Latency", api_dims, extended="p99",
                                             threshold=alarms["api_p99_ms"], evaluations=3)
    resources["OrderEventsAgeAlarm"] = _alarm(
        "Oldest order-events message older than the stage's bound: orders are not being confirmed "
        "(docs/operations.md#alarms)", "AWS/SQS", "ApproximateAgeOfOldestMessage",
        [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["OrderEventsQueue", "QueueName"]}}],
        statistic="Maximum", threshold=alarms["oldest_order_event_seconds"])
    for unused in _unused_parameters(cfg):
        del template["Parameters"][unused]
    resources["Dashboard"] = _dashboard(sorted(functions))
    template.setdefault("Outputs", {})["DashboardName"] = {"Value": _ref("Dashboard")}
    return template


# -- command line ---------------------------------------------------------------------------------
def package(stage: str, out: Path, local_twin: bool = False) -> dict[str, Any]:
    cfg = stage_config(stage)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xanadu-chalice-") as tmp:
        chalice_template, chalice_zip = chalice_package(stage, Path(tmp) / "out")
        digest = build_zip(chalice_zip, out / "deployment.zip")
        if local_twin:
            local = f"{sys.version_info.major}.{sys.version_info.minor}"
            build_zip(chalice_zip, out / "deployment-local.zip", local, f"cp{local.replace('.', '')}")
    template = build_template(chalice_template, cfg, digest)
    (out / "sam.yaml").write_text(yaml.safe_dump(template, sort_keys=False, width=120))
    manifest = {"stage": stage, "runtime": RUNTIME, "abi": ABI, "platform": PLATFORM, "package_sha256": digest,
                "functions": {n: f["Properties"]["Handler"] for n, f in functions_of(template).items()},
                "zip_bytes": (out / "deployment.zip").stat().st_size}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def deploy_parameters(stage: str) -> dict[str, str]:
    """The stage's parameter values (XANADU_DEPLOY_PARAMS overrides the stage file); refuses placeholders."""
    values = dict(stage_config(stage)["parameters"])
    override = os.environ.get("XANADU_DEPLOY_PARAMS")
    if override:
        values.update(json.loads(Path(override).read_text()))
    for unused in _unused_parameters(stage_config(stage)):
        values.pop(unused, None)
    missing = sorted(k for k, v in values.items() if PLACEHOLDER in str(v))
    if missing:
        raise SystemExit(f"refusing to deploy {stage}: placeholder values for {', '.join(missing)} "
                         f"(set them in infra/stages/{stage}.json or a file named by XANADU_DEPLOY_PARAMS)")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--print-parameters", action="store_true",
                        help="print Key=Value parameter overrides for `aws cloudformation deploy` (checks placeholders)")
    args = parser.parse_args(argv)
    if args.print_parameters:
        print(" ".join(f"{k}={v}" for k, v in deploy_parameters(args.stage).items()))
        return 0
    manifest = package(args.stage, args.out or ROOT / "out" / args.stage)
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
