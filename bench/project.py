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
    "Settings": ("chalicelib.config", "Settings"),
    "get_settings": ("chalicelib.config", "get_settings"),
    "reset_settings": ("chalicelib.config", "reset_settings"),
    "Database": ("chalicelib.db", "Database"),
    "Tx": ("chalicelib.db", "Tx"),
    "get_database": ("chalicelib.db", "get_database"),
    "reset_database": ("chalicelib.db", "reset_database"),
    "_compiled": ("chalicelib.db", "_compiled"),
    "_close_quietly": ("chalicelib.db", "_close_quietly"),
    "_is_dead_connection": ("chalicelib.db", "_is_dead_connection"),
    "apply_all": ("chalicelib.migrations", "apply_all"),
    "request_id_var": ("chalicelib.logs", "request_id_var"),
    "CartEmpty": ("chalicelib.errors", "CartEmpty"),
    "Conflict": ("chalicelib.errors", "Conflict"),
    "DatabaseUnavailable": ("chalicelib.errors", "DatabaseUnavailable"),
    "IdempotencyKeyReused": ("chalicelib.errors", "IdempotencyKeyReused"),
    "InvalidTransition": ("chalicelib.errors", "InvalidTransition"),
    "InsufficientPoints": ("chalicelib.errors", "InsufficientPoints"),
    "NotFound": ("chalicelib.errors", "NotFound"),
    "OutOfStock": ("chalicelib.errors", "OutOfStock"),
    "RequestInProgress": ("chalicelib.errors", "RequestInProgress"),
    "ValidationFailed": ("chalicelib.errors", "ValidationFailed"),
    # models
    "LedgerEntry": ("chalicelib.models", "LedgerEntry"),
    "Order": ("chalicelib.models", "Order"),
    "OrderLine": ("chalicelib.models", "OrderLine"),
    "StatusChange": ("chalicelib.models", "StatusChange"),
    # domain code the benchmarks call or the prototype patches (modules, so a patch replaces the
    # attribute the app looks up at call time)
    "ledger": ("chalicelib.repositories.ledger", None),
    "members": ("chalicelib.repositories.members", None),
    "orders": ("chalicelib.repositories.orders", None),
    "outbox": ("chalicelib.repositories.outbox", None),
    "PurchaseRow": ("chalicelib.repositories.purchases", "PurchaseRow"),
    "place_order": ("chalicelib.services.ordering", "place_order"),
    "PlacedOrder": ("chalicelib.services.ordering", "PlacedOrder"),
    "envelope": ("chalicelib.services.relay", "envelope"),
    "ExpiryService": ("chalicelib.services.expiry", "ExpiryService"),
    "Recorded": ("chalicelib.services.earning", "Recorded"),
    "RETENTION": ("chalicelib.services.idempotency", "RETENTION"),
    "Outcome": ("chalicelib.services.idempotency", "Outcome"),
    "cart_service": ("chalicelib.services.cart", None),  # CartService
    "checkout_service": ("chalicelib.services.checkout", None),  # CheckoutService
    "earning_service": ("chalicelib.services.earning", None),  # EarningService
    "idempotency_service": ("chalicelib.services.idempotency", None),  # IdempotencyService
    "order_service": ("chalicelib.services.orders", None),  # OrderService
    "reservation_service": ("chalicelib.services.reservations", None),  # ReservationService
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
