"""The composition root's object graph: every service, built on first use and typed for its callers.

A catalog read builds the catalog service and imports nothing of orders or points: each service's
module is imported inside its property, and only for type checking at the top.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from .platform.config import Settings, get_settings
from .platform.db import Database, get_database

if TYPE_CHECKING:
    from .adapters.email import Notifier
    from .adapters.identity import IdentityProvider
    from .adapters.sqs import Sqs
    from .adapters.storage import ObjectStore
    from .cart.checkout import CheckoutService
    from .cart.service import CartService
    from .catalog.admin import ProductAdminService
    from .catalog.service import CatalogService
    from .events.archive import EventArchive
    from .events.log import EventLog
    from .events.relay import OutboxRelay
    from .imports.service import ImportService
    from .members.customers import CustomerService
    from .members.service import MemberService
    from .operations.housekeeping import Housekeeping
    from .orders.dead_letters import DeadLetterService
    from .orders.processor import OrderEventProcessor
    from .orders.recovery import OrderRecovery
    from .orders.service import OrderService
    from .partners.service import PartnerService
    from .points.earning import EarningService
    from .points.expiry import ExpiryService
    from .points.promotions import PromotionService
    from .points.reconciliation import ReconciliationService
    from .points.reports import ReportService
    from .points.returns import ReturnService
    from .points.service import PointsService
    from .points.tier_policy import TierPolicy
    from .points.tiers import TierService
    from .points.vesting import VestingService
    from .privacy.service import PrivacyService
    from .reservations.service import ReservationService


class Services:
    """One instance per container (Lambda execution environment, or test)."""

    def __init__(self, settings: Settings, db: Database):
        self.settings = settings
        self.db = db

    # -- adapters --------------------------------------------------------------------------------
    @cached_property
    def sqs(self) -> Sqs:
        from .adapters.sqs import Sqs

        return Sqs(self.settings)

    @cached_property
    def notifier(self) -> Notifier:
        from .adapters.email import Notifier

        return Notifier(self.settings)

    @cached_property
    def relay(self) -> OutboxRelay:
        from .events.relay import OutboxRelay

        return OutboxRelay(self.db, self.settings, self.sqs)

    # -- the member journey ----------------------------------------------------------------------
    @cached_property
    def catalog(self) -> CatalogService:
        from .catalog.service import CatalogService

        return CatalogService(self.db)

    @cached_property
    def members(self) -> MemberService:
        from .members.service import MemberService

        return MemberService(self.db, self.settings)

    @cached_property
    def cart(self) -> CartService:
        from .cart.service import CartService

        return CartService(self.db, self.settings)

    @cached_property
    def checkout(self) -> CheckoutService:
        from .cart.checkout import CheckoutService

        return CheckoutService(self.db)

    # -- orders and reservations -----------------------------------------------------------------
    @cached_property
    def orders(self) -> OrderService:
        from .orders.service import OrderService

        return OrderService(self.db)

    @cached_property
    def reservations(self) -> ReservationService:
        from .reservations.service import ReservationService

        return ReservationService(self.db, self.settings)

    @cached_property
    def order_events(self) -> OrderEventProcessor:
        from .adapters.fulfilment import FulfilmentClient
        from .orders.processor import OrderEventProcessor

        return OrderEventProcessor(self.db, self.settings, self.sqs, FulfilmentClient(self.settings), self.notifier)

    @cached_property
    def order_recovery(self) -> OrderRecovery:
        from .orders.recovery import OrderRecovery

        return OrderRecovery(self.db, self.settings, self.reservations)

    @cached_property
    def dead_letters(self) -> DeadLetterService:
        from .orders.dead_letters import DeadLetterService

        return DeadLetterService(self.settings, self.sqs)

    # -- points ----------------------------------------------------------------------------------
    @cached_property
    def tier_policy(self) -> TierPolicy:
        from .points.tier_policy import TierPolicy

        return TierPolicy.of(self.settings)

    @cached_property
    def points(self) -> PointsService:
        from .points.service import PointsService

        return PointsService(self.db, self.settings)

    @cached_property
    def earning(self) -> EarningService:
        from .points.earning import EarningService

        return EarningService(self.db, self.settings)

    @cached_property
    def expiry(self) -> ExpiryService:
        from .points.expiry import ExpiryService

        return ExpiryService(self.db, self.settings, self.notifier)

    @cached_property
    def tiers(self) -> TierService:
        from .points.tiers import TierService

        return TierService(self.db, self.settings)

    @cached_property
    def reconciliation(self) -> ReconciliationService:
        from .points.reconciliation import ReconciliationService

        return ReconciliationService(self.db, self.settings)

    @cached_property
    def returns(self) -> ReturnService:
        from .points.returns import ReturnService

        return ReturnService(self.db, self.settings)

    @cached_property
    def vesting(self) -> VestingService:
        from .points.vesting import VestingService

        return VestingService(self.db, self.settings)

    @cached_property
    def promotions(self) -> PromotionService:
        from .points.promotions import PromotionService

        return PromotionService(self.db)

    @cached_property
    def reports(self) -> ReportService:
        from .points.reports import ReportService

        return ReportService(self.db)

    # -- partners, admin, operations -------------------------------------------------------------
    @cached_property
    def partners(self) -> PartnerService:
        from .partners.service import PartnerService

        return PartnerService(self.db)

    @cached_property
    def customers(self) -> CustomerService:
        from .members.customers import CustomerService

        return CustomerService(self.db, self.tier_policy, self.members)

    @cached_property
    def product_admin(self) -> ProductAdminService:
        from .catalog.admin import ProductAdminService

        return ProductAdminService(self.db)

    @cached_property
    def housekeeping(self) -> Housekeeping:
        from .operations.housekeeping import Housekeeping
        from .platform.idempotency import get_idempotency

        return Housekeeping(self.db, get_idempotency())

    # -- operator tools: data requests, imports, the event archive (docs/operator-tools.md) -----
    @cached_property
    def identity_provider(self) -> IdentityProvider:
        from .adapters.identity import IdentityProvider

        return IdentityProvider(self.settings)

    @cached_property
    def storage(self) -> ObjectStore:
        from .adapters.storage import ObjectStore

        return ObjectStore(self.settings)

    @cached_property
    def privacy(self) -> PrivacyService:
        from .privacy.service import PrivacyService

        return PrivacyService(self.db, self.identity_provider, self.reservations, self.members)

    @cached_property
    def imports(self) -> ImportService:
        from .imports.service import ImportService

        return ImportService(self.db, self.settings, self.storage)

    @cached_property
    def event_log(self) -> EventLog:
        from .events.log import EventLog

        return EventLog(self.db)

    @cached_property
    def archive(self) -> EventArchive:
        from .events.archive import EventArchive

        return EventArchive(self.db, self.settings, self.storage)


_services: Services | None = None


def services() -> Services:
    """The container's services; the first call also installs the outbox's after-commit relay."""
    global _services
    if _services is None:
        from .events.publishing import set_publisher

        built = Services(get_settings(), get_database())
        set_publisher(lambda: built.relay.kick())
        _services = built
    return _services


def reset_services() -> None:
    """For tests and dev tools that change the environment or the database after first use."""
    global _services
    _services = None
    from .events.publishing import set_publisher

    set_publisher(None)
