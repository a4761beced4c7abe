"""The local user pool, made to behave like Cognito for the real frontend (dev only, never deployed).

moto emulates most of Cognito well (pools, clients, users, groups, JWKS, refresh, GetUser, admin
calls), and we keep it for that. What the Xanadu frontend (Amplify v5) needs and moto 5.2 gets
wrong is corrected here, in the process that runs moto, by `install()`:

- USER_SRP_AUTH really checks the password proof (devtools.srp): a wrong password is Cognito's
  NotAuthorizedException, not a signed-in session; `USER_ID_FOR_SRP` is the user's internal
  username, as in Cognito.
- The ID token carries Cognito's claims: `email` is the email attribute (moto put the internal
  username there after SRP), `email_verified`/`phone_number_verified` are booleans, `address` is
  `{"formatted": <attribute string>}`, the other standard attributes as stored, `cognito:groups`,
  `cognito:username`, `origin_jti`, `event_id`.
- A client allows only its ExplicitAuthFlows (moto allowed every flow to every client), and with
  PreventUserExistenceErrors an unknown user gets the same answer as a wrong password.
- UsernameConfiguration `CaseSensitive: false` makes sign-in names case-insensitive, and
  UpdateUserPool keeps the settings Cognito cannot change after creation (moto reset them).
- `RevokeToken` exists (moto answered 500): it revokes the refresh token and the access tokens
  issued from it, and answers `{}`.
- Self-service attribute changes follow `UserAttributeUpdateSettings`: with
  `AttributesRequireVerificationBeforeUpdate: [email]` a new email waits, unverified and inactive,
  until `VerifyUserAttribute` gets the code sent to it (the old email stays the `email` claim and
  stays verified); without it the new email is active at once with `email_verified=false`.
  `GetUserAttributeVerificationCode` and `VerifyUserAttribute` exist (moto had neither).
  Codes are "sent" to the log and to `GET /_local/cognito/codes` on the endpoint, never mailed.
- Every response of the endpoint, and every CORS preflight, carries the CORS headers a browser
  needs (`LocalAwsApp`).

Users sign in under their internal username from the first call on, so tokens, refresh and sign-out
keep working after an email change. See docs/local-stack.md for what is and is not emulated.
"""
from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from devtools import srp

log = logging.getLogger("devtools.localcognito")

