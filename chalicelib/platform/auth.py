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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import Settings, get_settings
from .errors import Forbidden, Unauthenticated
from .logs import get_logger
from .text import normalize_email

log = get_logger(__name__)


@dataclass(frozen=True)
class Address:
    """The OpenID Connect `address` claim, in the fields the member profile keeps."""

    street: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""


@dataclass(frozen=True)
class Principal:
    """A signed-in person. Who they are is (`issuer`, `subject`): the identity provider's immutable id.

    `email` and the names are profile data from the token; `email_verified` says whether the
    identity provider has proved the person controls that address (only then may it link them to
    an in-store customer created with it).
    """

    issuer: str
    subject: str
    email: str = ""
    email_verified: bool = False
    groups: frozenset[str] = field(default_factory=frozenset)
    given_name: str = ""
    family_name: str = ""
    phone: str = ""
    address: Address = field(default_factory=Address)

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


def _truthy(value: Any) -> bool:
    """JWT booleans are booleans; API Gateway's authorizer passes every claim as a string ("true")."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _text(value: Any, limit: int = 200) -> str:
    return str(value).replace("\x00", "").strip()[:limit] if value is not None else ""


def _address(value: Any) -> Address:
    """The OpenID `address` claim. Cognito sends `{"formatted": "<the attribute string>"}`, whose string
    holds the structured fields as JSON (as the frontend stores them); a structured claim (`street_address`,
    `locality`, `region`, `postal_code`) or a bare string are read too; anything else is an empty address."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return Address(street=_text(value))
    if not isinstance(value, Mapping):
        return Address()
    if "formatted" in value and not ({"street_address", "locality", "region", "postal_code"} & set(value)):
        return _address(value["formatted"]) if isinstance(value["formatted"], str) else Address()
    return Address(
        street=_text(value.get("street_address")),
        city=_text(value.get("locality"), 100),
        state=_text(value.get("region"), 100),
        zip_code=_text(value.get("postal_code"), 20),
    )


def principal_from_claims(claims: Mapping[str, Any], default_issuer: str) -> Principal:
    subject = _text(claims.get("sub"), 255)
    if not subject:
        raise Unauthenticated("The token carries no subject.")
    return Principal(
        issuer=_text(claims.get("iss"), 500) or default_issuer,
        subject=subject,
        email=normalize_email(_text(claims.get("email"), 320)),
        email_verified=_truthy(claims.get("email_verified")),
        groups=_groups(claims.get("cognito:groups")),
        given_name=_text(claims.get("given_name"), 100),
        family_name=_text(claims.get("family_name"), 100),
        phone=_text(claims.get("phone_number"), 40),
        address=_address(claims.get("address")),
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
            return principal_from_claims(claims, self._settings.cognito_issuer)
        if self._verifier is None:
            self._verifier = TokenVerifier(self._settings)
        return principal_from_claims(self._verifier.verify(bearer_token(headers)), self._settings.cognito_issuer)

    def admin(self, headers: Mapping[str, str], context: Mapping[str, Any] | None) -> Principal:
        principal = self.principal(headers, context)
        if not principal.is_in(self._settings.admin_group):
            raise Forbidden("This action requires the admin role.")
        return principal


_authenticator: Authenticator | None = None


def get_authenticator() -> Authenticator:
    """The container's Authenticator (its JWKS cache lives as long as the container)."""
    global _authenticator
    if _authenticator is None:
        _authenticator = Authenticator(get_settings())
    return _authenticator


def reset_authenticator() -> None:
    global _authenticator
    _authenticator = None
