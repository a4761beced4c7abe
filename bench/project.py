"""The one place where bench/ names the project's internals (chalicelib).

Why one module: the benchmarks drive the app through its Lambda handler (`app.app(event, context)`),
which does not move when chalicelib is reorganised; only what is named here does. When a module is
renamed (chalicelib.db -> chalicelib.platform.db, ...) the table below is the only thing to edit.

Names are imported lazily, on first use (`from bench.project import Database` imports chalicelib.db
then, not before): a benchmark child process whose memory is measured (the expiry job) imports only
what it uses, and nothing is imported before the app's environment is set.
"""
from __future__ import annotations

import importlib
from typing import Any

# name -> (module, attribute); attribute None means the module itself.
_NAMES: dict[str, tuple[str, str | None]] = {
    # platform: settings, database, migrations, errors, logs
    "Settings": ("chalicelib.platform.config", "Settings"),
    "get_settings": ("chalicelib.platform.config", "get_settings"),
    "reset_settings": ("chalicelib.platform.config", "reset_settings"),
    "Database": ("chalicelib.platform.db", "Database"),
    "Tx": ("chalicelib.platform.db", "Tx"),
    "get_database": ("chalicelib.platform.db", "get_database"),
    "reset_database": ("chalicelib.platform.db", "reset_database"),
    "_compiled": ("chalicelib.platform.db", "_compiled"),
    "_close_quietly": ("chalicelib.platform.db", "_close_quietly"),
    "_is_dead_connection": ("chalicelib.platform.db", "_is_dead_connection"),
    "apply_all": ("chalicelib.platform.migrations", "apply_all"),
    "request_id_var": ("chalicelib.platform.logs", "request_id_var"),
    "CartEmpty": ("chalicelib.platform.errors", "CartEmpty"),
    "Conflict": ("chalicelib.platform.errors", "Conflict"),
    "DatabaseUnavailable": ("chalicelib.platform.errors", "DatabaseUnavailable"),
    "IdempotencyKeyReused": ("chalicelib.platform.errors", "IdempotencyKeyReused"),
    "InvalidTransition": ("chalicelib.platform.errors", "InvalidTransition"),
    "InsufficientPoints": ("chalicelib.platform.errors", "InsufficientPoints"),
    "NotFound": ("chalicelib.platform.errors", "NotFound"),
    "OutOfStock": ("chalicelib.platform.errors", "OutOfStock"),
    "RequestInProgress": ("chalicelib.platform.errors", "RequestInProgress"),
    "ValidationFailed": ("chalicelib.platform.errors", "ValidationFailed"),
    # models
    "LedgerEntry": ("chalicelib.points.models", "LedgerEntry"),
    "Order": ("chalicelib.orders.models", "Order"),
    "OrderLine": ("chalicelib.orders.models", "OrderLine"),
    "StatusChange": ("chalicelib.orders.models", "StatusChange"),
    # domain code the benchmarks call or the prototype patches (modules, so a patch replaces the
    # attribute the app looks up at call time)
    "ledger": ("chalicelib.points.ledger_repository", None),
    "members": ("chalicelib.members.repository", None),
    "orders": ("chalicelib.orders.repository", None),
    "outbox": ("chalicelib.events.outbox", None),
    "PurchaseRow": ("chalicelib.points.models", "Purchase"),
    "place_order": ("chalicelib.orders.placement", "place_order"),
    "PlacedOrder": ("chalicelib.orders.models", "PlacedOrder"),
    "envelope": ("chalicelib.events.relay", "envelope"),
    "ExpiryService": ("chalicelib.points.expiry", "ExpiryService"),
    "Recorded": ("chalicelib.points.models", "RecordedPurchase"),
    "RETENTION": ("chalicelib.platform.idempotency", "RETENTION"),
    "Outcome": ("chalicelib.platform.idempotency", "Outcome"),
    "cart_service": ("chalicelib.cart.service", None),  # CartService
    "checkout_service": ("chalicelib.cart.checkout", None),  # CheckoutService
    "earning_service": ("chalicelib.points.earning", None),  # EarningService
    "idempotency_service": ("chalicelib.platform.idempotency", None),  # IdempotencyService
    "order_service": ("chalicelib.orders.service", None),  # OrderService
    "reservation_service": ("chalicelib.reservations.service", None),  # ReservationService
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _NAMES[name]
    except KeyError:
        raise AttributeError(f"bench.project has no {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value
