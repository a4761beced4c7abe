"""Emulated AWS for the local stack and tests: moto server with Cognito and SQS set up like prod.

Pool and client ids are stable across restarts (moto derives them from a hash of the pool's name
and settings when MOTO_COGNITO_IDP_*_STRATEGY=HASH), so tokens and .var/local/env keep working.
The user pool is moto's, corrected where the frontend needs real Cognito behaviour
(devtools.localcognito: SRP, token claims, auth flows per client, RevokeToken, email changes,
CORS). Users sign in here as the frontend does, with USER_SRP_AUTH (devtools.srp).
"""
from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

REGION = "us-east-1"
ACCOUNT = "123456789012"
POOL_NAME = "xanadu-local"
CLIENT_NAME = "xanadu-web"
ADMIN_GROUP = "admin"

# The stage's bucket (imports/, events/): DATA_BUCKET of the local stack and the tests.
DATA_BUCKET = "xanadu-local-data"

DEMO_MEMBER = ("member@xanadu.example", "Member-pass-1", "Maya", "Member")
DEMO_ADMIN = ("admin@xanadu.example", "Admin-pass-1", "Ada", "Admin")
DEFAULT_PASSWORD = "Local-pass-1"
# The deployed client's flows (infra/merge-template.yml without ALLOW_USER_PASSWORD_AUTH).
CLIENT_AUTH_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

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
    data_bucket: str = DATA_BUCKET

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
            "DATA_BUCKET": self.data_bucket,
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def client(service: str, endpoint: str):
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@dataclass(frozen=True)
class Address:
    """Cognito's `address` attribute: a JSON string with OIDC's address fields."""

    street_address: str
    locality: str
    region: str
    postal_code: str

    def attribute(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


# The demo member's full profile, copied into the member row at first sign-in.
DEMO_MEMBER_PHONE = "+12025550143"
DEMO_MEMBER_ADDRESS = Address("1 Xanadu Way", "Springfield", "IL", "62701")


@dataclass(frozen=True)
class Tokens:
    """What a successful sign-in returns (AuthenticationResult); no refresh token after a refresh."""

    id_token: str
    access_token: str
    refresh_token: str | None


def start_server(port: int = 4566, host: str = "127.0.0.1", state_dir: Path | None = None):
    """moto server (with devtools.localcognito) in a background thread of this process; port 0 picks a
    free one. With `state_dir`, which users were deleted is kept there across restarts (a user created
    again after a deletion gets a new sub, as in Cognito). Returns (server with .stop(), endpoint URL)."""
    from devtools.localcognito import LocalAwsServer, remember_deletions_in

    if state_dir is not None:
        remember_deletions_in(state_dir / "cognito-deletions.json")
    server = LocalAwsServer(host, port).start()
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
            UsernameConfiguration={"CaseSensitive": False},
            UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
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
            ExplicitAuthFlows=CLIENT_AUTH_FLOWS,
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
        )["UserPoolClient"]["ClientId"]
    groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]}
    if ADMIN_GROUP not in groups:
        idp.create_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP, Description="Xanadu staff")
    ensure_user(endpoint, pool_id, *DEMO_MEMBER, phone_number=DEMO_MEMBER_PHONE, address=DEMO_MEMBER_ADDRESS)
    ensure_user(endpoint, pool_id, *DEMO_ADMIN, groups=(ADMIN_GROUP,))

    queue_url, dlq_url = create_queue_with_dlq(client("sqs", endpoint), "order-events")
    ses = client("ses", endpoint)
    ses.verify_email_identity(EmailAddress="rewards@xanadu.example")
    ensure_bucket(endpoint, DATA_BUCKET)
    return LocalAws(endpoint, pool_id, client_id, queue_url, dlq_url, DATA_BUCKET)


def ensure_bucket(endpoint: str, name: str) -> None:
    """The stage's bucket (infra/60-bucket.yml in AWS): imports/ and events/ live here."""
    s3 = client("s3", endpoint)
    try:
        s3.head_bucket(Bucket=name)
    except Exception:
        s3.create_bucket(Bucket=name)


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
                given_name: str = "", family_name: str = "", groups: tuple[str, ...] = (), *,
                phone_number: str = "", address: Address | None = None,
                email_verified: bool | None = None) -> str:
    """Create the user if missing (email verified unless email_verified=False, password permanent), set the
    profile attributes given, add it to `groups`; returns its internal username, which is its `sub`.

    An existing user keeps its password; the attributes passed (non-empty) are set, like an admin would."""
    idp = client("cognito-idp", endpoint)
    profile = {"given_name": given_name, "family_name": family_name, "phone_number": phone_number,
               "address": address.attribute() if address else ""}
    attributes = [{"Name": k, "Value": v} for k, v in profile.items() if v]
    try:
        user = idp.admin_get_user(UserPoolId=pool_id, Username=email)
    except idp.exceptions.UserNotFoundException:
        verified = "false" if email_verified is False else "true"
        user = idp.admin_create_user(
            UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": verified},
                            *attributes])["User"]
        idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    else:
        if email_verified is not None:
            attributes.append({"Name": "email_verified", "Value": "true" if email_verified else "false"})
        if attributes:
            idp.admin_update_user_attributes(UserPoolId=pool_id, Username=email, UserAttributes=attributes)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)
    return str(user["Username"])


