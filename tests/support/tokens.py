"""ID tokens with chosen claims, signed by the emulated pool's own key: exactly what Cognito would send
in a scenario (an email changed without verification, a new account with someone's address...),
independent of what the emulator can be made to do."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt


def moto_signing_key() -> Any:
    """The emulated pool's private key (moto ships it)."""
    from moto.utilities.utils import load_resource

    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(load_resource("cognitoidp/resources/jwks-private.json")))


def id_claims(aws: Any, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{aws.user_pool_id}",
        "sub": str(uuid.uuid4()),
        "aud": aws.client_id,
        "token_use": "id",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "email": "forger@example.com",
        "email_verified": True,
    }
    claims.update(overrides)
    return claims


def sign(claims: dict[str, Any], key: Any, kid: str = "dummy") -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def identity_token(aws: Any, sub: str, email: str, verified: bool = True, **claims: Any) -> str:
    """A genuine-looking ID token for the identity `sub` with this email claim."""
    return sign(id_claims(aws, sub=sub, email=email, email_verified=verified, **claims), moto_signing_key())
