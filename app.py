"""Xanadu Rewards: the composition root. It creates the Chalice app, installs the HTTP middleware and
the Cognito authorizer, registers every domain's routes (Blueprints in chalicelib/<domain>/routes.py)
and the SQS and scheduled handlers. Everything heavy is built on first use, never at import.
"""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Chalice, CognitoUserPoolAuthorizer, Cron, SQSEvent

from chalicelib.cart.routes import routes as cart_routes
from chalicelib.catalog.routes import routes as catalog_routes
from chalicelib.container import services
from chalicelib.members.routes import routes as member_routes
from chalicelib.operations.routes import routes as operations_routes
from chalicelib.orders.routes import routes as order_routes
from chalicelib.partners.routes import routes as partner_routes
from chalicelib.platform import logs, routing
from chalicelib.platform.jobs import run_scheduled
from chalicelib.points.promotion_routes import routes as promotion_routes
from chalicelib.points.routes import routes as points_routes
from chalicelib.reservations.routes import routes as reservation_routes

# Our own JSON logging (chalicelib.platform.logs) replaces Chalice's plain-text handler.
app = Chalice(app_name="xanadu-rewards", configure_logs=False)


def member_authorizer() -> CognitoUserPoolAuthorizer | None:
    """Deployed stages put API Gateway's Cognito authorizer in front of member and admin routes.

    Locally (XANADU_AUTH_MODE=verify) there is none: chalice local's imitation crashes on non-JWT
    tokens and verifies nothing, so the app verifies tokens itself.
    """
    if os.environ.get("XANADU_AUTH_MODE", "cognito") == "verify":
        return None
    pool_arn = os.environ.get("COGNITO_USER_POOL_ARN", "arn:aws:cognito-idp:us-east-1:000000000000:userpool/unset")
    return CognitoUserPoolAuthorizer("XanaduMembers", provider_arns=[pool_arn])


routing.configure(app, authorizer=member_authorizer(), partner_gate=lambda key: services().partners.authenticate(key))
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
    operations_routes,
):
    app.register_blueprint(blueprint)


# -- order events (SQS) ---------------------------------------------------------------------------
@app.on_sqs_message(queue="order-events", batch_size=10, name="process_order_events")
def process_order_events(event: SQSEvent) -> dict[str, Any]:
    """OrderCreated -> confirm/fail, OrderStatusChanged -> email; see chalicelib/orders/processor.py."""
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    context = event.context
    remaining = getattr(context, "get_remaining_time_in_millis", None) if context is not None else None
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


@app.schedule("rate(1 hour)", name="housekeeping")
def housekeeping(event: Any) -> dict[str, Any]:
    """Purge idempotency keys past 24 h, published outbox rows and old processed-event ids."""
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
