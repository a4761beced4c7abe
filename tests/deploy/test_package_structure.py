"""Issue 8, points 2-12, asserted on each packaged stage (built by `make deploy-check`).

Functions are discovered from the generated template, never listed here: a new Lambda handler in
app.py is held to the same rules without editing this file.
"""

from __future__ import annotations

import json
import re
import zipfile
from typing import Any

import pytest

pytestmark = pytest.mark.deploy_package


def _is_scheduled(fn: dict[str, Any]) -> bool:
    return any(e["Type"] == "Schedule" for e in fn["Properties"].get("Events", {}).values())


def test_every_handler_in_app_py_is_a_packaged_function(packaged):
    from devtools.aws_calls import handler_roots

    handlers = {fn["Properties"]["Handler"].split(".", 1)[1] for fn in packaged.functions().values()}
    assert handlers == set(handler_roots())


def test_migrations_run_on_every_deploy_before_other_functions(packaged):
    resource = packaged.resources["DatabaseMigrations"]
    assert resource["Type"] == "Custom::DatabaseMigrations"
    assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["ApplyMigrations", "Arn"]}
    assert resource["Properties"]["DeploymentId"] == {"Ref": "DeploymentId"}
    assert resource["Properties"]["PackageDigest"] == packaged.manifest["package_sha256"]
    migrator = packaged.functions()["ApplyMigrations"]["Properties"]["Environment"]["Variables"]
    assert migrator["DB_USER"] == {"Ref": "MigratorDatabaseUser"} and migrator["DB_AUTH"] == "secret"
    assert migrator["APP_DB_AUTH"] == packaged.config["database_auth"]
    for name, fn in packaged.functions().items():
        if name != "ApplyMigrations":
            assert "DatabaseMigrations" in fn["DependsOn"], name


