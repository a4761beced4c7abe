"""The prototype wired into the running app, in one process: the same handler, routes, models and
error mapping, with the money operations' database work replaced by one flight each.

`install()` replaces five service methods (nothing else changes):
  CartService.add               one statement, one flight (was START, product lookup, upsert, COMMIT)
  CheckoutService.checkout      SELECT proto_checkout(...), one flight (was 2 + ~11 statements)
  IdempotencyService.execute    no separate registration transaction; the key is claimed in the
                                operation's own first flight and completed with its COMMIT
  OrderService.place            BEGIN + SELECT proto_create_order(...) in that first flight
  ReservationService.purchase   BEGIN + SELECT proto_purchase_reservation(...) in that first flight
  EarningService.record         SELECT proto_record_purchase(...), one flight
`install_sql(conn)` creates the functions of roundtrips.sql (bench database only).
Operations that were not rewritten (admin adjustments) still work through `execute`: their first
flight is BEGIN + the key claim, then their statements one flight each, then completion + COMMIT.

This module is a prototype for measuring; docs/performance.md says how to adopt it in chalicelib.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable
from uuid import UUID

from bench.prototypes.pipeline import Flights

SQL_FILE = Path(__file__).with_name("roundtrips.sql")
LOCK_NOT_AVAILABLE = "55P03"

ADD_TO_CART_SQL = (
    "WITH product AS (SELECT id FROM products WHERE id = :p AND active), "
    "line AS (INSERT INTO cart_items (member_id, product_id, quantity) SELECT :m, id, :q FROM product "
    "  ON CONFLICT (member_id, product_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity "
    "  WHERE cart_items.quantity + EXCLUDED.quantity <= :max RETURNING quantity) "
    "SELECT EXISTS (SELECT 1 FROM product) AS known, (SELECT quantity FROM line) AS quantity"
)
CHECKOUT_SQL = "SELECT * FROM proto_checkout(:m, :r)"
CREATE_ORDER_SQL = (
    "SELECT * FROM proto_create_order(:m, CAST(:items AS uuid[]), CAST(:qty AS int[]), :s, :k, :h, "
    "make_interval(secs => CAST(:retention AS float8)), :r)"
)
PURCHASE_RESERVATION_SQL = (
    "SELECT * FROM proto_purchase_reservation(:m, :rid, :s, :k, :h, make_interval(secs => CAST(:retention AS float8)), :r)"
)
CLAIM_SQL = "SELECT * FROM proto_idem_claim(:s, :k, :h, make_interval(secs => CAST(:retention AS float8)))"
COMPLETE_SQL = (
    "UPDATE idempotency_keys SET status_code = :c, response_body = :b, completed_at = now() "
    "WHERE scope = :s AND idem_key = :k"
)
RECORD_PURCHASE_SQL = (
    "SELECT * FROM proto_record_purchase(:partner, :member, :email, :x, :amount, :amount_text, :store, "
    "CAST(:occurred AS timestamptz), CAST(:now AS timestamptz), :description, :ppu, :silver, :gold, :window, "
    ":bronze_m, :silver_m, :gold_m, :lot_days, :r)"
)


def install_sql(conn: Any) -> None:
    """Create (or replace) the prototype's functions with a pg8000.native connection."""
    conn.run(SQL_FILE.read_text())


def _sqlstate(exc: BaseException) -> str | None:
    args = getattr(exc, "args", ())
    return args[0].get("C") if args and isinstance(args[0], dict) else None


def _hint(exc: BaseException) -> str | None:
    args = getattr(exc, "args", ())
    return args[0].get("H") if args and isinstance(args[0], dict) else None


# -- cart and checkout ------------------------------------------------------------------------------
def _add_to_cart(self: Any, member_id: UUID, product_id: UUID, quantity: int) -> int:
    from bench.project import NotFound, ValidationFailed

    limit = self._settings.cart_line_max_quantity
    [result] = Flights(self._db).single([(ADD_TO_CART_SQL, {"m": member_id, "p": product_id, "q": quantity,
                                                            "max": limit})])
    row = result.one()
    assert row is not None
    if not row["known"]:
        raise NotFound("Unknown product.", code="PRODUCT_NOT_FOUND")
    if row["quantity"] is None:
        raise ValidationFailed(
            f"A cart line holds at most {limit} units.",
            details=[{"field": "quantity", "message": f"line total would exceed {limit}"}],
        )
    return int(row["quantity"])


def _checkout(self: Any, member_id: UUID) -> Any:
    from bench.project import CartEmpty, InsufficientPoints, OutOfStock, PlacedOrder, request_id_var

    [result] = Flights(self._db).single([(CHECKOUT_SQL, {"m": member_id, "r": request_id_var.get()})])
    row = result.one()
    assert row is not None
    outcome = row["outcome"]
    if outcome == "CART_EMPTY":
        raise CartEmpty()
    if outcome == "OUT_OF_STOCK":
        raise OutOfStock(row["detail"])
    if outcome == "INSUFFICIENT_POINTS":
        raise InsufficientPoints(int(row["detail"]))
    assert outcome == "OK", outcome
    if self._on_commit is not None:
        self._on_commit()
    return PlacedOrder(row["order_id"], row["entry_id"], int(row["total_points"]), int(row["previous_balance"]),
                       int(row["balance"]))


