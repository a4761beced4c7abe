"""The local user pool behaves like Cognito for the frontend: SRP that checks the password, ID tokens with
Cognito's claims, the deployed client's auth flows, RevokeToken/GlobalSignOut with CORS, and email changes
that wait for verification (devtools.localcognito on moto, devtools.srp)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from devtools import localaws, srp
from devtools.localaws import Address

PROFILE_ADDRESS = Address("12 Rue Test", "Lyon", "ARA", "69001")


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def verified_claims(aws: localaws.LocalAws, token: str, token_use: str = "id") -> dict[str, Any]:
    """Decode a token the way the app does: signature from the pool's JWKS, issuer, audience, expiry."""
    key = jwt.PyJWKClient(aws.jwks_url).get_signing_key_from_jwt(token).key
    issuer = f"https://cognito-idp.us-east-1.amazonaws.com/{aws.user_pool_id}"
    if token_use == "id":
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=aws.client_id, issuer=issuer)
    else:
        claims = jwt.decode(token, key, algorithms=["RS256"], issuer=issuer, options={"verify_aud": False})
    assert claims["token_use"] == token_use
    return claims


def cognito_call(
    aws: localaws.LocalAws, action: str, body: dict[str, Any], origin: str = "http://127.0.0.1:5173"
) -> tuple[int, dict[str, str], Any]:
    """A raw call as a browser makes it (unsigned, JSON 1.1, X-Amz-Target, Origin)."""
    request = urllib.request.Request(
        aws.endpoint + "/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{action}",
            "Origin": origin,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


# -- SRP ------------------------------------------------------------------------------------------------------
def test_srp_client_and_server_agree_only_on_the_right_password() -> None:
    pool = "us-east-1_Pool123"
    right = srp.SrpClient(pool, "Correct-horse-1")
    challenge = srp.server_challenge(pool, "user-id", "Correct-horse-1", right.srp_a)
    answer = right.challenge_responses(challenge.parameters())
    assert challenge.verify(
        answer["USERNAME"],
        answer["PASSWORD_CLAIM_SECRET_BLOCK"],
        answer["TIMESTAMP"],
        answer["PASSWORD_CLAIM_SIGNATURE"],
    )

    wrong = srp.SrpClient(pool, "Correct-horse-2")
    challenge = srp.server_challenge(pool, "user-id", "Correct-horse-1", wrong.srp_a)
    answer = wrong.challenge_responses(challenge.parameters())
    assert not challenge.verify(
        answer["USERNAME"],
        answer["PASSWORD_CLAIM_SECRET_BLOCK"],
        answer["TIMESTAMP"],
        answer["PASSWORD_CLAIM_SIGNATURE"],
    )


def test_srp_refuses_a_zero_public_value_and_malformed_timestamps() -> None:
    with pytest.raises(ValueError):
        srp.server_challenge("us-east-1_P", "u", "pw", format(srp.N * 3, "x"))
    assert srp.valid_timestamp("Tue Dec 3 08:16:05 UTC 2026")
    assert not srp.valid_timestamp("Tue Dec 03 08:16:05 UTC 2026")  # Cognito's day is not zero-padded
    assert not srp.valid_timestamp("2026-12-03T08:16:05Z")


def test_pad_hex_matches_cognito() -> None:
    assert srp.pad_hex(0xABC) == "0abc"
    assert srp.pad_hex(0x8F) == "008f"
    assert srp.pad_hex(0x7F) == "7f"


def test_srp_sign_in_yields_an_id_token_with_the_users_cognito_claims(aws: localaws.LocalAws) -> None:
    email = _email()
    sub = localaws.ensure_user(
        aws.endpoint,
        aws.user_pool_id,
        email,
        "Profile-pass-1",
        "Zoe",
        "Quinn",
        groups=(localaws.ADMIN_GROUP,),
        phone_number="+33612345678",
        address=PROFILE_ADDRESS,
    )
    tokens = localaws.sign_in(aws.endpoint, aws.client_id, email, "Profile-pass-1")

    claims = verified_claims(aws, tokens.id_token)
    assert claims["email"] == email  # not the internal username, as moto's SRP gave
    assert claims["email_verified"] is True
    assert claims["sub"] == sub == claims["cognito:username"]
    assert (claims["given_name"], claims["family_name"], claims["phone_number"]) == ("Zoe", "Quinn", "+33612345678")
    assert claims["phone_number_verified"] is False
    assert json.loads(claims["address"]["formatted"]) == {
        "street_address": "12 Rue Test",
        "locality": "Lyon",
        "region": "ARA",
        "postal_code": "69001",
    }
    assert claims["cognito:groups"] == [localaws.ADMIN_GROUP]
    assert claims["aud"] == aws.client_id
    assert claims["origin_jti"] and claims["exp"] > claims["iat"]

    access = verified_claims(aws, tokens.access_token, "access")
    assert access["client_id"] == aws.client_id and access["username"] == sub
    assert access["origin_jti"] == claims["origin_jti"]
    assert tokens.refresh_token


def test_a_wrong_password_or_unknown_user_is_not_authorized(aws: localaws.LocalAws) -> None:
    email = _email()
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email, "Right-pass-1")
    with pytest.raises(ClientError) as wrong:
        localaws.sign_in(aws.endpoint, aws.client_id, email, "Wrong-pass-1")
    assert error_code(wrong) == "NotAuthorizedException"
    assert wrong.value.response["Error"]["Message"] == "Incorrect username or password."
    # PreventUserExistenceErrors: an unknown user looks exactly like a wrong password.
    with pytest.raises(ClientError) as unknown:
        localaws.sign_in(aws.endpoint, aws.client_id, _email(), "Right-pass-1")
    assert error_code(unknown) == "NotAuthorizedException"
    assert unknown.value.response["Error"]["Message"] == "Incorrect username or password."


