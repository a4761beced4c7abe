"""Emulated AWS for the local stack and tests: moto server with Cognito and SQS set up like prod.

Pool and client ids are stable across restarts (moto derives them from a hash of the pool's name
and settings when MOTO_COGNITO_IDP_*_STRATEGY=HASH), so tokens and .var/local/env keep working.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
POOL_NAME = "xanadu-local"
CLIENT_NAME = "xanadu-web"
ADMIN_GROUP = "admin"

DEMO_MEMBER = ("member@xanadu.example", "Member-pass-1", "Maya", "Member")
DEMO_ADMIN = ("admin@xanadu.example", "Admin-pass-1", "Ada", "Admin")
DEFAULT_PASSWORD = "Local-pass-1"

# moto reads these at import; set them before anything imports moto.
os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY", "HASH")
os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY", "HASH")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)


@dataclass(frozen=True)
class LocalAws:
    endpoint: str
    user_pool_id: str
    client_id: str
    queue_url: str
    dlq_url: str

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json"

    def app_env(self) -> dict[str, str]:
        """Environment the app needs to talk to this emulated AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "XANADU_AUTH_MODE": "verify",
            "COGNITO_USER_POOL_ID": self.user_pool_id,
            "COGNITO_CLIENT_ID": self.client_id,
            "COGNITO_JWKS_URL": self.jwks_url,
            "ORDER_EVENTS_QUEUE_URL": self.queue_url,
            "ORDER_EVENTS_DLQ_URL": self.dlq_url,
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def client(service: str, endpoint: str):
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _stable_subjects() -> None:
    """Cognito keeps a user's `sub` for the account's lifetime; moto draws a new one each time the
    emulator (in memory) recreates the user on start. Members are keyed on `sub`, so locally the
    sub is derived from the pool and the username: the same user has the same sub after a restart."""
    import uuid

    from moto.cognitoidp import models

    if getattr(models.CognitoIdpUser, "_xanadu_stable_sub", False):
        return
    original = models.CognitoIdpUser.__init__

    def init(self: Any, user_pool_id: str, username: str | None, *args: Any, **kwargs: Any) -> None:
        original(self, user_pool_id, username, *args, **kwargs)
        # With email as the username attribute, moto passes no username and names the user by its sub.
        name = username or self.attribute_lookup.get("email")
        if name:
            self.id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cognito-local:{user_pool_id}:{name.lower()}"))
            if username is None:
                self.username = self.id
            self.update_attributes([{"Name": "sub", "Value": self.id}])

    models.CognitoIdpUser.__init__ = init  # type: ignore[method-assign]
    models.CognitoIdpUser._xanadu_stable_sub = True  # type: ignore[attr-defined]


def start_server(port: int = 4566, host: str = "127.0.0.1"):
    """moto server in a background thread of this process; port 0 picks a free one."""
    from moto.server import ThreadedMotoServer

    _stable_subjects()

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{host}:{bound_port}"


def bootstrap(endpoint: str) -> LocalAws:
    """Create (or find) the user pool, app client, admin group, demo users and queues."""
    idp = client("cognito-idp", endpoint)
    pools = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == POOL_NAME]
    if pools:
        pool_id = pools[0]["Id"]
    else:
        pool_id = idp.create_user_pool(
            PoolName=POOL_NAME,
            UsernameAttributes=["email"],
            AutoVerifiedAttributes=["email"],
            Policies={"PasswordPolicy": {"MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True,
                                         "RequireNumbers": True, "RequireSymbols": False}},
        )["UserPool"]["Id"]
    clients = [c for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
               if c["ClientName"] == CLIENT_NAME]
    if clients:
        client_id = clients[0]["ClientId"]
    else:
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=CLIENT_NAME,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            # What the ID token carries (moto copies readable attributes into it, as Cognito does).
            ReadAttributes=["email", "email_verified", "given_name", "family_name", "phone_number", "address"],
        )["UserPoolClient"]["ClientId"]
    groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]}
    if ADMIN_GROUP not in groups:
        idp.create_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP, Description="Xanadu staff")
    ensure_user(endpoint, pool_id, *DEMO_MEMBER)
    ensure_user(endpoint, pool_id, *DEMO_ADMIN, groups=(ADMIN_GROUP,))

    queue_url, dlq_url = create_queue_with_dlq(client("sqs", endpoint), "order-events")
    ses = client("ses", endpoint)
    ses.verify_email_identity(EmailAddress="rewards@xanadu.example")
    return LocalAws(endpoint, pool_id, client_id, queue_url, dlq_url)


def create_queue_with_dlq(sqs: Any, name: str) -> tuple[str, str]:
    """`name` and `name-dlq`, redriving after 3 receives: the production order-events shape."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq",
                               Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "30",
            "MessageRetentionPeriod": "1209600",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def ensure_user(endpoint: str, pool_id: str, email: str, password: str = DEFAULT_PASSWORD,
                given_name: str = "", family_name: str = "", groups: tuple[str, ...] = ()) -> None:
    idp = client("cognito-idp", endpoint)
    try:
        idp.admin_get_user(UserPoolId=pool_id, Username=email)
    except idp.exceptions.UserNotFoundException:
        attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
        if given_name:
            attributes.append({"Name": "given_name", "Value": given_name})
        if family_name:
            attributes.append({"Name": "family_name", "Value": family_name})
        idp.admin_create_user(UserPoolId=pool_id, Username=email, UserAttributes=attributes,
                              MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)


def id_token(endpoint: str, client_id: str, email: str, password: str = DEFAULT_PASSWORD) -> str:
    """Sign in like the frontend does (USER_PASSWORD_AUTH) and return the ID token."""
    idp = client("cognito-idp", endpoint)
    result = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": email, "PASSWORD": password})
    return result["AuthenticationResult"]["IdToken"]