def test_network_every_function_in_private_subnets_with_endpoints(packaged):
    for name, fn in packaged.functions().items():
        assert fn["Properties"]["VpcConfig"] == {
            "SubnetIds": {"Ref": "PrivateSubnetIds"},
            "SecurityGroupIds": [{"Ref": "FunctionSecurityGroup"}],
        }, name
    endpoints = {
        r["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]
        for r in packaged.of_type("AWS::EC2::VPCEndpoint").values()
    }
    assert endpoints == {"secretsmanager", "sqs", "s3", "cognito-idp"}
    s3 = next(r for n, r in packaged.of_type("AWS::EC2::VPCEndpoint").items() if n == "S3Endpoint")
    assert s3["Properties"]["DnsOptions"] == {"PrivateDnsOnlyForInboundResolverEndpoint": "AllResolvers"}
    egress = packaged.resources["FunctionSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert {(e["FromPort"], e["ToPort"]) for e in egress} == {(5432, 5432), (443, 443)}
    parameters = packaged.template["Parameters"]
    assert parameters["PrivateSubnetIds"]["Type"] == "List<AWS::EC2::Subnet::Id>"


def test_deploy_refuses_placeholders(packaged, monkeypatch, tmp_path):
    from devtools.package import deploy_parameters

    with pytest.raises(SystemExit, match="placeholder"):
        deploy_parameters(packaged.stage)
    filled = {k: f"value-of-{k}" for k in packaged.config["parameters"]}
    (tmp_path / "params.json").write_text(json.dumps(filled))
    monkeypatch.setenv("XANADU_DEPLOY_PARAMS", str(tmp_path / "params.json"))
    values = deploy_parameters(packaged.stage)
    assert set(values) <= set(packaged.template["Parameters"])  # nothing the template would reject


def test_time_budget_api_function_below_gateway_timeout(packaged):
    api = packaged.functions()["APIHandler"]["Properties"]
    assert api["Timeout"] < 29
    for fn in packaged.functions().values():
        assert fn["Properties"]["Environment"]["Variables"].get("DB_CONNECT_TIMEOUT") is None  # the 3 s default


def test_gateway_responses_carry_cors_and_our_error_body(packaged):
    # SAM writes them into the API definition CloudFormation deploys.
    body = packaged.transformed["Resources"]["RestAPI"]["Properties"]["Body"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    for kind in (
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "MISSING_AUTHENTICATION_TOKEN",
        "EXPIRED_TOKEN",
        "THROTTLED",
        "REQUEST_TOO_LARGE",
        "INTEGRATION_TIMEOUT",
    ):
        props = responses[kind]
        assert props["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
        template = props["responseTemplates"]["application/json"]
        rendered = json.loads(template.replace("$context.error.messageString", '"message"'))
        assert set(rendered) == {"error", "code", "details"} and rendered["details"] == [], kind
    assert responses["THROTTLED"]["statusCode"] == "429"
    assert responses["UNAUTHORIZED"]["statusCode"] == "401"
    assert responses["EXPIRED_TOKEN"]["statusCode"] == "401"


def test_stage_throttling_stricter_for_partner_and_admin(packaged):
    stage = next(iter(packaged.of_type("AWS::ApiGateway::Stage").values()))["Properties"]
    settings = {s["ResourcePath"]: s for s in stage["MethodSettings"]}
    assert settings["/*"]["ThrottlingRateLimit"] == packaged.config["api"]["throttle"]["rate"]
    strict = packaged.config["api"]["strict_throttle"]
    for path in ("/~1partner~1purchases", "/~1admin~1products", "/~1customers"):
        assert settings[path]["ThrottlingRateLimit"] == strict["rate"] < settings["/*"]["ThrottlingRateLimit"]
    assert stage["TracingEnabled"] is True
    assert not packaged.of_type("AWS::ApiGateway::UsagePlan")  # the keyless plan that throttled nothing is gone


def test_observability(packaged):
    groups = packaged.of_type("AWS::Logs::LogGroup")
    alarms = packaged.of_type("AWS::CloudWatch::Alarm")
    functions = packaged.of_type("AWS::Lambda::Function")
    for name, fn in functions.items():
        props = fn["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == packaged.config["log_retention_days"]
        metrics = {
            a["Properties"]["MetricName"]
            for a in alarms.values()
            if a["Properties"]["Dimensions"][0]["Value"] == {"Ref": name}
        }
        assert metrics == {"Errors", "Throttles"}, name
    by_metric = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values()}
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
    } <= by_metric
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms.values())
    assert packaged.resources["AlarmEmailSubscription"]["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert len(packaged.of_type("AWS::CloudWatch::Dashboard")) == 1
    for name, fn in packaged.functions().items():
        if _is_scheduled(fn):
            destination = fn["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
            assert destination == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["JobFailuresQueue", "Arn"]}}, name


def test_safety_retained_pool_and_queues_and_verified_sender(packaged):
    for name in ("UserPool", "OrderEventsQueue", "OrderEventsDeadLetterQueue", "JobFailuresQueue"):
        resource = packaged.resources[name]
        assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain", name
    pool = packaged.resources["UserPool"]["Properties"]
    assert pool["DeletionProtection"] == "ACTIVE"
    assert pool["EmailConfiguration"] == {
        "EmailSendingAccount": "DEVELOPER",
        "From": {"Ref": "EmailSender"},
        "SourceArn": {"Ref": "SesIdentityArn"},
    }
    variables = packaged.template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["EMAIL_SENDER"] == {"Ref": "EmailSender"}


def test_identity_pool_closes_the_email_takeover(packaged):
    pool = packaged.resources["UserPool"]["Properties"]
    assert pool["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert pool["UsernameAttributes"] == ["email"]
    client = packaged.resources["UserPoolClient"]["Properties"]
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["GenerateSecret"] is False
    authorizer = packaged.resources["RestAPI"]["Properties"]["DefinitionBody"]["securityDefinitions"]["XanaduMembers"]
    assert authorizer["x-amazon-apigateway-authorizer"]["providerARNs"] == [{"Fn::GetAtt": ["UserPool", "Arn"]}]


def test_concurrency_reserved_and_within_the_proxy_budget(packaged):
    total = 0
    for name, fn in packaged.functions().items():
        reserved = fn["Properties"]["ReservedConcurrentExecutions"]
        assert reserved >= 1, name
        total += reserved
    assert total <= packaged.config["database_proxy_max_connections"]  # one connection per environment
    sqs = packaged.functions()["ProcessOrderEvents"]["Properties"]["Events"]
    source = next(iter(sqs.values()))["Properties"]
    assert (
        source["ScalingConfig"]["MaximumConcurrency"]
        == packaged.config["functions"]["ProcessOrderEvents"]["sqs_maximum_concurrency"]
    )
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_runtime_and_snapstart_on_published_aliases(packaged):
    functions = packaged.of_type("AWS::Lambda::Function")
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {"python3.12"}
    aliases = packaged.of_type("AWS::Lambda::Alias")
    for name, fn in packaged.functions().items():
        if name == "ApplyMigrations":
            continue
        assert fn["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        assert f"{name}Aliaslive" in aliases, name
    permission = packaged.transformed["Resources"]["APIHandlerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "APIHandlerAliaslive"}
    body = packaged.transformed["Resources"]["RestAPI"]["Properties"]["Body"]
    uris = {
        json.dumps(op["x-amazon-apigateway-integration"]["uri"])
        for methods in body["paths"].values()
        for op in methods.values()
        if op.get("x-amazon-apigateway-integration", {}).get("type") == "aws_proxy"
    }
    assert uris and all("APIHandlerAliaslive" in u for u in uris)


def test_zip_wheels_match_the_declared_runtime(packaged):
    """Every compiled module in the zip is built for CPython 3.12 on manylinux x86_64; no boto3 inside."""
    with zipfile.ZipFile(packaged.dir / "deployment.zip") as archive:
        names = archive.namelist()
        wheel_tags = [archive.read(n).decode() for n in names if n.endswith(".dist-info/WHEEL")]
    compiled = [n for n in names if n.endswith(".so")]
    assert compiled, "expected pydantic_core, cryptography, cffi extension modules"
    for name in compiled:
        assert re.search(r"\.(cpython-312-x86_64-linux-gnu|abi3)\.so$", name), name
    for tags in wheel_tags:
        for tag in re.findall(r"^Tag: (.+)$", tags, re.M):
            python, abi, platform = tag.split("-")
            if platform == "any":
                assert abi == "none", tag  # pure Python
                continue
            assert "manylinux" in platform and platform.endswith("x86_64"), tag
            assert (python, abi) == ("cp312", "cp312") or abi == "abi3", tag
    tops = {n.split("/", 1)[0] for n in names}
    assert not tops & {"boto3", "botocore", "s3transfer"}
    assert not tops & {"devtools", "tests", "bench", "infra"}
    assert {"app.py", "chalicelib", "chalice"} <= tops


def test_data_bucket_is_private_encrypted_retained_and_expires_what_it_should(packaged):
    bucket = packaged.resources["DataBucket"]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = {r["Prefix"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert set(rules) == {"imports/", "events/"} and all(r["Status"] == "Enabled" for r in rules.values())
    assert rules["imports/"]["ExpirationInDays"] <= 30  # import files hold personal data
    assert rules["events/"]["ExpirationInDays"] >= 365 * 7  # the archive outlives the database's retention
    deny = packaged.resources["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_an_upload_under_imports_invokes_the_import_function_and_functions_know_the_bucket(packaged):
    notification = packaged.transformed["Resources"]["DataBucket"]["Properties"]["NotificationConfiguration"]
    [trigger] = notification["LambdaConfigurations"]
    assert trigger["Event"] == "s3:ObjectCreated:*"
    assert trigger["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": "imports/"},
        {"Name": "suffix", "Value": ".csv"},
    ]
    target = json.dumps(trigger["Function"])
    assert "ImportMembers" in target
    name = packaged.resources["DataBucket"]["Properties"]["BucketName"]
    assert packaged.template["Globals"]["Function"]["Environment"]["Variables"]["DATA_BUCKET"] == name
    # No function refers to the bucket resource (its notification refers to a function: that would be a cycle).
    for fn_name, fn in packaged.functions().items():
        assert '"Ref": "DataBucket"' not in json.dumps(fn["Properties"]["Environment"]), fn_name
    timeouts = {n: f["Properties"].get("Timeout") for n, f in packaged.functions().items()}
    assert timeouts["ImportMembers"] == timeouts["ResumeImports"] == timeouts["ExportEvents"] == 900
