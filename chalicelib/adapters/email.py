"""Member email. SES in deployed stages; locally the message goes to the log (and moto's SES when
EMAIL_MODE=ses with an endpoint). Sending never raises: a failed email must not fail the business
operation that triggered it."""

from __future__ import annotations

from typing import Any

from ..platform.config import Settings
from ..platform.logs import get_logger

log = get_logger(__name__)


class Notifier:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._ses: Any = None

    def _client(self) -> Any:
        if self._ses is None:
            from ..platform import aws

            self._ses = aws.client("ses", self._settings, aws.IN_BACKGROUND)
        return self._ses

    def send(self, to: str, subject: str, text: str, *, kind: str = "notice") -> bool:
        """True when handed to the mail system (or logged, locally); False when that failed."""
        if self._settings.email_mode == "log":
            log.info("email", extra={"email_to": to, "subject": subject, "kind": kind, "text": text})
            return True
        if not self._settings.email_sender:
            log.error("email not sent: EMAIL_SENDER is not configured", extra={"email_to": to, "kind": kind})
            return False
        try:
            self._client().send_email(
                Source=self._settings.email_sender,
                Destination={"ToAddresses": [to]},
                Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}},
            )
            return True
        except Exception as exc:  # noqa: BLE001 - email is best effort by design
            log.warning("email failed", extra={"email_to": to, "kind": kind, "error": str(exc)})
            return False
