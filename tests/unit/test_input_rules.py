"""One rule per kind of input, everywhere: money, email, phone, text without NUL, path segments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from chalicelib.members.schemas import CustomerCreate, ProfileUpdate
from chalicelib.platform import http
from chalicelib.platform.errors import MalformedJson, NotFound, PayloadTooLarge, ValidationFailed
from chalicelib.platform.schemas import parse_usd
from chalicelib.platform.text import normalize_email
from chalicelib.points.schemas import PurchaseRequest


@pytest.mark.parametrize(
    "raw, amount",
    [(12, "12.00"), ("12.5", "12.50"), (19.99, "19.99"), (" 0.01 ", "0.01"), (Decimal("7"), "7.00")],
)
def test_money_accepts_numbers_and_numeric_strings_with_two_decimals(raw, amount):
    assert parse_usd(raw) == Decimal(amount)


@pytest.mark.parametrize(
    "raw", [0, -1, "0.001", 1e20, float("nan"), float("inf"), "NaN", "Infinity", True, None, [1], "12,50", "abc"]
)
def test_money_refuses_everything_else(raw):
    with pytest.raises(ValueError):
        parse_usd(raw)


def test_emails_are_compared_in_one_normal_form():
    assert normalize_email("  Ann.Smith@Example.COM ") == "ann.smith@example.com"
    assert PurchaseRequest(email="ANN@Example.com", external_id="x", amount_usd=1).email == "ann@example.com"


@pytest.mark.parametrize(
    "phone, stored", [("+1 555 0100", "+15550100"), ("+44 (20) 7946-0958", "+442079460958"), ("", "")]
)
def test_phones_are_stored_in_e164(phone, stored):
    assert CustomerCreate(email="a@b.co", first_name="A", last_name="B", phone=phone).phone == stored


@pytest.mark.parametrize("phone", ["555-0100", "0044 20 7946 0958", "+0123", "+1234567890123456", "call me"])
def test_phones_not_in_e164_are_refused(phone):
    with pytest.raises(ValidationError):
        ProfileUpdate(phone=phone)


@pytest.mark.parametrize("field", ["firstName", "lastName"])
def test_nul_characters_are_refused_in_text(field):
    with pytest.raises(ValidationError):
        ProfileUpdate(**{field: "a\x00b"})


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"id": }', b"\xff\xfe"])
def test_malformed_json_is_its_own_error(raw):
    with pytest.raises(MalformedJson):
        http.parse_json(raw, 1000)


def test_bodies_over_the_limit_are_refused_before_parsing():
    with pytest.raises(PayloadTooLarge):
        http.parse_json(b" " * 11, 10)


def test_a_body_must_be_an_object_and_validation_errors_name_the_field():
    with pytest.raises(ValidationFailed):
        http.parse_body(ProfileUpdate, b"[1, 2]", 1000)
    with pytest.raises(ValidationFailed) as failed:
        http.parse_body(ProfileUpdate, b'{"phone": "nope"}', 1000)
    assert [d["field"] for d in failed.value.details] == ["phone"]


@pytest.mark.parametrize("value", ["not-a-uuid", "", "00000000-0000-0000-0000-00000000000g"])
def test_a_malformed_id_in_a_path_is_not_found(value):
    with pytest.raises(NotFound):
        http.parse_uuid(value, "order")


@pytest.mark.parametrize("value", ["%00", "a%00b", "\x00", "%ff%fe"])
def test_path_segments_with_nul_or_invalid_utf8_are_400(value):
    with pytest.raises(ValidationFailed):
        http.check_path_params({"category": value})


@pytest.mark.parametrize("query, limit", [({}, 20), ({"limit": "1"}, 1), ({"limit": "100"}, 100)])
def test_page_sizes(query, limit):
    assert http.parse_limit(query) == limit


@pytest.mark.parametrize("value", ["0", "101", "-1", "ten", "1.5"])
def test_bad_page_sizes_are_400(value):
    with pytest.raises(ValidationFailed):
        http.parse_limit({"limit": value})
