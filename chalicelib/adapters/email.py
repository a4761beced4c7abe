"""Member email. SES in deployed stages; locally (EMAIL_MODE=log) every message is written as a file to a
local outbox folder (EMAIL_OUTBOX_DIR; `make run` prints where), never to the log, so the log carries no
addresses, subjects or bodies. Sending never raises: a failed email must not fail the business operation
that triggered it."""

from __future__ import annotations

import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ..platform.config import Settings
from ..platform.logs import get_logger

log = get_logger(__name__)


def outbox_dir(settings: Settings) -> Path:
    """Where EMAIL_MODE=log writes messages: EMAIL_OUTBOX_DIR, else a folder in the temporary directory."""
    return Path(settings.email_outbox_dir or Path(tempfile.gettempdir()) / "xanadu-email-outbox")


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
        """True when handed to the mail system (or written to the local outbox); False when that failed."""
        if self._settings.email_mode == "log":
            return self._write_local(to, subject, text, kind)
        if not self._settings.email_sender:
            log.error("email not sent: EMAIL_SENDER is not configured", extra={"kind": kind})
            return False
        try:
            self._client().send_email(
                Source=self._settings.email_sender,
                Destination={"ToAddresses": [to]},
                Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}},
            )
            return True
        except Exception as exc:  # noqa: BLE001 - email is best effort by design
            log.warning("email failed", extra={"kind": kind, "error": f"{type(exc).__name__}: {exc}"})
            return False

    def _write_local(self, to: str, subject: str, text: str, kind: str) -> bool:
        message = EmailMessage()
        message["From"] = self._settings.email_sender
        message["To"] = to
        message["Subject"] = subject
        message["X-Xanadu-Kind"] = kind
        message.set_content(text)
        folder = outbox_dir(self._settings)
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{kind}-{uuid.uuid4().hex[:12]}.eml"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(message.as_bytes())
        except OSError as exc:
            log.warning("email not written to the local outbox", extra={"kind": kind, "error": str(exc)})
            return False
        log.info("email written to the local outbox", extra={"kind": kind, "file": name})
        return True