# -- idempotent operations -----------------------------------------------------------------------------
class _Replay(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status, self.body = status, body


class IdempotentTx:
    """What `execute` hands the operation instead of a Tx: nothing is sent until the operation's first
    statement, which travels with BEGIN and the key claim. The Tx methods keep unrewritten operations
    working (their statements then go one flight each, after the claim)."""

    def __init__(self, db: Any, scope: str, key: str, request_hash: str) -> None:
        self.flights = Flights(db)
        self.scope, self.key, self.request_hash = scope, key, request_hash

    @property
    def claim_params(self) -> dict[str, Any]:
        from bench.project import RETENTION

        return {"s": self.scope, "k": self.key, "h": self.request_hash, "retention": RETENTION.total_seconds()}

    def settle_claim(self, outcome: str, status: int | None, body: str | None) -> None:
        """Act on the key claim's outcome; returns only when the operation should proceed."""
        from bench.project import IdempotencyKeyReused

        if outcome == "PROCEED":
            return
        self.flights.abort()
        if outcome == "REPLAY":
            raise _Replay(int(status or 200), json.loads(body) if body is not None else None)
        if outcome == "KEY_REUSED":
            raise IdempotencyKeyReused("This Idempotency-Key was used with a different request; use a new key.")
        raise AssertionError(outcome)

    def begin(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        from bench.project import RequestInProgress

        try:
            return self.flights.begin(statements)
        except Exception as exc:
            if _sqlstate(exc) == LOCK_NOT_AVAILABLE:
                raise RequestInProgress(
                    "A request with this Idempotency-Key is still in progress; retry shortly.") from exc
            raise

    # Tx interface, for operations that were not rewritten.
    def _result(self, sql: str, params: dict[str, Any]) -> Any:
        if not self.flights.started:
            [claim, result] = self.begin([(CLAIM_SQL, self.claim_params), (sql, params)])
            row = claim.one()
            assert row is not None
            self.settle_claim(row["outcome"], row["status_code"], row["response_body"])
            return result
        return self.flights.run(sql, params)

    def fetch(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        return self._result(sql, params).dicts()

    def fetch_one(self, sql: str, **params: Any) -> dict[str, Any] | None:
        return self._result(sql, params).one()

    def fetch_value(self, sql: str, **params: Any) -> Any:
        rows = self._result(sql, params).rows
        return rows[0][0] if rows else None

    def execute(self, sql: str, **params: Any) -> int:
        return self._result(sql, params).row_count


def _execute(self: Any, scope: str, key: str, request_hash: str,
             operation: Callable[[Any], tuple[int, Any]]) -> Any:
    from bench.project import Outcome

    tx = IdempotentTx(self._db, scope, key, request_hash)
    try:
        status, body = operation(tx)
    except _Replay as replay:
        return Outcome(replay.status, replay.body, True)
    except BaseException:
        tx.flights.abort()
        raise
    if not tx.flights.started:  # the operation sent nothing: still claim the key, then record it
        [claim] = tx.begin([(CLAIM_SQL, tx.claim_params)])
        row = claim.one()
        assert row is not None
        try:
            tx.settle_claim(row["outcome"], row["status_code"], row["response_body"])
        except _Replay as replay:
            return Outcome(replay.status, replay.body, True)
    tx.flights.finish([(COMPLETE_SQL, {"s": scope, "k": key, "c": status, "b": json.dumps(body)})])
    return Outcome(status, body, False)


def _place(self: Any, tx: Any, member_id: UUID, items: list[Any]) -> Any:
    """POST /prod/orders: claim, pricing and place_order in the first flight (BEGIN + one call)."""
    from bench.project import InsufficientPoints, NotFound, OutOfStock, request_id_var

    if not isinstance(tx, IdempotentTx) or tx.flights.started:
        return _ORIGINAL["place"](self, tx, member_id, items)
    params = {**tx.claim_params, "m": member_id, "items": [str(i.item_id) for i in items],
              "qty": [i.quantity for i in items], "r": request_id_var.get()}
    [result] = tx.begin([(CREATE_ORDER_SQL, params)])
    row = result.one()
    assert row is not None
    outcome = row["outcome"]
    if outcome in ("REPLAY", "KEY_REUSED"):
        tx.settle_claim(outcome, row["replay_status"], row["replay_body"])
    if outcome != "OK":
        tx.flights.abort()
        if outcome == "ITEM_NOT_FOUND":
            index = int(row["detail"])
            raise NotFound(f"Unknown item {items[index].item_id}.", code="ITEM_NOT_FOUND",
                           details=[{"field": f"items.{index}.item_id", "message": "unknown item"}])
        if outcome == "OUT_OF_STOCK":
            raise OutOfStock(row["detail"])
        if outcome == "INSUFFICIENT_POINTS":
            raise InsufficientPoints(int(row["detail"]))
        raise AssertionError(outcome)
    return _order(member_id, row)


def _order(member_id: UUID, row: dict[str, Any]) -> Any:
    """The order as orders.get reads it back, from the function's row (lines already in name order)."""
    from bench.project import Order, OrderLine, StatusChange

    return Order(id=row["order_id"], member_id=member_id, status="PENDING",
                 items=[OrderLine.model_validate(line) for line in row["items"]],
                 total_points=int(row["total_points"]), created_at=row["created_at"], updated_at=row["updated_at"],
                 history=[StatusChange(status="PENDING", at=row["history_at"])])


_NOT_PURCHASABLE = {
    "EXPIRED": "This reservation has expired.",
    "RELEASED": "This reservation was released.",
    "PURCHASED": "This reservation was already purchased.",
}


def _purchase_reservation(self: Any, tx: Any, member_id: UUID, reservation_id: UUID) -> Any:
    """POST /prod/reservations/{id}/purchase: claim, hold -> order and read-back in the first flight."""
    from bench.project import InvalidTransition, NotFound, request_id_var

    if not isinstance(tx, IdempotentTx) or tx.flights.started:
        return _ORIGINAL["purchase"](self, tx, member_id, reservation_id)
    params = {**tx.claim_params, "m": member_id, "rid": reservation_id, "r": request_id_var.get()}
    [result] = tx.begin([(PURCHASE_RESERVATION_SQL, params)])
    row = result.one()
    assert row is not None
    outcome = row["outcome"]
    if outcome in ("REPLAY", "KEY_REUSED"):
        tx.settle_claim(outcome, row["replay_status"], row["replay_body"])
    if outcome != "OK":
        tx.flights.abort()
        if outcome == "RESERVATION_NOT_FOUND":
            raise NotFound("Unknown reservation.", code="RESERVATION_NOT_FOUND")
        if outcome == "NOT_PURCHASABLE":
            raise InvalidTransition(_NOT_PURCHASABLE[row["detail"]], details=[{"status": row["detail"]}])
        raise AssertionError(outcome)
    return _order(member_id, row)


# -- partner purchases ------------------------------------------------------------------------------
def _record(self: Any, partner_id: UUID, request: Any, *, now: Any = None) -> Any:
    from bench.project import Conflict, LedgerEntry, NotFound, PurchaseRow, Recorded, request_id_var

    self._validate(request, now)
    policy, settings = self._policy, self._settings
    params = {
        "partner": partner_id, "member": request.customer_id, "email": request.email, "x": request.external_id,
        "amount": request.amount_usd, "amount_text": str(request.amount_usd), "store": request.store_id,
        "occurred": request.occurred_at, "now": now, "description": self._description(request),
        "ppu": policy.points_per_usd, "silver": policy.silver, "gold": policy.gold, "window": policy.window_days,
        "bronze_m": policy.multipliers["BRONZE"], "silver_m": policy.multipliers["SILVER"],
        "gold_m": policy.multipliers["GOLD"], "lot_days": settings.lot_lifetime_days, "r": request_id_var.get(),
    }
    try:
        [result] = Flights(self._db).single([(RECORD_PURCHASE_SQL, params)])
    except Exception as exc:
        if _hint(exc) == "PURCHASE_CONFLICT":
            raise Conflict(exc.args[0].get("M", "Purchase conflict."), code="PURCHASE_CONFLICT") from exc
        raise
    row = result.one()
    if row is None:
        raise NotFound("Unknown member.", code="MEMBER_NOT_FOUND")
    purchase = PurchaseRow(
        id=row["id"], partner_id=row["partner_id"], external_id=row["external_id"], member_id=row["member_id"],
        amount_usd=row["amount_usd"], tier=row["tier"], multiplier=row["multiplier"], points=int(row["points"]),
        ledger_entry_id=row["ledger_entry_id"], balance_after=int(row["balance_after"]), tier_after=row["tier_after"],
        store_id=row["store_id"], occurred_at=row["occurred_at"], created_at=row["created_at"],
    )
    entry = None
    if row["entry_id"] is not None:
        entry = LedgerEntry(id=row["entry_id"], member_id=row["member_id"], entry_type=row["entry_type"],
                            points=int(row["entry_points"]), description=row["entry_description"],
                            order_id=row["entry_order_id"], created_at=row["entry_created_at"])
    return Recorded(bool(row["created"]), self._result(purchase, entry))


_ORIGINAL: dict[str, Any] = {}


def install() -> None:
    """Swap the prototype in (this process only); call before the first request."""
    from bench import project

    if _ORIGINAL:
        return
    _ORIGINAL["place"] = project.order_service.OrderService.place
    _ORIGINAL["purchase"] = project.reservation_service.ReservationService.purchase
    project.cart_service.CartService.add = _add_to_cart
    project.checkout_service.CheckoutService.checkout = _checkout
    project.idempotency_service.IdempotencyService.execute = _execute
    project.order_service.OrderService.place = _place
    project.earning_service.EarningService.record = _record
    project.reservation_service.ReservationService.purchase = _purchase_reservation
