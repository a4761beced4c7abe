"""Who is calling: Cognito ID tokens for members and admins.

Deployed, API Gateway's Cognito authorizer has verified the token and hands us its claims.
Locally and in tests nothing in front of the app verifies anything (chalice local and the test
client accept any string), so in `verify` mode the app checks the token itself against the user
pool's JWKS: signature, issuer, audience, token_use == "id", expiry.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from .config import Settings
from .errors import Forbidden, Unauthenticated
from .logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Principal:
    """A signed-in person. `email` is the member identity (fallback: cognito:username)."""

    email: str
    subject: str
    groups: frozenset[str] = field(default_factory=frozenset)
    given_name: str = ""
    family_name: str = ""
    phone: str = ""

    def is_in(self, group: str) -> bool:
        return group in self.groups


def bearer_token(headers: Mapping[str, str]) -> str:
    raw = (headers.get("authorization") or "").strip()
    if raw[:7].lower() == "bearer ":
        raw = raw[7:].strip()
    if not raw:
        raise Unauthenticated("Missing Authorization header with a Cognito ID token.")
    return raw


def _groups(value: Any) -> frozenset[str]:
    """Cognito groups arrive as a list (JWT) or as a string like "[admin, staff]" (API Gateway claims)."""
    if value is None:
        return frozenset()
    if isinstance(value, (list, tuple)):
        return frozenset(str(v) for v in value)
    text = str(value).strip().strip("[]")
    return frozenset(part.strip() for part in text.replace(",", " ").split() if part.strip())


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    identity = str(claims.get("email") or claims.get("cognito:username") or "").strip().lower()
    if not identity:
        raise Unauthenticated("The token carries no email or username.")
    return Principal(
        email=identity,
        subject=str(claims.get("sub") or identity),
        groups=_groups(claims.get("cognito:groups")),
        given_name=str(claims.get("given_name") or ""),
        family_name=str(claims.get("family_name") or ""),
        phone=str(claims.get("phone_number") or ""),
    )


class JwksCache:
    """Signing keys of the user pool, fetched once per container and refreshed on an unknown kid."""

    def __init__(self, url: str, min_refresh_seconds: float = 30.0):
        self._url = url
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._min_refresh = min_refresh_seconds
        self._lock = threading.Lock()

    def key(self, kid: str) -> Any:
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at > self._min_refresh:
                self._refresh()
            if kid not in self._keys:
                raise Unauthenticated("The token was not signed by this user pool.")
            return self._keys[kid]

    def _refresh(self) -> None:
        import urllib.request  # deferred: only needed when keys are (re)fetched, never at cold start

        from jwt.algorithms import RSAAlgorithm

        try:
            with urllib.request.urlopen(self._url, timeout=5) as response:  # noqa: S310 (configured URL)
                document = json.loads(response.read())
        except Exception as exc:
            log.error("could not fetch JWKS", extra={"jwks_url": self._url, "error": str(exc)})
            raise Unauthenticated("Token keys are unavailable; cannot verify the token.") from exc
        self._keys = {k["kid"]: RSAAlgorithm.from_jwk(json.dumps(k)) for k in document.get("keys", [])}
        self._fetched_at = time.monotonic()


class TokenVerifier:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._jwks = JwksCache(settings.jwks_url)

    def verify(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The token is not a valid JWT.") from exc
        if header.get("alg") != "RS256":
            raise Unauthenticated("The token must be signed with RS256.")
        key = self._jwks.key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                audience=self._settings.cognito_client_id,
                issuer=self._settings.cognito_issuer,
                options={"require": ["exp", "iss", "aud", "token_use"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("The token was issued for another client.") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("The token was issued by another user pool.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The token is invalid.") from exc
        if claims.get("token_use") != "id":
            raise Unauthenticated("An ID token is required (got an access token).")
        return claims


class Authenticator:
    """Turns a request's headers and authorizer context into a Principal."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._verifier: TokenVerifier | None = None

    def principal(self, headers: Mapping[str, str], context: Mapping[str, Any] | None) -> Principal:
        if self._settings.auth_mode == "cognito":
            claims = ((context or {}).get("authorizer") or {}).get("claims")
            if not claims:
                raise Unauthenticated("Missing Authorization header with a Cognito ID token.")
            if claims.get("token_use") not in (None, "id"):
                raise Unauthenticated("An ID token is required (got an access token).")
            return principal_from_claims(claims)
        if self._verifier is None:
            self._verifier = TokenVerifier(self._settings)
        return principal_from_claims(self._verifier.verify(bearer_token(headers)))

    def admin(self, headers: Mapping[str, str], context: Mapping[str, Any] | None) -> Principal:
        principal = self.principal(headers, context)
        if not principal.is_in(self._settings.admin_group):
            raise Forbidden("This action requires the admin role.")
        return principal
