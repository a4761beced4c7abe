"""Members' data requests: the export (GET /prod/me/export, GET /customers/{id}/export) and erasure
(POST /customers/{id}/erase). See docs/operator-tools.md.

Erasure, in the caller's (Idempotency-Key) transaction:
  1. claim the member's erasure record: concurrent erasures of one member queue on it, and all but
     the first find it done (erasing twice is a no-op that answers the first erasure);
  2. delete the identity provider's user (idempotent: a retry after a failure later on finds none);
  3. lock what will be given back, in the global lock order: the member's cancellable orders, their
     HELD reservations, the products of both (id order); then cancel the orders (lifecycle.transition:
     refund + restock) and release the holds (the reservation service's release logic);
  4. forfeit what the member still holds: one FORFEIT ledger row for the whole balance, consuming
     every lot, so balance == sum(ledger) == sum(lots) == 0 and the liability drops by exactly that;
  5. clear the cart, the personal fields and the sign-in link; remember the sign-in (hashed) so a
     token issued before the erasure enrols nobody; keep an imported member's old-program id only
     hashed (a re-import skips it); record the erasure and a MemberErased event.
Ledger amounts, orders and purchases stay, under the member's random id, for accounting.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ..adapters.identity import IdentityProvider
from ..cart import repository as cart
from ..catalog import repository as products
from ..events import outbox
from ..imports import repository as imports
from ..members import repository as members
from ..members.models import identity_hash
from ..members.service import MemberService
from ..orders import repository as orders
from ..orders.lifecycle import TRANSITIONS, Action, transition
from ..orders.models import OrderStatus
from ..platform.db import Database, Tx
from ..platform.errors import NotFound
from ..points import ledger_repository as ledger
from ..points import purchase_repository as purchases
from ..reservations import repository as reservation_rows
from ..reservations.service import ReservationService
from . import export_repository, repository
from .models import Erasure

# Orders a member may still cancel: erasure cancels them (refund, restock); later ones go on.
CANCELLABLE: tuple[OrderStatus, ...] = tuple(s for s, moves in TRANSITIONS.items() if Action.CANCEL in moves)


class PrivacyService:
    def __init__(
        self,
        db: Database,
        identity: IdentityProvider,
        reservations: ReservationService,
        member_service: MemberService,
    ):
        self._db = db
        self._identity = identity
        self._reservations = reservations
        self._members = member_service

    # -- export ------------------------------------------------------------------------------
    def export(self, member_id: UUID) -> dict[str, Any]:
        """Every section of the member's data (export_repository.SECTIONS), from one snapshot."""
        with self._db.reader() as tx:
            document = export_repository.document(tx, member_id)
        if document is None:
            raise NotFound("Unknown customer.", code="MEMBER_NOT_FOUND")
        if document["member"]["erased"]:
            raise NotFound("This customer was erased.", code="MEMBER_ERASED")
        return document

    # -- erasure -----------------------------------------------------------------------------
    def erase(self, tx: Tx, admin: str, member_id: UUID) -> Erasure:
        subject = members.erasure_subject(tx, member_id)
        if subject is None:
            raise NotFound("Unknown customer.", code="MEMBER_NOT_FOUND")
        if not repository.claim(tx, member_id, admin):
            done = repository.get(tx, member_id)
            assert done is not None  # the claim conflicted with a committed erasure
            return done
        identity_deleted = self._identity.delete_user(
            issuer=subject.identity_issuer, subject=subject.identity_subject, email=subject.email
        )

        open_orders = orders.lock_for_member(tx, member_id, CANCELLABLE)
        holds = reservation_rows.lock_held_for_member(tx, member_id)
        stocked = [line.product_id for order in open_orders for line in orders.stock_lines(tx, order.id)]
        products.lock(tx, stocked + [hold.product_id for hold in holds])
        for order in open_orders:
            transition(tx, order.id, Action.CANCEL, member_id=member_id, reason="member erased", read_back=False)
        released = self._reservations.release_all(tx, member_id)

        forfeit = ledger.forfeit_all(
            tx, member_id, "Points forfeited: member erased", external_ref=f"forfeit:{member_id}", created_by=admin
        )
        pending_forfeited = purchases.forfeit_pending(tx, member_id)  # still in a return window: never vests
        cart.clear(tx, member_id)
        members.erase_personal_data(tx, member_id)
        if subject.identity_issuer and subject.identity_subject:
            members.record_erased_identity(tx, identity_hash(subject.identity_issuer, subject.identity_subject))
        imports.pseudonymize_member(tx, member_id)
        erasure = repository.complete(
            tx,
            member_id,
            points_forfeited=forfeit.previous_balance if forfeit else 0,
            pending_forfeited=pending_forfeited,
            forfeit_entry_id=forfeit.entry.id if forfeit else None,
            orders_cancelled=len(open_orders),
            reservations_released=len(released),
            identity_deleted=identity_deleted,
        )
        outbox.add(
            tx,
            "MemberErased",
            member_id,
            {
                "member_id": str(member_id),
                "points_forfeited": erasure.points_forfeited,
                "pending_forfeited": erasure.pending_forfeited,
                "forfeit_entry_id": str(erasure.forfeit_entry_id) if erasure.forfeit_entry_id else None,
                "orders_cancelled": erasure.orders_cancelled,
                "reservations_released": erasure.reservations_released,
                "identity_deleted": identity_deleted,
            },
        )
        tx.after_commit(lambda: self._members.forget(member_id))
        return erasure
