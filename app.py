"""Xanadu Rewards' composition root: the Chalice app (JSON logs of chalicelib.platform.logs, not Chalice's),
the HTTP middleware and Cognito authorizer, every domain's routes (Blueprints in chalicelib/<domain>/routes.py),
the SQS, S3 and scheduled handlers. Everything heavy is built on first use, never at import."""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Chalice, Cron, S3Event, SQSEvent

from chalicelib.cart.routes import routes as cart_routes
from chalicelib.catalog.routes import routes as catalog_routes
from chalicelib.container import services
from chalicelib.events.routes import routes as event_routes
from chalicelib.members.routes import routes as member_routes
from chalicelib.operations.routes import routes as operations_routes
from chalicelib.orders.routes import routes as order_routes
from chalicelib.partners.routes import routes as partner_routes
from chalicelib.platform import logs, routing
from chalicelib.platform.jobs import run_scheduled
from chalicelib.platform.snapstart import register_hooks as register_snapstart_hooks
from chalicelib.points.promotion_routes import routes as promotion_routes
from chalicelib.points.routes import routes as points_routes
from chalicelib.privacy.routes import routes as privacy_routes
from chalicelib.reservations.routes import routes as reservation_routes

app = Chalice(app_name="xanadu-rewards", configure_logs=False)

routing.configure(
    app, authorizer=routing.cognito_authorizer(), partner_gate=lambda key: services().partners.authenticate(key)
)
app.register_middleware(routing.http_middleware, "http")
for blueprint in (
    catalog_routes,
    member_routes,
    cart_routes,
    order_routes,
    reservation_routes,
    points_routes,
    promotion_routes,
    partner_routes,
    privacy_routes,
    event_routes,
    operations_routes,
):
    app.register_blueprint(blueprint)


# -- order events (SQS) ---------------------------------------------------------------------------
@app.on_sqs_message(queue="order-events", batch_size=10, name="process_order_events")
def process_order_events(event: SQSEvent) -> dict[str, Any]:
    """OrderCreated -> confirm/fail, OrderStatusChanged -> email; see chalicelib/orders/processor.py."""
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    remaining = getattr(event.context, "get_remaining_time_in_millis", None)  # None outside Lambda
    return services().order_events.handle_batch(event.to_dict()["Records"], remaining)


# -- scheduled jobs -------------------------------------------------------------------------------
@app.schedule("rate(1 minute)", name="relay_outbox")
def relay_outbox(event: Any) -> dict[str, Any]:
    """Publish outbox events to order-events (what the after-commit attempts did not)."""
    return run_scheduled("relay_outbox", event, lambda stop: services().relay.publish_pending().as_dict())


@app.schedule("rate(5 minutes)", name="release_expired_reservations")
def release_expired_reservations(event: Any) -> dict[str, Any]:
    """Release reservations whose 15 minutes are up: points refunded, stock restored."""
    return run_scheduled(
        "release_expired_reservations", event, lambda stop: {"released": services().reservations.expire_due()}
    )


@app.schedule("rate(5 minutes)", name="recover_stalled_orders")
def recover_stalled_orders(event: Any) -> dict[str, Any]:
    """Liveness: re-send OrderCreated of orders PENDING too long, fail (refund, restock) those past the bound."""
    return run_scheduled("recover_stalled_orders", event, lambda stop: services().order_recovery.run(should_stop=stop))


@app.schedule("rate(1 hour)", name="housekeeping")
def housekeeping(event: Any) -> dict[str, Any]:
    """Purge idempotency keys past 24 h and processed-event ids past 30 days (events are archived, not purged)."""
    return run_scheduled("housekeeping", event, lambda stop: services().housekeeping.run())


@app.schedule(Cron(15, 0, "*", "*", "?", "*"), name="expire_points")
def expire_points(event: Any) -> dict[str, Any]:
    """Daily 00:15 UTC: lapsed lots become EXPIRE ledger rows, in batches that each commit."""
    return run_scheduled("expire_points", event, lambda stop: services().expiry.run(should_stop=stop))


@app.schedule("rate(15 minutes)", name="vest_pending_points")
def vest_pending_points(event: Any) -> dict[str, Any]:
    """Every 15 minutes: pending purchase points whose return window closed become spendable, in batches."""
    return run_scheduled("vest_pending_points", event, lambda stop: services().vesting.run(should_stop=stop))


@app.schedule(Cron(0, 9, "?", "*", "MON", "*"), name="notify_expiring_points")
def notify_expiring_points(event: Any) -> dict[str, Any]:
    """Mondays 09:00 UTC: email members whose points expire within 30 days (once per lot)."""
    return run_scheduled(
        "notify_expiring_points", event, lambda stop: services().expiry.notify_expiring(should_stop=stop)
    )


@app.schedule(Cron(30, 1, "*", "*", "?", "*"), name="recompute_tiers")
def recompute_tiers(event: Any) -> dict[str, Any]:
    """Nightly 01:30 UTC: every member's tier from the trailing 12 months (upgrades and downgrades)."""
    return run_scheduled("recompute_tiers", event, lambda stop: services().tiers.recompute_all(should_stop=stop))


@app.schedule(Cron(0, 3, "*", "*", "?", "*"), name="reconcile_points")
def reconcile_points(event: Any) -> dict[str, Any]:
    """Nightly 03:00 UTC: balance == sum(ledger) == sum(lots) for every member; logs drift, changes nothing."""
    return run_scheduled("reconcile_points", event, lambda stop: services().reconciliation.run(should_stop=stop))


# -- operator tools (docs/operator-tools.md) ------------------------------------------------------
@app.on_s3_event(bucket=os.environ.get("DATA_BUCKET", "xanadu-data"), prefix="imports/", suffix=".csv")
def import_members(event: S3Event) -> dict[str, Any]:
    """A CSV under imports/: members and opening balances in committed batches, paused before the time limit."""
    return run_scheduled("import_members", event, lambda stop: services().imports.on_upload(event.to_dict(), stop))


@app.schedule("rate(1 minute)", name="resume_imports")
def resume_imports(event: Any) -> dict[str, Any]:
    """Continue imports paused before their time limit, or whose invocation died."""
    return run_scheduled("resume_imports", event, lambda stop: services().imports.resume(should_stop=stop))


@app.schedule(Cron(30, 0, "*", "*", "?", "*"), name="export_events")
def export_events(event: Any) -> dict[str, Any]:
    """Daily 00:30 UTC: yesterday's events to events/dt=YYYY-MM-DD/ (gzipped JSON Lines); purge past retention."""
    return run_scheduled("export_events", event, lambda stop: services().archive.run(should_stop=stop))


# -- deploy-time handlers -------------------------------------------------------------------------
@app.lambda_function(name="apply_migrations")
def apply_migrations(event: Any, context: Any) -> dict[str, Any]:
    """Pending migrations and the application role: a CloudFormation custom resource on every deploy, or by hand."""
    from chalicelib.platform.config import get_settings
    from chalicelib.platform.migrations.deploy import handle

    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    return handle(event or {}, get_settings())


register_snapstart_hooks()
