"""Issue 10 finding 8: deployed stages mask personal data in every log line, structured and free text."""

from __future__ import annotations

import io
import json
import logging

import pytest

from chalicelib.platform import logs


def emit(*, stage_masks: bool, message: str, args: tuple = (), exc: BaseException | None = None, **extra) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    if stage_masks:
        handler.addFilter(logs.PersonalDataFilter())
    logger = logging.getLogger("test.personal")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        if exc is not None:
            try:
                raise exc
            except type(exc):
                logger.exception(message, *args, extra=extra)
        else:
            logger.info(message, *args, extra=extra)
    finally:
        logger.removeHandler(handler)
    return json.loads(stream.getvalue())


def test_structured_fields_holding_personal_data_are_masked():
    line = emit(
        stage_masks=True,
        message="profile",
        email_to="ann@example.com",
        first_name="Ann",
        lastName="Smith",
        phone="+15555550100",
        address={"street": "1 Main St", "city": "Springfield", "zip_code": "12345"},
        order_id="3f2a6c1e-0000-4000-8000-000000000001",
    )
    assert line["email_to"] == line["first_name"] == line["lastName"] == line["phone"] == logs.MASK
    assert line["address"] == logs.MASK
    assert line["order_id"] == "3f2a6c1e-0000-4000-8000-000000000001"  # ids stay: they are how we debug


def test_free_text_messages_arguments_and_exceptions_are_masked():
    line = emit(stage_masks=True, message="sent to %s (call %s)", args=("Ann.Smith@Example.com", "+44 20 7946 0958"))
    assert "example.com" not in line["message"].lower() and "7946" not in line["message"]
    failure = RuntimeError(
        'duplicate key value violates unique constraint "members_email_key" '
        "DETAIL: Key (email)=(bob@example.com) already exists."
    )
    line = emit(stage_masks=True, message="failed", exc=failure)
    assert "bob@example.com" not in json.dumps(line) and "members_email_key" in line["exception"]


def test_local_stages_log_as_they_are_and_deployed_ones_mask():
    assert emit(stage_masks=False, message="x", email="ann@example.com")["email"] == "ann@example.com"
    assert not logs.masks_personal_data("local") and not logs.masks_personal_data("test")
    assert logs.masks_personal_data("prod") and logs.masks_personal_data("dev")


@pytest.mark.parametrize("text", ["order 3f2a6c1e-1234-4567-8901-234567890123", "at 2030-01-01 12:00:00", "ms 12.5"])
def test_ids_times_and_numbers_are_not_mistaken_for_personal_data(text):
    assert logs.mask_text(text) == text
