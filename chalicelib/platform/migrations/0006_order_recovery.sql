-- Liveness (orders/recovery.py): the recovery job finds an order's OrderCreated outbox row to re-send it.
CREATE INDEX outbox_events_aggregate ON outbox_events (aggregate_id, event_type);