@lru_cache(maxsize=64)
def _pool_of_client(endpoint: str, client_id: str) -> str:
    """The user pool id SRP needs (a browser has it in its configuration; here we look it up)."""
    idp = client("cognito-idp", endpoint)
    for pool in idp.list_user_pools(MaxResults=60)["UserPools"]:
        clients = idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
        if any(c["ClientId"] == client_id for c in clients):
            return str(pool["Id"])
    raise LookupError(f"no user pool at {endpoint} has the app client {client_id}")


def sign_in(endpoint: str, client_id: str, email: str, password: str = DEFAULT_PASSWORD) -> Tokens:
    """Sign in as Amplify v5's `Auth.signIn` does: USER_SRP_AUTH, then the PASSWORD_VERIFIER proof.

    A wrong password raises botocore's ClientError with code NotAuthorizedException."""
    from devtools.srp import SrpClient

    idp = client("cognito-idp", endpoint)
    srp = SrpClient(_pool_of_client(endpoint, client_id), password)
    challenge = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                                  AuthParameters={"USERNAME": email, "SRP_A": srp.srp_a})
    answer = {"ClientId": client_id, "ChallengeName": "PASSWORD_VERIFIER",
              "ChallengeResponses": srp.challenge_responses(challenge["ChallengeParameters"])}
    if challenge.get("Session"):
        answer["Session"] = challenge["Session"]
    result = idp.respond_to_auth_challenge(**answer)
    if "AuthenticationResult" not in result:
        raise RuntimeError(f"sign-in of {email} needs the {result.get('ChallengeName')} challenge, which "
                           "this helper does not answer")
    return _tokens(result["AuthenticationResult"])


def refresh(endpoint: str, client_id: str, refresh_token: str) -> Tokens:
    """REFRESH_TOKEN_AUTH, as Amplify's currentSession() does when the ID token has expired."""
    result = client("cognito-idp", endpoint).initiate_auth(
        ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh_token})
    return _tokens(result["AuthenticationResult"])


def _tokens(result: Mapping[str, Any]) -> Tokens:
    return Tokens(result["IdToken"], result["AccessToken"], result.get("RefreshToken"))


def id_token(endpoint: str, client_id: str, email: str, password: str = DEFAULT_PASSWORD) -> str:
    """Sign in like the frontend does (USER_SRP_AUTH) and return the ID token."""
    return sign_in(endpoint, client_id, email, password).id_token


# -- self-service attribute changes, as a signed-in user makes them -----------------------------------------
def update_user_attributes(endpoint: str, access_token: str, attributes: Mapping[str, str]) -> list[dict[str, str]]:
    """UpdateUserAttributes with the user's own access token; returns where verification codes went.

    With the pool's AttributesRequireVerificationBeforeUpdate [email] (the default here), a new email
    is pending: the old one stays the `email` claim, verified, until verify_user_attribute."""
    response = client("cognito-idp", endpoint).update_user_attributes(
        AccessToken=access_token, UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()])
    return list(response.get("CodeDeliveryDetailsList", []))


def verification_code(endpoint: str, access_token: str, attribute: str = "email") -> str:
    """The code the local pool "sent" for the user's last change of `attribute` (never mailed locally)."""
    claims = _unverified_claims(access_token)
    query = urllib.parse.urlencode({"user_pool_id": claims["iss"].rsplit("/", 1)[1], "username": claims["username"]})
    with urllib.request.urlopen(f"{endpoint}/_local/cognito/codes?{query}", timeout=10) as response:
        codes = json.loads(response.read())["codes"]
    for code in codes:
        if code["attribute"] == attribute:
            return str(code["code"])
    raise LookupError(f"no {attribute} verification code is outstanding for {claims['username']}")


def verify_user_attribute(endpoint: str, access_token: str, attribute: str, code: str) -> None:
    client("cognito-idp", endpoint).verify_user_attribute(AccessToken=access_token, AttributeName=attribute, Code=code)


def change_email(endpoint: str, access_token: str, new_email: str, *, verified: bool) -> None:
    """Change the user's email as the user would; `verified=True` also enters the code sent to it.

    In the local pool (email changes require verification) an unverified change leaves the old email
    active and verified; on a pool without that setting (set_email_update_verification(..., False))
    the new email is active at once with email_verified=false. Sign in again (or refresh) to get an
    ID token with the new claims."""
    update_user_attributes(endpoint, access_token, {"email": new_email})
    if verified:
        verify_user_attribute(endpoint, access_token, "email", verification_code(endpoint, access_token, "email"))


def set_email_update_verification(endpoint: str, pool_id: str, required: bool) -> None:
    """Turn the pool's UserAttributeUpdateSettings for email on (as deployed) or off (Cognito's default),
    keeping every other setting: to test the app against both behaviours of a self-service email change."""
    idp = client("cognito-idp", endpoint)
    updatable = set(idp.meta.service_model.operation_model("UpdateUserPool").input_shape.members)
    current = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    settings = {k: v for k, v in current.items() if k in updatable and k != "UserPoolId"}
    settings["UserAttributeUpdateSettings"] = {"AttributesRequireVerificationBeforeUpdate": ["email"] if required else []}
    idp.update_user_pool(UserPoolId=pool_id, **settings)


def _unverified_claims(token: str) -> dict[str, Any]:
    import base64

    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