def test_a_password_proof_cannot_be_replayed_or_forged(aws: localaws.LocalAws) -> None:
    email = _email()
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email, "Replay-pass-1")
    idp = localaws.client("cognito-idp", aws.endpoint)
    client = srp.SrpClient(aws.user_pool_id, "Replay-pass-1")
    challenge = idp.initiate_auth(
        ClientId=aws.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": email, "SRP_A": client.srp_a}
    )
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    parameters = challenge["ChallengeParameters"]
    assert parameters["USER_ID_FOR_SRP"] != email  # Cognito signs with the internal username

    answer = client.challenge_responses(parameters)
    forged = {**answer, "PASSWORD_CLAIM_SIGNATURE": answer["PASSWORD_CLAIM_SIGNATURE"][::-1]}
    with pytest.raises(ClientError) as bad:
        idp.respond_to_auth_challenge(
            ClientId=aws.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=forged
        )
    assert error_code(bad) == "NotAuthorizedException"
    # One attempt per challenge: the genuine answer after a failure is refused too, then a fresh one works.
    with pytest.raises(ClientError) as replay:
        idp.respond_to_auth_challenge(
            ClientId=aws.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer
        )
    assert error_code(replay) == "NotAuthorizedException"
    assert localaws.sign_in(aws.endpoint, aws.client_id, email, "Replay-pass-1").id_token


def test_sign_in_names_are_case_insensitive(aws: localaws.LocalAws) -> None:
    email = _email()
    sub = localaws.ensure_user(aws.endpoint, aws.user_pool_id, email)
    claims = verified_claims(aws, localaws.id_token(aws.endpoint, aws.client_id, email.upper()))
    assert claims["sub"] == sub and claims["email"] == email