CODES_PATH = "/_local/cognito/codes"
CHALLENGE_TTL_S = 180  # Cognito's default AuthSessionValidity: 3 minutes
_FLOW_PERMISSIONS = {
    "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
    "CUSTOM_AUTH": "ALLOW_CUSTOM_AUTH",
    "ADMIN_USER_PASSWORD_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
}
# A client created without ExplicitAuthFlows gets these in Cognito.
_DEFAULT_FLOWS = {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_CUSTOM_AUTH"}
_BOOLEAN_CLAIMS = {"email_verified", "phone_number_verified"}
_NOT_IN_ID_TOKEN = {"sub"}
_VERIFIED_FLAG = {"email": "email_verified", "phone_number": "phone_number_verified"}


# -- state the emulator adds to moto's -----------------------------------------------------------------
@dataclass(frozen=True)
class _PendingSrp:
    challenge: srp.SrpChallenge
    client_id: str
    expires_at: float


@dataclass
class VerificationCode:
    """A code Cognito would have sent: for an attribute's pending value, or its current unverified one."""

    attribute: str
    value: str
    code: str
    pending: bool  # the value waits for verification before it replaces the attribute


_lock = threading.RLock()
_srp_challenges: dict[str, _PendingSrp] = {}           # by SECRET_BLOCK
_codes: dict[tuple[str, str], dict[str, VerificationCode]] = {}  # (pool id, username) -> attribute -> code


def verification_codes(user_pool_id: str, username: str) -> list[VerificationCode]:
    """The codes currently outstanding for a user (username: internal username or sign-in email)."""
    backend, pool = _pool_by_id(user_pool_id)
    user = pool._get_user(username)
    if user is None:
        return []
    with _lock:
        return list(_codes.get((pool.id, user.username), {}).values())


# -- moto lookups ----------------------------------------------------------------------------------------
def _backends() -> Iterable[Any]:
    from moto.cognitoidp.models import cognitoidp_backends

    for account_backends in cognitoidp_backends.values():
        for region, backend in account_backends.items():
            if region != "global":
                yield backend


def _pool_by_client(client_id: str) -> tuple[Any, Any]:
    from moto.cognitoidp.exceptions import ResourceNotFoundError

    for backend in _backends():
        for pool in backend.user_pools.values():
            if client_id in pool.clients:
                return backend, pool
    raise ResourceNotFoundError(client_id)


def _pool_by_id(user_pool_id: str) -> tuple[Any, Any]:
    from moto.cognitoidp.exceptions import ResourceNotFoundError

    for backend in _backends():
        if user_pool_id in backend.user_pools:
            return backend, backend.user_pools[user_pool_id]
    raise ResourceNotFoundError(f"User pool {user_pool_id} does not exist.")


def _pool_by_access_token(access_token: str) -> tuple[Any, Any, Any]:
    """(backend, pool, user) owning a live access token; NotAuthorized otherwise."""
    from moto.cognitoidp.exceptions import NotAuthorizedError

    for backend in _backends():
        for pool in backend.user_pools.values():
            if access_token in pool.access_tokens:
                _, username = pool.access_tokens[access_token]
                user = pool._get_user(username)
                if user is not None:
                    return backend, pool, user
    raise NotAuthorizedError("Invalid Access Token")


def _error(error_type: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(error_type, message)


def _incorrect_credentials() -> Exception:
    from moto.cognitoidp.exceptions import NotAuthorizedError

    return NotAuthorizedError("Incorrect username or password.")


def _case_insensitive(pool: Any) -> bool:
    return (pool.extended_config.get("UsernameConfiguration") or {}).get("CaseSensitive") is False


def _requires_verification(pool: Any) -> set[str]:
    settings = pool.extended_config.get("UserAttributeUpdateSettings") or {}
    return set(settings.get("AttributesRequireVerificationBeforeUpdate") or [])


def _require_flow(client: Any, flow: str) -> None:
    allowed = set(client.extended_config.get("ExplicitAuthFlows") or []) or _DEFAULT_FLOWS
    if _FLOW_PERMISSIONS.get(flow) not in allowed:
        raise _error("InvalidParameterException", f"{flow} flow not enabled for this client")


def _hides_unknown_users(client: Any) -> bool:
    return client.extended_config.get("PreventUserExistenceErrors") == "ENABLED"


def _signable_user(pool: Any, client: Any, username: str | None) -> Any:
    """The user signing in, or Cognito's error; None where Cognito would pretend the user exists."""
    from moto.cognitoidp.exceptions import UserNotConfirmedException, UserNotFoundError

    user = pool._get_user(username) if username else None
    if user is None:
        if _hides_unknown_users(client):
            return None
        raise UserNotFoundError("User does not exist.")
    if not user.enabled:
        raise _error("NotAuthorizedException", "User is disabled.")
    if user.status == "UNCONFIRMED":  # moto's UserStatus is a str enum
        raise UserNotConfirmedException("User is not confirmed.")
    return user


# -- patched moto behaviour ------------------------------------------------------------------------------
def _get_user(self: Any, username: str) -> Any:
    """moto's lookup by username or username attribute, case-insensitive where the pool says so."""
    user = _original["_get_user"](self, username)
    if user is not None or not username or not _case_insensitive(self):
        return user
    wanted = username.casefold()
    for candidate in self.users.values():
        if candidate.username.casefold() == wanted:
            return candidate
        for attribute in self.extended_config.get("UsernameAttributes") or []:
            value = candidate.attribute_lookup.get(attribute)
            if value and value.casefold() == wanted:
                return candidate
    return None


def id_token_claims(pool: Any, client_id: str, user: Any) -> dict[str, Any]:
    """The user-specific claims Cognito puts in an ID token for this client."""
    client = pool.clients.get(client_id)
    readable = set(client.extended_config.get("ReadAttributes") or []) if client else set()
    claims: dict[str, Any] = {}
    for name, value in user.attribute_lookup.items():
        if name in _NOT_IN_ID_TOKEN or (readable and name not in readable):
            continue
        if name in _BOOLEAN_CLAIMS:
            claims[name] = str(value).lower() == "true"
        elif name == "address":
            claims[name] = {"formatted": value}
        elif name == "updated_at":
            claims[name] = int(value) if str(value).isdigit() else value
        else:
            claims[name] = value
    for attribute, flag in _VERIFIED_FLAG.items():
        if attribute in claims and flag not in claims and (not readable or flag in readable):
            claims[flag] = False
    if user.groups:
        claims["cognito:groups"] = sorted(group.group_name for group in user.groups)
    claims["cognito:username"] = user.username
    return claims


def _create_id_token(self: Any, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
    from joserfc import jwt

    user = self._get_user(username)
    now = int(time.time())
    expires_in = 60 * 60
    payload = {
        "sub": user.id,
        **id_token_claims(self, client_id, user),
        "iss": f"https://cognito-idp.{self.region}.amazonaws.com/{self.id}",
        "aud": client_id,
        "origin_jti": origin_jti,
        "event_id": str(uuid.uuid4()),
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + expires_in,
        "jti": str(uuid.uuid4()),
    }
    token = jwt.encode({"kid": "dummy", "alg": "RS256"}, payload, self.json_web_key)
    self.id_tokens[token] = (client_id, user.username)
    return token, expires_in


_IMMUTABLE_POOL_SETTINGS = ("UsernameAttributes", "AliasAttributes", "UsernameConfiguration", "Schema")


def _update_user_pool(self: Any, user_pool_id: str, extended_config: dict[str, Any]) -> None:
    """UpdateUserPool, keeping what Cognito never changes after creation (moto reset those too)."""
    pool = self.describe_user_pool(user_pool_id)
    kept = {k: pool.extended_config[k] for k in _IMMUTABLE_POOL_SETTINGS if k in pool.extended_config}
    _original["update_user_pool"](self, user_pool_id, extended_config)
    pool.extended_config.update(kept)


def _initiate_auth(self: Any, client_id: str, auth_flow: str, auth_parameters: dict[str, str]) -> dict[str, Any]:
    backend, pool = _pool_by_client(client_id)
    client = pool.clients[client_id]
    if auth_flow in _FLOW_PERMISSIONS:
        _require_flow(client, auth_flow)
    if auth_flow == "USER_SRP_AUTH":
        return _start_srp(pool, client, auth_parameters)
    if auth_flow == "USER_PASSWORD_AUTH":
        user = _signable_user(pool, client, auth_parameters.get("USERNAME"))
        if user is None or user.password != auth_parameters.get("PASSWORD"):
            raise _incorrect_credentials()
        # Internal username from here on, so tokens survive a change of the sign-in email.
        auth_parameters = {**auth_parameters, "USERNAME": user.username}
    return _original["initiate_auth"](self, client_id, auth_flow, auth_parameters)


def _admin_initiate_auth(self: Any, user_pool_id: str, client_id: str, auth_flow: str,
                         auth_parameters: dict[str, str]) -> dict[str, Any]:
    pool = self.describe_user_pool(user_pool_id)
    client = pool.clients.get(client_id)
    if client is not None and auth_flow in _FLOW_PERMISSIONS:
        _require_flow(client, auth_flow)
    if client is not None and auth_flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
        user = _signable_user(pool, client, auth_parameters.get("USERNAME"))
        if user is None or user.password != auth_parameters.get("PASSWORD"):
            raise _incorrect_credentials()
        auth_parameters = {**auth_parameters, "USERNAME": user.username}
    return _original["admin_initiate_auth"](self, user_pool_id, client_id, auth_flow, auth_parameters)


def _start_srp(pool: Any, client: Any, parameters: dict[str, str]) -> dict[str, Any]:
    srp_a = parameters.get("SRP_A") or ""
    if not srp_a:
        raise _error("InvalidParameterException", "Missing required parameter SRP_A")
    user = _signable_user(pool, client, parameters.get("USERNAME"))
    # An unknown user (with PreventUserExistenceErrors) gets a challenge no password can answer.
    username = user.username if user is not None else str(uuid.uuid4())
    password = user.password if user is not None and user.password else secrets.token_hex(32)
    try:
        challenge = srp.server_challenge(pool.id, username, password, srp_a)
    except ValueError as bad:
        raise _error("InvalidParameterException", str(bad)) from None
    with _lock:
        now = time.monotonic()
        for block, pending in list(_srp_challenges.items()):
            if pending.expires_at < now:
                del _srp_challenges[block]
        _srp_challenges[challenge.secret_block] = _PendingSrp(challenge, client.id, now + CHALLENGE_TTL_S)
    return {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeParameters": challenge.parameters()}


def _respond_to_auth_challenge(self: Any, session: str, client_id: str, challenge_name: str,
                               challenge_responses: dict[str, str]) -> dict[str, Any]:
    if challenge_name != "PASSWORD_VERIFIER":
        return _original["respond_to_auth_challenge"](self, session, client_id, challenge_name, challenge_responses)
    backend, pool = _pool_by_client(client_id)
    client = pool.clients[client_id]
    with _lock:
        pending = _srp_challenges.pop(challenge_responses.get("PASSWORD_CLAIM_SECRET_BLOCK") or "", None)
    if pending is None or pending.expires_at < time.monotonic() or pending.client_id != client_id:
        raise _error("NotAuthorizedException", "Invalid session for the user, session is expired.")
    challenge = pending.challenge
    proven = challenge.verify(challenge_responses.get("USERNAME") or "",
                              challenge_responses.get("PASSWORD_CLAIM_SECRET_BLOCK") or "",
                              challenge_responses.get("TIMESTAMP") or "",
                              challenge_responses.get("PASSWORD_CLAIM_SIGNATURE") or "")
    user = pool._get_user(challenge.username)
    if not proven or user is None:
        raise _incorrect_credentials()
    if user.status == "FORCE_CHANGE_PASSWORD":
        moto_session = str(uuid.uuid4())
        backend.sessions[moto_session] = (user.username, pool)
        attributes = {k: v for k, v in user.attribute_lookup.items() if k != "sub"}
        return {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": moto_session,
                "ChallengeParameters": {"USER_ID_FOR_SRP": user.username, "requiredAttributes": "[]",
                                        "userAttributes": json.dumps(attributes)}}
    return backend._log_user_in(pool, client, user.username)


def _update_attributes(pool: Any, user: Any, attributes: list[dict[str, str]], *, admin: bool) -> list[dict[str, str]]:
    """Apply an attribute change as Cognito does; returns the CodeDeliveryDetails of the codes sent."""
    from moto.cognitoidp.exceptions import AliasExistsException

    changes = {a["Name"]: a["Value"] for a in attributes}
    protected = _requires_verification(pool)
    deliveries: list[dict[str, str]] = []
    for attribute, flag in _VERIFIED_FLAG.items():
        if attribute not in changes:
            continue
        new_value = changes[attribute]
        if attribute == "email" and new_value:
            _ensure_email_free(pool, user, new_value, AliasExistsException)
        if new_value == user.attribute_lookup.get(attribute):
            changes.pop(attribute)
            continue
        verified_by_admin = admin and str(changes.get(flag, "")).lower() == "true"
        if verified_by_admin or not new_value:
            continue
        if attribute in protected:
            # The old value stays active (and verified) until the new one is verified.
            changes.pop(attribute)
            changes.pop(flag, None)
            deliveries.append(_send_code(pool, user, attribute, new_value, pending=True))
        else:
            changes[flag] = "false"
            deliveries.append(_send_code(pool, user, attribute, new_value, pending=False))
    if changes:
        user.update_attributes([{"Name": k, "Value": v} for k, v in changes.items()])
    return deliveries


def _ensure_email_free(pool: Any, user: Any, email: str, error: type[Exception]) -> None:
    if "email" not in (pool.extended_config.get("UsernameAttributes") or []):
        return
    fold = str.casefold if _case_insensitive(pool) else (lambda s: s)
    for other in pool.users.values():
        if other is not user and fold(other.attribute_lookup.get("email", "")) == fold(email):
            raise error()


def _send_code(pool: Any, user: Any, attribute: str, value: str, *, pending: bool) -> dict[str, str]:
    code = f"{secrets.randbelow(1_000_000):06d}"
    with _lock:
        _codes.setdefault((pool.id, user.username), {})[attribute] = VerificationCode(attribute, value, code, pending)
    log.warning("verification code for %s of user %s (%s): %s  [local Cognito; not sent]",
                attribute, user.username, value, code)
    return {"Destination": _mask(value), "DeliveryMedium": "EMAIL" if attribute == "email" else "SMS",
            "AttributeName": attribute}


def _mask(value: str) -> str:
    if "@" in value:
        local, domain = value.split("@", 1)
        return f"{local[:1]}***@{domain[:1]}***"
    return f"+*******{value[-4:]}"


def _update_user_attributes(self: Any, access_token: str, attributes: list[dict[str, str]]) -> list[dict[str, str]]:
    _, pool, user = _pool_by_access_token(access_token)
    return _update_attributes(pool, user, attributes, admin=False)


def _admin_update_user_attributes(self: Any, user_pool_id: str, username: str,
                                  attributes: list[dict[str, str]]) -> None:
    pool = self.describe_user_pool(user_pool_id)
    user = self.admin_get_user(user_pool_id, username)
    _update_attributes(pool, user, attributes, admin=True)


def get_user_attribute_verification_code(access_token: str, attribute: str) -> dict[str, str]:
    _, pool, user = _pool_by_access_token(access_token)
    with _lock:
        outstanding = _codes.get((pool.id, user.username), {}).get(attribute)
    if outstanding is not None:
        return _send_code(pool, user, attribute, outstanding.value, pending=outstanding.pending)
    value = user.attribute_lookup.get(attribute)
    if attribute not in _VERIFIED_FLAG or not value:
        raise _error("InvalidParameterException", f"No {attribute} to verify.")
    return _send_code(pool, user, attribute, value, pending=False)


def verify_user_attribute(access_token: str, attribute: str, code: str) -> None:
    from moto.cognitoidp.exceptions import AliasExistsException

    _, pool, user = _pool_by_access_token(access_token)
    with _lock:
        outstanding = _codes.get((pool.id, user.username), {}).get(attribute)
        if outstanding is None or not secrets.compare_digest(outstanding.code, code or ""):
            raise _error("CodeMismatchException", "Invalid verification code provided, please try again.")
        if attribute == "email":
            _ensure_email_free(pool, user, outstanding.value, AliasExistsException)
        del _codes[(pool.id, user.username)][attribute]
    user.update_attributes([{"Name": attribute, "Value": outstanding.value},
                            {"Name": _VERIFIED_FLAG[attribute], "Value": "true"}])


def revoke_token(token: str, client_id: str) -> None:
    """Revoke a refresh token and the access tokens issued from it; unknown tokens are a no-op, as in Cognito."""
    _, pool = _pool_by_client(client_id)
    client = pool.clients[client_id]
    if client.extended_config.get("EnableTokenRevocation") is False:
        raise _error("UnsupportedOperationException", "Token revocation is not enabled for this client.")
    issued = pool.refresh_tokens.get(token)
    if issued is None:
        return
    issued_to, _, origin_jti = issued
    if issued_to != client_id:
        raise _error("UnauthorizedException", "The token was not issued to this client.")
    pool.refresh_tokens[token] = None
    for access_token in list(pool.access_tokens):
        if _claims(access_token).get("origin_jti") == origin_jti:
            pool.access_tokens.pop(access_token, None)
    for id_token in list(pool.id_tokens):
        if _claims(id_token).get("origin_jti") == origin_jti:
            pool.id_tokens.pop(id_token, None)


def _claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


# -- the HTTP actions moto lacks --------------------------------------------------------------------------
def _action_revoke_token(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    revoke_token(self._get_param("Token"), self._get_param("ClientId"))
    return EmptyResult()


def _action_get_user_attribute_verification_code(self: Any) -> Any:
    from moto.core.responses import ActionResult

    delivery = get_user_attribute_verification_code(self._get_param("AccessToken"), self._get_param("AttributeName"))
    return ActionResult({"CodeDeliveryDetails": delivery})


def _action_verify_user_attribute(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    verify_user_attribute(self._get_param("AccessToken"), self._get_param("AttributeName"), self._get_param("Code"))
    return EmptyResult()


def _action_update_user_attributes(self: Any) -> Any:
    from moto.core.responses import ActionResult

    deliveries = _update_user_attributes(None, self._get_param("AccessToken"), self._get_param("UserAttributes"))
    return ActionResult({"CodeDeliveryDetailsList": deliveries})


_original: dict[str, Callable[..., Any]] = {}


# (pool id, lower-cased name) -> how many times that user was deleted. A user created again after a
# deletion is a new account with a new sub, as in Cognito (an erased member's old sign-in must stay
# someone else). With a file (the local stack's data dir) it survives restarts like the database does.
_deletions: dict[str, int] = {}
_deletions_file: Path | None = None


def remember_deletions_in(path: Path | None) -> None:
    """Keep the deletion counts in `path` (JSON), loading what an earlier run left there."""
    global _deletions_file
    with _lock:
        _deletions_file = path
        if path is not None and path.exists():
            _deletions.update({k: int(v) for k, v in json.loads(path.read_text()).items()})


def _user_key(user_pool_id: str, name: str) -> str:
    return f"{user_pool_id}:{name.lower()}"


def _stable_user_init(original: Callable[..., Any]) -> Callable[..., Any]:
    """Cognito keeps a user's `sub` for the account's lifetime; moto draws a new one each time the
    emulator (in memory) recreates the user on start. Members are keyed on `sub`, so locally the sub
    is derived from the pool, the user's name and how often such a user was deleted: the same user has
    the same sub after a restart, and a user deleted and created again gets a new one (as in Cognito)."""
    import uuid

    def init(self: Any, user_pool_id: str, username: str | None, *args: Any, **kwargs: Any) -> None:
        original(self, user_pool_id, username, *args, **kwargs)
        # With email as the username attribute, moto passes no username and names the user by its sub.
        name = username or self.attribute_lookup.get("email")
        if name:
            generation = _deletions.get(_user_key(user_pool_id, name), 0)
            seed = f"cognito-local:{user_pool_id}:{name.lower()}" + (f":{generation}" if generation else "")
            self.id = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
            if username is None:
                self.username = self.id
            self.update_attributes([{"Name": "sub", "Value": self.id}])

    return init


def _admin_delete_user(self: Any, user_pool_id: str, username: str) -> None:
    user = self.admin_get_user(user_pool_id, username)
    name = user.attribute_lookup.get("email") if user.username == user.id else user.username
    _original["admin_delete_user"](self, user_pool_id, username)
    if name:
        with _lock:
            key = _user_key(user_pool_id, name)
            _deletions[key] = _deletions.get(key, 0) + 1
            if _deletions_file is not None:
                _deletions_file.write_text(json.dumps(_deletions, indent=1))


def install() -> None:
    """Patch moto's Cognito in this process (idempotent). Call before moto serves a request."""
    from moto.cognitoidp import models, responses

    with _lock:
        if _original:
            return
        pool_cls, backend_cls, response_cls = models.CognitoIdpUserPool, models.CognitoIdpBackend, responses.CognitoIdpResponse
        _original.update(_get_user=pool_cls._get_user, initiate_auth=backend_cls.initiate_auth,
                         admin_initiate_auth=backend_cls.admin_initiate_auth,
                         respond_to_auth_challenge=backend_cls.respond_to_auth_challenge,
                         update_user_pool=backend_cls.update_user_pool,
                         admin_delete_user=backend_cls.admin_delete_user)
        _original["user_init"] = models.CognitoIdpUser.__init__
        models.CognitoIdpUser.__init__ = _stable_user_init(_original["user_init"])
        pool_cls._get_user = _get_user
        pool_cls.create_id_token = _create_id_token
        backend_cls.initiate_auth = _initiate_auth
        backend_cls.admin_initiate_auth = _admin_initiate_auth
        backend_cls.respond_to_auth_challenge = _respond_to_auth_challenge
        backend_cls.update_user_pool = _update_user_pool
        backend_cls.admin_delete_user = _admin_delete_user
        backend_cls.update_user_attributes = _update_user_attributes
        backend_cls.admin_update_user_attributes = _admin_update_user_attributes
        response_cls.revoke_token = _action_revoke_token
        response_cls.get_user_attribute_verification_code = _action_get_user_attribute_verification_code
        response_cls.verify_user_attribute = _action_verify_user_attribute
        response_cls.update_user_attributes = _action_update_user_attributes


# -- the HTTP side: CORS for browsers and the local code "outbox" ------------------------------------------
_EXPOSED = "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date"
_DEFAULT_ALLOWED = ("Content-Type, X-Amz-Target, X-Amz-User-Agent, X-Amz-Date, X-Amz-Security-Token, "
                    "Authorization, Cache-Control")


class LocalAwsApp:
    """WSGI wrapper around moto's app: CORS on every answer (one set of headers, not moto's plus ours),
    preflights answered here, and `GET /_local/cognito/codes?user_pool_id=&username=`."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        cors = [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS"),
            ("Access-Control-Allow-Headers", environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS") or _DEFAULT_ALLOWED),
            ("Access-Control-Expose-Headers", _EXPOSED),
            ("Access-Control-Max-Age", "300"),
        ]
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            start_response("200 OK", [*cors, ("Content-Length", "0")])
            return [b""]
        if environ.get("PATH_INFO") == CODES_PATH:
            return self._codes(environ, start_response, cors)

        def with_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            return start_response(status, kept + cors, exc_info)

        try:
            return self._app(environ, with_cors)
        except Exception:  # moto's own 500s would otherwise reach the browser without CORS
            log.exception("local AWS request failed")
            body = json.dumps({"__type": "InternalErrorException", "message": "local emulator error"}).encode()
            start_response("500 Internal Server Error", [*cors, ("Content-Type", "application/x-amz-json-1.1"),
                                                          ("Content-Length", str(len(body)))], None)
            return [body]

    def _codes(self, environ: dict[str, Any], start_response: Callable[..., Any],
               cors: list[tuple[str, str]]) -> list[bytes]:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            codes = verification_codes(query["user_pool_id"], query["username"])
            status, document = "200 OK", {"codes": [vars(c) for c in codes]}
        except KeyError:
            status, document = "400 Bad Request", {"message": "user_pool_id and username are required"}
        except Exception as error:  # unknown pool
            status, document = "404 Not Found", {"message": str(error)}
        body = json.dumps(document).encode()
        start_response(status, [*cors, ("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class LocalAwsServer:
    """moto server on a thread of this process, behind LocalAwsApp (ThreadedMotoServer's interface)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> "LocalAwsServer":
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        install()
        app = LocalAwsApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()
        return self

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()


def main(argv: list[str] | None = None) -> int:
    """`python -m devtools.localcognito --port N`: the corrected emulator in a process of its own
    (what `python -m moto.server` is, plus this module), e.g. for benchmarks that keep AWS out of
    the app's interpreter."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m devtools.localcognito", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    server = LocalAwsServer(args.host, args.port).start()
    print(f"local AWS on http://{args.host}:{server.get_host_and_port()[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
