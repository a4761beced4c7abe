"""Transactional outbox: an event row written in the same transaction as the change it announces."""
from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from ..db import Tx
from ..logs import request_id_var


def add(tx: Tx, event_type: str, aggregate_id: UUID, payload: dict[str, Any]) -> UUID:
    return tx.fetch_value(
        "INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id) "
        "VALUES (:t, :a, CAST(:p AS jsonb), :r) RETURNING id",
        t=event_type, a=aggregate_id, p=json.dumps(payload, default=str), r=request_id_var.get(),
    )
