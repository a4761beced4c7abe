"""The identity provider's users (Cognito user pool; moto's locally), as erasure needs them: found by the
member's sign-in subject (or, for a member who never signed in, by email) and deleted.

Deleting is idempotent: a user that is already gone is not an error, so an erasure that failed after
this call and is retried deletes nothing twice and still completes.
"""

from __future__ import annotations

import threading
from typing import Any

from ..platform import aws
from ..platform.config import Settings
from ..platform.errors import DependencyUnavailable
from ..platform.logs import get_logger

log = get_logger(__name__)


def _filter_value(text: str) -> str:
    """A ListUsers filter value: quoted, with quotes and backslashes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class IdentityProvider:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    def _idp(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = aws.client("cognito-idp", self._settings)
        return self._client

    @property
    def pool_id(self) -> str:
        return self._settings.cognito_user_pool_id

    def owns(self, issuer: str | None) -> bool:
        """Whether a sign-in's issuer is this stage's user pool (issuers end with the pool id)."""
        return bool(issuer and self.pool_id and issuer.rstrip("/").endswith("/" + self.pool_id))

    def delete_user(self, *, issuer: str | None, subject: str | None, email: str) -> bool:
        """Delete the pool's user of a member: the user with this subject when the member signed in with
        our pool, else the user whose email this is (a customer who never used the app). True when a user
        was deleted, False when there was none. Raises DependencyUnavailable when the pool cannot be asked."""
        if not self.pool_id:
            log.warning("identity provider not configured: no user deleted")
            return False
        if subject and not self.owns(issuer):
            log.warning("sign-in from another issuer: no user deleted")
            return False
        attribute, value = ("sub", subject) if subject else ("email", email)
        try:
            users = (
                self._idp()
                .list_users(UserPoolId=self.pool_id, Filter=f"{attribute} = {_filter_value(value)}", Limit=2)
                .get("Users", [])
            )
            deleted = False
            for user in users:
                try:
                    self._idp().admin_delete_user(UserPoolId=self.pool_id, Username=user["Username"])
                    deleted = True
                except Exception as exc:
                    if _error_code(exc) != "UserNotFoundException":
                        raise
            return deleted
        except Exception as exc:
            log.error("identity provider call failed", extra={"error": type(exc).__name__})
            raise DependencyUnavailable(
                "The identity provider did not answer; nothing was erased. Retry shortly.",
                code="IDENTITY_PROVIDER_UNAVAILABLE",
            ) from exc


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None
