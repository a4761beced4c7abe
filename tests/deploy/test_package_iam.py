"""Issue 8, point 10: each function's policy allows exactly the AWS calls its code can make, on the
stage's own resources, partition-aware, with "*" only where AWS offers no resource ARN."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.aws_calls import calls_by_handler

pytestmark = pytest.mark.deploy_package

# Actions AWS authorises only on "*" (no resource-level permissions).
NO_RESOURCE_ARN = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
# What every function needs to run at all (its own log group, its VPC network interfaces, X-Ray).
PLATFORM = NO_RESOURCE_ARN | {"logs:CreateLogStream", "logs:PutLogEvents"}


def _statements(packaged, fn_name: str) -> list[dict[str, Any]]:
    role = packaged.functions()[fn_name]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = packaged.resources[role]["Properties"]["Policies"]
    assert len(policies) == 1 and not packaged.resources[role]["Properties"].get("ManagedPolicyArns")
    return policies[0]["PolicyDocument"]["Statement"]


def _allowed(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements if s["Effect"] == "Allow" for a in s["Action"]}


def _expected(packaged, handler: str, fn: dict[str, Any]) -> set[str]:
    derived = {c.action for c in calls_by_handler()[handler]}
    auth = packaged.config["database_auth"]
    if handler == "apply_migrations":
        auth = "secret"  # the migrator signs in with its own secret whatever the stage's app auth
    database = {"secret": "secretsmanager:GetSecretValue", "iam": "rds-db:connect"}[auth]
    other = {"secretsmanager:GetSecretValue", "rds-db:connect"} - {database}
    expected = (derived - other) | PLATFORM
    if any(e["Type"] == "Schedule" for e in fn["Properties"].get("Events", {}).values()):
        expected.add("sqs:SendMessage")  # the on-failure destination, sent by Lambda with this role
    return expected


def test_each_function_allows_exactly_what_its_code_calls(packaged):
    assert calls_by_handler()["app"], "the derivation found no calls at all"
    for name, fn in packaged.functions().items():
        handler = fn["Properties"]["Handler"].split(".", 1)[1]
        assert _allowed(_statements(packaged, name)) == _expected(packaged, handler, fn), name


def test_no_wildcards_where_a_resource_arn_exists_and_partition_aware(packaged):
    for name in packaged.functions():
        for statement in _statements(packaged, name):
            assert all("*" not in action for action in statement["Action"]), (name, statement)
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if set(statement["Action"]) <= NO_RESOURCE_ARN:
                assert resources == ["*"]
                continue
            for resource in resources:
                assert resource != "*", (name, statement["Sid"])
                text = json.dumps(resource)
                assert "arn:aws:" not in text, (name, text)  # ${AWS::Partition}, GetAtt or a parameter
                if "Fn::Sub" in resource:
                    assert "${AWS::Partition}" in resource["Fn::Sub"] and "${AWS::AccountId}" in resource["Fn::Sub"]


def test_policies_name_only_this_stacks_resources(packaged):
    own = set(packaged.resources) | set(packaged.template["Parameters"])
    for name in packaged.functions():
        for statement in _statements(packaged, name):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                if resource == "*":
                    continue
                ref = resource.get("Ref") or (resource.get("Fn::GetAtt") or [None])[0]
                if ref:
                    assert ref in own, (name, resource)
    api = {a for s in _statements(packaged, "APIHandler") for a in s["Action"]}
    assert "ses:SendEmail" not in api  # the API sends no email: it is not granted


def test_email_is_scoped_to_the_verified_identity_and_sender(packaged):
    for name in packaged.functions():
        for statement in _statements(packaged, name):
            if "ses:SendEmail" in statement["Action"]:
                assert statement["Action"] == ["ses:SendEmail"]  # no SendRawEmail
                assert statement["Resource"] == [{"Ref": "SesIdentityArn"}]
                assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "EmailSender"}}}


def test_the_bucket_is_granted_object_by_object_to_the_functions_that_import_and_export(packaged):
    granted = {}
    for name in packaged.functions():
        for statement in _statements(packaged, name):
            if any(a.startswith("s3:") for a in statement["Action"]):
                granted[name] = statement
    assert set(granted) == {"ImportMembers", "ResumeImports", "ExportEvents"}  # not the API
    for statement in granted.values():
        assert set(statement["Action"]) <= {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}
        [resource] = statement["Resource"]
        assert resource["Fn::Sub"].endswith("/*")  # objects of the one bucket, never the bucket itself
        assert packaged.resources["DataBucket"]["Properties"]["BucketName"]["Fn::Sub"] in resource["Fn::Sub"]


def test_only_the_api_may_delete_users_of_the_stage_pool(packaged):
    for name in packaged.functions():
        for statement in _statements(packaged, name):
            if any(a.startswith("cognito-idp:") for a in statement["Action"]):
                assert name == "APIHandler"
                assert set(statement["Action"]) == {"cognito-idp:AdminDeleteUser", "cognito-idp:ListUsers"}
                assert statement["Resource"] == [{"Fn::GetAtt": ["UserPool", "Arn"]}]
