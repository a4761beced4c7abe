"""EventBridge schedule expressions as the local worker evaluates them (rate and cron, AWS dialect)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devtools.worker import CronSchedule, RateSchedule, parse_schedule

UTC = UTC


# -- schedules ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "expression, interval",
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(2 hours)", timedelta(hours=2)),
        ("rate(1 day)", timedelta(days=1)),
    ],
)
def test_rate_expressions(expression: str, interval: timedelta) -> None:
    schedule = parse_schedule(expression)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert schedule == RateSchedule(interval)
    assert schedule.next_after(start) == start + interval


@pytest.mark.parametrize(
    "expression, after, expected",
    [
        ("cron(0 3 * * ? *)", "2024-01-01T02:59:30", "2024-01-01T03:00"),
        ("cron(0 3 * * ? *)", "2024-01-01T03:00:00", "2024-01-02T03:00"),
        ("cron(0/15 * * * ? *)", "2024-01-01T10:07:00", "2024-01-01T10:15"),
        ("cron(5,35 8-9 * * ? *)", "2024-01-01T09:40:00", "2024-01-02T08:05"),
        ("cron(0 9 ? * MON-FRI *)", "2024-06-01T10:00:00", "2024-06-03T09:00"),  # Saturday -> Monday
        ("cron(0 12 ? * 1 *)", "2024-06-03T00:00:00", "2024-06-09T12:00"),  # 1 = Sunday, as in AWS
        ("cron(30 12 1 JAN,JUL ? 2025)", "2024-03-03T00:00:00", "2025-01-01T12:30"),
        ("cron(0 0 29 FEB ? *)", "2025-01-01T00:00:00", "2028-02-29T00:00"),
    ],
)
def test_cron_next_fire(expression: str, after: str, expected: str) -> None:
    schedule = parse_schedule(expression)
    assert isinstance(schedule, CronSchedule)
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert schedule.next_after(moment) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_cron_that_never_fires_again() -> None:
    assert parse_schedule("cron(0 0 1 1 ? 2020)").next_after(datetime(2024, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(5 seconds)",
        "every 5 minutes",
        "cron(0 3 * * *)",
        "cron(0 3 * * * *)",
        "cron(0 3 ? * ? *)",
        "cron(0 3 L * ? *)",
        "cron(0 3 ? * 6#3 *)",
        "cron(61 3 * * ? *)",
        "cron(0 3 * 13 ? *)",
        "cron(? 3 * * * *)",
    ],
)
def test_invalid_or_unsupported_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(expression)
