"""The order state machine as DESIGN §3 states it, written out by hand (not derived from the code's table):
the unit tier checks lifecycle.decide against it, the integration tier replays it on PostgreSQL."""

from __future__ import annotations

NOOP, ILLEGAL = "no-op", "409"
EXPECTED = {
    "PENDING": {"CONFIRM": "CONFIRMED", "FAIL": "FAILED", "CANCEL": "CANCELLED", "PACK": ILLEGAL, "DELIVER": ILLEGAL},
    "CONFIRMED": {"CONFIRM": NOOP, "FAIL": ILLEGAL, "CANCEL": "CANCELLED", "PACK": "PACKED", "DELIVER": ILLEGAL},
    "PACKED": {"CONFIRM": ILLEGAL, "FAIL": ILLEGAL, "CANCEL": ILLEGAL, "PACK": NOOP, "DELIVER": "DELIVERED"},
    "DELIVERED": {"CONFIRM": ILLEGAL, "FAIL": ILLEGAL, "CANCEL": ILLEGAL, "PACK": ILLEGAL, "DELIVER": NOOP},
    "CANCELLED": {"CONFIRM": ILLEGAL, "FAIL": ILLEGAL, "CANCEL": NOOP, "PACK": ILLEGAL, "DELIVER": ILLEGAL},
    "FAILED": {"CONFIRM": ILLEGAL, "FAIL": NOOP, "CANCEL": ILLEGAL, "PACK": ILLEGAL, "DELIVER": ILLEGAL},
}
PATH_TO = {
    "PENDING": [],
    "CONFIRMED": ["CONFIRM"],
    "PACKED": ["CONFIRM", "PACK"],
    "DELIVERED": ["CONFIRM", "PACK", "DELIVER"],
    "CANCELLED": ["CANCEL"],
    "FAILED": ["FAIL"],
}
