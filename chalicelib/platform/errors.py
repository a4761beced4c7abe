"""Domain errors. They say what went wrong in business terms; `chalicelib.http` maps them to HTTP."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a caller is expected to see. `code` is the stable machine code."""

    code = "ERROR"

    def __init__(self, message: str, *, code: str | None = None, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or []


class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"


class MalformedJson(DomainError):
    code = "MALFORMED_JSON"


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(DomainError):
    code = "UNSUPPORTED_MEDIA_TYPE"


class Unauthenticated(DomainError):
    code = "UNAUTHORIZED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class InsufficientPoints(Conflict):
    code = "INSUFFICIENT_POINTS"

    def __init__(self, required: int, available: int | None = None):
        super().__init__(f"Insufficient points. Required: {required}")
        self.required = required
        self.available = available


class OutOfStock(Conflict):
    code = "OUT_OF_STOCK"

    def __init__(self, product_name: str):
        super().__init__(f"Out of stock: {product_name}")
        self.product_name = product_name


class CartEmpty(Conflict):
    code = "CART_EMPTY"

    def __init__(self) -> None:
        super().__init__("Cart is empty")


class InvalidTransition(Conflict):
    code = "INVALID_TRANSITION"


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"


class RequestInProgress(Conflict):
    code = "REQUEST_IN_PROGRESS"


class DatabaseUnavailable(DomainError):
    code = "DATABASE_UNAVAILABLE"

    def __init__(self, message: str = "The database is unavailable; retry shortly."):
        super().__init__(message)


class DependencyUnavailable(DomainError):
    """An outside service the operation needs (the identity provider, storage) did not answer: retry."""

    code = "DEPENDENCY_UNAVAILABLE"


# -- returns and promotions (docs/points.md) --------------------------------------------------------
class ReturnConflict(Conflict):
    """The same return_id of a purchase was reported again with another amount."""

    code = "RETURN_CONFLICT"


class ReturnExceedsPurchase(Conflict):
    """Returns of a purchase would add up to more than the purchase."""

    code = "RETURN_EXCEEDS_PURCHASE"


class ReturnWouldOverdraw(Conflict):
    """Policy `block`: the member already spent points the return must take back."""

    code = "RETURN_WOULD_OVERDRAW"


class PromotionLocked(Conflict):
    """A promotion that started may only be ended early; one that ended cannot change."""

    code = "PROMOTION_LOCKED"