# -- the app client's flows -----------------------------------------------------------------------------------
def test_the_app_client_allows_exactly_the_deployed_flows(aws: localaws.LocalAws) -> None:
    idp = localaws.client("cognito-idp", aws.endpoint)
    described = idp.describe_user_pool_client(UserPoolId=aws.user_pool_id, ClientId=aws.client_id)["UserPoolClient"]
    assert sorted(described["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    email = _email()
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email)
    for flow in ("USER_PASSWORD_AUTH", "CUSTOM_AUTH"):
        with pytest.raises(ClientError) as refused:
            idp.initiate_auth(
                ClientId=aws.client_id,
                AuthFlow=flow,
                AuthParameters={"USERNAME": email, "PASSWORD": localaws.DEFAULT_PASSWORD},
            )
        assert error_code(refused) == "InvalidParameterException"
        assert refused.value.response["Error"]["Message"] == f"{flow} flow not enabled for this client"
    with pytest.raises(ClientError) as admin:
        idp.admin_initiate_auth(
            UserPoolId=aws.user_pool_id,
            ClientId=aws.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": localaws.DEFAULT_PASSWORD},
        )
    assert error_code(admin) == "InvalidParameterException"

    tokens = localaws.sign_in(aws.endpoint, aws.client_id, email)
    refreshed = localaws.refresh(aws.endpoint, aws.client_id, tokens.refresh_token or "")
    assert verified_claims(aws, refreshed.id_token)["email"] == email


# -- sign-out, as Amplify does it from a browser -----------------------------------------------------------------
def test_revoke_token_answers_like_cognito_with_cors_and_ends_the_session(aws: localaws.LocalAws) -> None:
    email = _email()
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email)
    tokens = localaws.sign_in(aws.endpoint, aws.client_id, email)

    status, headers, body = cognito_call(aws, "RevokeToken", {"Token": tokens.refresh_token, "ClientId": aws.client_id})
    assert (status, body) == (200, {})
    assert headers["Access-Control-Allow-Origin"] == "*"
    with pytest.raises(ClientError) as refresh:
        localaws.refresh(aws.endpoint, aws.client_id, tokens.refresh_token or "")
    assert error_code(refresh) == "NotAuthorizedException"
    with pytest.raises(ClientError) as get_user:
        localaws.client("cognito-idp", aws.endpoint).get_user(AccessToken=tokens.access_token)
    assert error_code(get_user) == "NotAuthorizedException"
    # Revoking again (or an unknown token) is still 200 {}, as in Cognito.
    assert cognito_call(aws, "RevokeToken", {"Token": tokens.refresh_token, "ClientId": aws.client_id})[::2] == (
        200,
        {},
    )


def test_global_sign_out_answers_like_cognito_with_cors(aws: localaws.LocalAws) -> None:
    email = _email()
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email)
    first = localaws.sign_in(aws.endpoint, aws.client_id, email)
    second = localaws.sign_in(aws.endpoint, aws.client_id, email)

    status, headers, body = cognito_call(aws, "GlobalSignOut", {"AccessToken": first.access_token})
    assert (status, body, headers["Access-Control-Allow-Origin"]) == (200, {}, "*")
    for session in (first, second):  # every session of the user ends
        with pytest.raises(ClientError) as refresh:
            localaws.refresh(aws.endpoint, aws.client_id, session.refresh_token or "")
        assert error_code(refresh) == "NotAuthorizedException"


