"""A member's data export as one SQL statement (one snapshot: the balance, the ledger and the lots in the
document agree with each other even while the member is spending).

Each section is one function below, registered with `@section("name")`: it returns a subquery that
yields the section as JSON (an array of the member's rows, `:m` is the member id). Adding a section
(a new table of the member's) is adding one such function; the document gets a key of that name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from ..platform.db import Tx

SECTIONS: dict[str, Callable[[], str]] = {}


def section(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    def register(build: Callable[[], str]) -> Callable[[], str]:
        SECTIONS[name] = build
        return build

    return register


def _rows(select: str) -> str:
    """The JSON array of a SELECT's rows (each row an object keyed by its column names), [] when none."""
    return f"(SELECT COALESCE(json_agg(row_to_json(t)), '[]'::json) FROM ({select}) t)"


@section("member")
def member() -> str:
    return (
        "(SELECT row_to_json(t) FROM (SELECT id, email, first_name, last_name, phone, "
        "json_build_object('street', street, 'city', city, 'state', state, 'zip_code', zip_code) AS address, "
        "created_at, identity_subject IS NOT NULL AS signed_in, linked_at, erased_at IS NOT NULL AS erased "
        "FROM members WHERE id = :m) t)"
    )


@section("points")
def points() -> str:
    return "(SELECT row_to_json(t) FROM (SELECT balance, lifetime_earned, tier FROM members WHERE id = :m) t)"


@section("lots")
def lots() -> str:
    return _rows(
        "SELECT id, ledger_entry_id, points_earned, points_remaining, earned_at, expires_at FROM point_lots "
        "WHERE member_id = :m ORDER BY earned_at, id"
    )


@section("ledger")
def ledger() -> str:
    return _rows(
        "SELECT id, entry_type, points, description, order_id, created_at FROM ledger_entries "
        "WHERE member_id = :m ORDER BY created_at, id"
    )


@section("orders")
def orders() -> str:
    return _rows(
        "SELECT o.id, o.status, o.source, o.total_points, o.created_at, o.updated_at, "
        " (SELECT COALESCE(json_agg(json_build_object('item_id', l.product_id, 'name', l.product_name, "
        "   'quantity', l.quantity, 'unit_points_price', l.unit_points_price) ORDER BY l.product_name, l.product_id), "
        "   '[]'::json) FROM order_lines l WHERE l.order_id = o.id) AS items, "
        " (SELECT COALESCE(json_agg(json_build_object('status', h.status, 'at', h.at) ORDER BY h.at), '[]'::json) "
        "   FROM order_status_history h WHERE h.order_id = o.id) AS history "
        "FROM orders o WHERE o.member_id = :m ORDER BY o.created_at, o.id"
    )


@section("reservations")
def reservations() -> str:
    return _rows(
        "SELECT id, product_id AS item_id, quantity, points, status, order_id, expires_at, created_at "
        "FROM reservations WHERE member_id = :m ORDER BY created_at, id"
    )


@section("partner_purchases")
def partner_purchases() -> str:
    return _rows(
        "SELECT p.id, p.partner_id, pa.name AS partner_name, p.external_id, p.amount_usd::text AS amount_usd, "
        "p.points, p.tier, p.store_id, p.occurred_at, p.created_at FROM partner_purchases p "
        "JOIN partners pa ON pa.id = p.partner_id WHERE p.member_id = :m ORDER BY p.created_at, p.id"
    )


@section("purchase_credits")
def purchase_credits() -> str:
    """Points each purchase credited (base and promotion), pending until they vest or cancelled by returns."""
    return _rows(
        "SELECT c.id, c.purchase_id, c.entry_type, c.promotion_id, c.points, c.points_cancelled, c.status, "
        "c.vests_at, c.created_at FROM purchase_credits c WHERE c.member_id = :m ORDER BY c.created_at, c.id"
    )


@section("returns")
def returns() -> str:
    return _rows(
        "SELECT r.id, r.purchase_id, p.external_id, r.return_id, r.amount_usd::text AS amount_usd, "
        "r.points_reversed, r.points_uncollected, r.created_at FROM purchase_returns r "
        "JOIN partner_purchases p ON p.id = r.purchase_id WHERE r.member_id = :m ORDER BY r.created_at, r.id"
    )


@section("imports")
def imports() -> str:
    return _rows(
        "SELECT external_member_id, created_at AS imported_at FROM imported_members "
        "WHERE member_id = :m ORDER BY created_at"
    )


def document(tx: Tx, member_id: UUID) -> dict[str, Any] | None:
    """Every section of one member, read in one statement; None when there is no such member."""
    parts = ", ".join(f"'{name}', {build()}" for name, build in SECTIONS.items())
    found: dict[str, Any] | None = tx.fetch_value(
        f"SELECT CASE WHEN EXISTS (SELECT 1 FROM members WHERE id = :m) "
        f"THEN json_build_object('exported_at', now(), {parts}) END",
        m=member_id,
    )
    return found
