"""Who the caller is, from a token's claims (verified by the app or by API Gateway's authorizer)."""

from __future__ import annotations

import pytest

from chalicelib.platform.auth import Authenticator, principal_from_claims
from chalicelib.platform.config import Settings
from chalicelib.platform.errors import Forbidden, Unauthenticated

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"


def test_the_identity_is_issuer_and_subject_and_the_email_is_normalised_profile_data():
    principal = principal_from_claims(
        {"iss": ISSUER, "sub": "s-1", "email": " Ann@Example.COM ", "email_verified": True}, "default"
    )
    assert (principal.issuer, principal.subject) == (ISSUER, "s-1")
    assert principal.email == "ann@example.com" and principal.email_verified is True


@pytest.mark.parametrize(
    "value, verified",
    [
        (True, True),
        ("true", True),
        ("True", True),
        ("false", False),
        (False, False),
        (None, False),
        ("yes", False),
        (1, False),
    ],
)
def test_email_verified_only_when_the_provider_says_so(value, verified):
    claims = {"sub": "s", "email": "a@b.co", "email_verified": value}
    assert principal_from_claims(claims, ISSUER).email_verified is verified


def test_a_token_without_a_subject_identifies_nobody():
    with pytest.raises(Unauthenticated):
        principal_from_claims({"email": "a@b.co", "cognito:username": "a", "email_verified": True}, ISSUER)


def test_standard_profile_claims_are_read_including_cognitos_json_address():
    principal = principal_from_claims(
        {
            "sub": "s",
            "given_name": "Pat",
            "family_name": "Lee",
            "phone_number": "+15555550100",
            "address": '{"street_address": "1 Main St", "locality": "Springfield", "region": "IL", "postal_code": "62701"}',
        },
        ISSUER,
    )
    assert (principal.given_name, principal.family_name, principal.phone) == ("Pat", "Lee", "+15555550100")
    assert (principal.address.street, principal.address.city, principal.address.zip_code) == (
        "1 Main St",
        "Springfield",
        "62701",
    )
    assert principal_from_claims({"sub": "s", "address": "not json"}, ISSUER).address.street == "not json"


def test_cognitos_formatted_address_claim_holds_the_fields_as_json():
    attribute = '{"street_address":"1 Xanadu Way","locality":"Springfield","region":"IL","postal_code":"62701"}'
    for claim in ({"formatted": attribute}, '{"formatted": ' + __import__("json").dumps(attribute) + "}"):
        address = principal_from_claims({"sub": "s", "address": claim}, ISSUER).address
        assert (address.street, address.city, address.state, address.zip_code) == (
            "1 Xanadu Way",
            "Springfield",
            "IL",
            "62701",
        )
    assert (
        principal_from_claims({"sub": "s", "address": {"formatted": "12 Rue X"}}, ISSUER).address.street == "12 Rue X"
    )


def test_cognito_mode_reads_the_authorizers_string_claims():
    auth = Authenticator(Settings(auth_mode="cognito", cognito_user_pool_id="us-east-1_pool"))
    claims = {
        "email": "Deployed@Example.com",
        "sub": "s-1",
        "token_use": "id",
        "cognito:groups": "[admin, staff]",
        "email_verified": "true",
    }
    principal = auth.principal({}, {"authorizer": {"claims": claims}})
    assert principal.email == "deployed@example.com" and principal.email_verified is True
    assert principal.groups == frozenset({"admin", "staff"}) and principal.issuer == ISSUER
    assert auth.admin({}, {"authorizer": {"claims": claims}}).subject == "s-1"
    with pytest.raises(Forbidden):
        auth.admin({}, {"authorizer": {"claims": {**claims, "cognito:groups": "[staff]"}}})
    with pytest.raises(Unauthenticated):
        auth.principal({"authorization": "Bearer whatever"}, {})
    with pytest.raises(Unauthenticated):
        auth.principal({}, {"authorizer": {"claims": {**claims, "token_use": "access"}}})