def test_preflights_and_errors_carry_exactly_one_set_of_cors_headers(aws: localaws.LocalAws) -> None:
    request = urllib.request.Request(
        aws.endpoint + "/",
        method="OPTIONS",
        headers={
            "Origin": "http://127.0.0.1:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-user-agent,cache-control",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as preflight:
        assert preflight.status == 200
        assert preflight.headers.get_all("Access-Control-Allow-Origin") == ["*"]
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert (
            preflight.headers["Access-Control-Allow-Headers"]
            == "content-type,x-amz-target,x-amz-user-agent,cache-control"
        )

    status, headers, body = cognito_call(
        aws,
        "InitiateAuth",
        {
            "ClientId": aws.client_id,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "x@example.com", "PASSWORD": "y"},
        },
    )
    assert status == 400 and body["__type"] == "InvalidParameterException"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "x-amzn-ErrorType" in headers["Access-Control-Expose-Headers"]


# -- changing attributes as the user -----------------------------------------------------------------------------
def test_a_new_email_waits_for_verification_and_the_old_one_stays_active(aws: localaws.LocalAws) -> None:
    old, new = _email(), _email()
    sub = localaws.ensure_user(aws.endpoint, aws.user_pool_id, old)
    tokens = localaws.sign_in(aws.endpoint, aws.client_id, old)

    deliveries = localaws.update_user_attributes(aws.endpoint, tokens.access_token, {"email": new})
    assert [(d["AttributeName"], d["DeliveryMedium"]) for d in deliveries] == [("email", "EMAIL")]
    claims = verified_claims(aws, localaws.id_token(aws.endpoint, aws.client_id, old))
    assert (claims["sub"], claims["email"], claims["email_verified"]) == (sub, old, True)
    with pytest.raises(ClientError):
        localaws.sign_in(aws.endpoint, aws.client_id, new)  # the pending address signs nobody in

    with pytest.raises(ClientError) as mismatch:
        localaws.verify_user_attribute(aws.endpoint, tokens.access_token, "email", "000000x")
    assert error_code(mismatch) == "CodeMismatchException"

    localaws.change_email(aws.endpoint, tokens.access_token, new, verified=True)
    claims = verified_claims(aws, localaws.id_token(aws.endpoint, aws.client_id, new))
    assert (claims["sub"], claims["email"], claims["email_verified"]) == (sub, new, True)
    # The session from before the change goes on, with the new claims on refresh.
    refreshed = localaws.refresh(aws.endpoint, aws.client_id, tokens.refresh_token or "")
    assert verified_claims(aws, refreshed.id_token)["email"] == new


def test_without_the_pool_setting_a_new_email_is_active_at_once_and_unverified(aws: localaws.LocalAws) -> None:
    old, new = _email(), _email()
    sub = localaws.ensure_user(aws.endpoint, aws.user_pool_id, old)
    tokens = localaws.sign_in(aws.endpoint, aws.client_id, old)
    localaws.set_email_update_verification(aws.endpoint, aws.user_pool_id, required=False)
    try:
        localaws.change_email(aws.endpoint, tokens.access_token, new, verified=False)
        claims = verified_claims(aws, localaws.id_token(aws.endpoint, aws.client_id, new))
        assert (claims["sub"], claims["email"], claims["email_verified"]) == (sub, new, False)
        localaws.verify_user_attribute(
            aws.endpoint, tokens.access_token, "email", localaws.verification_code(aws.endpoint, tokens.access_token)
        )
        assert verified_claims(aws, localaws.id_token(aws.endpoint, aws.client_id, new))["email_verified"] is True
    finally:
        localaws.set_email_update_verification(aws.endpoint, aws.user_pool_id, required=True)
    pool = localaws.client("cognito-idp", aws.endpoint).describe_user_pool(UserPoolId=aws.user_pool_id)["UserPool"]
    assert pool["UsernameAttributes"] == ["email"]  # UpdateUserPool keeps what Cognito cannot change
    assert pool["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}


def test_another_users_email_in_any_case_is_refused(aws: localaws.LocalAws) -> None:
    victim, attacker = _email(), _email()
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, victim)
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, attacker)
    tokens = localaws.sign_in(aws.endpoint, aws.client_id, attacker)
    for address in (victim, victim.upper()):
        with pytest.raises(ClientError) as taken:
            localaws.update_user_attributes(aws.endpoint, tokens.access_token, {"email": address})
        assert error_code(taken) == "AliasExistsException"


def test_profile_attributes_change_at_once(aws: localaws.LocalAws) -> None:
    email = _email()
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email, given_name="Old")
    tokens = localaws.sign_in(aws.endpoint, aws.client_id, email)
    assert (
        localaws.update_user_attributes(
            aws.endpoint, tokens.access_token, {"given_name": "New", "address": PROFILE_ADDRESS.attribute()}
        )
        == []
    )
    claims = verified_claims(aws, localaws.id_token(aws.endpoint, aws.client_id, email))
    assert claims["given_name"] == "New"
    assert claims["address"] == {"formatted": PROFILE_ADDRESS.attribute()}


def test_ensure_user_can_make_an_unverified_email_and_update_a_profile(aws: localaws.LocalAws) -> None:
    email = _email()
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email, email_verified=False)
    assert verified_claims(aws, localaws.id_token(aws.endpoint, aws.client_id, email))["email_verified"] is False
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email, family_name="Later", email_verified=True)
    claims = verified_claims(aws, localaws.id_token(aws.endpoint, aws.client_id, email))
    assert (claims["family_name"], claims["email_verified"]) == ("Later", True)


def test_the_demo_member_has_a_full_profile(aws: localaws.LocalAws) -> None:
    email, password, given, family = localaws.DEMO_MEMBER
    claims = verified_claims(aws, localaws.id_token(aws.endpoint, aws.client_id, email, password))
    assert (claims["email"], claims["email_verified"], claims["given_name"], claims["family_name"]) == (
        email,
        True,
        given,
        family,
    )
    assert claims["phone_number"] == localaws.DEMO_MEMBER_PHONE
    assert json.loads(claims["address"]["formatted"]) == {
        "street_address": "1 Xanadu Way",
        "locality": "Springfield",
        "region": "IL",
        "postal_code": "62701",
    }
    assert "cognito:groups" not in claims
