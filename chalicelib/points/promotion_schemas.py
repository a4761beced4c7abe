"""HTTP bodies of promotions (admin routes at /admin/promotions)."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from ..platform.schemas import Body, Out, Text, UtcTimestamp, parse_usd, usd_schema
from ..platform.text import utc_instant
from .models import Promotion, PromotionKind, PromotionTerms, Stacking, Tier

StoreId = Text  # as in purchases: 1-128 characters
PromotionStatus = Literal["SCHEDULED", "RUNNING", "ENDED", "INACTIVE"]
MAX_MULTIPLIER = Decimal("10")


def parse_multiplier(value: object) -> Decimal | None:
    """ "2.0" or 2.0: more than 1, at most 10, at most 3 decimals; never a bool, NaN or infinity."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError('must be a decimal number like "2.0"')
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError('must be a decimal number like "2.0"') from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    if not Decimal(1) < number <= MAX_MULTIPLIER:
        raise ValueError("must be more than 1 and at most 10")
    if number != number.quantize(Decimal("0.001")):
        raise ValueError("must have at most 3 decimal places")
    return number.quantize(Decimal("0.001"))


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc_instant(value)


_MULTIPLIER_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}],
    "description": 'MULTIPLIER only: more than 1, at most 10, up to 3 decimals (e.g. "2.0": double points)',
}


class PromotionConditions(Body):
    """Every condition given must hold; an omitted one does not restrict."""

    store_ids: list[StoreId] | None = Field(default=None, min_length=1, max_length=100)
    tiers: list[Tier] | None = Field(default=None, min_length=1, max_length=3)  # the tier before the purchase
    min_amount_usd: Decimal | None = Field(default=None, json_schema_extra=usd_schema)
    first_purchase_only: StrictBool = False

    @field_validator("store_ids")
    @classmethod
    def _store_ids(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not 1 <= len(s) <= 128 for s in value):
            raise ValueError("store ids have 1 to 128 characters")
        return value

    @field_validator("min_amount_usd", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal | None:
        return None if value is None else parse_usd(value)


class PromotionFields(Body):
    """What the create and change bodies share."""

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    kind: PromotionKind | None = None
    multiplier: Decimal | None = Field(default=None, json_schema_extra=_MULTIPLIER_SCHEMA)
    bonus_points: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    conditions: PromotionConditions | None = None
    per_member_cap_points: StrictInt | None = Field(default=None, ge=1, le=1_000_000_000)
    budget_points: StrictInt | None = Field(default=None, ge=1, le=1_000_000_000_000)
    stacking: Stacking | None = None

    @field_validator("multiplier", mode="before")
    @classmethod
    def _multiplier(cls, value: object) -> Decimal | None:
        return parse_multiplier(value)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    def changes(self) -> dict[str, Any]:
        """The given fields as PromotionTerms names (conditions flattened: given conditions replace all)."""
        out: dict[str, Any] = {}
        for name in self.model_fields_set:
            if name == "conditions":
                conditions = self.conditions or PromotionConditions()
                out.update(
                    store_ids=conditions.store_ids,
                    tiers=conditions.tiers,
                    min_amount_usd=conditions.min_amount_usd,
                    first_purchase_only=conditions.first_purchase_only,
                )
            else:
                out[name] = getattr(self, name)
        return out


class PromotionRequest(PromotionFields):
    """POST /admin/promotions. MULTIPLIER needs `multiplier`, BONUS needs `bonus_points` (not both)."""

    SCHEMA_EXTRA: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {
                "properties": {
                    "kind": {"const": "MULTIPLIER"},
                    "multiplier": {"not": {"type": "null"}},
                    "bonus_points": {"type": "null"},
                },
                "required": ["multiplier"],
            },
            {
                "properties": {
                    "kind": {"const": "BONUS"},
                    "bonus_points": {"type": "integer"},
                    "multiplier": {"type": "null"},
                },
                "required": ["bonus_points"],
            },
        ]
    }

    name: Text = Field(..., min_length=1, max_length=200)
    starts_at: datetime
    ends_at: datetime
    kind: PromotionKind
    stacking: Stacking

    def terms(self) -> PromotionTerms:
        conditions = self.conditions or PromotionConditions()
        return PromotionTerms(
            name=self.name,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            kind=self.kind,
            stacking=self.stacking,
            multiplier=self.multiplier,
            bonus_points=self.bonus_points,
            store_ids=conditions.store_ids,
            tiers=conditions.tiers,
            min_amount_usd=conditions.min_amount_usd,
            first_purchase_only=conditions.first_purchase_only,
            per_member_cap_points=self.per_member_cap_points,
            budget_points=self.budget_points,
        )


class PromotionChange(PromotionFields):
    """PUT /admin/promotions/{id}: before it starts, any fields (at least one; `conditions` replaces
    all conditions; null clears an optional field); once it runs, only an earlier `ends_at`."""

    NOT_NULL: ClassVar[tuple[str, ...]] = ("name", "starts_at", "ends_at", "kind", "stacking")
    SCHEMA_EXTRA: ClassVar[dict[str, Any]] = {"minProperties": 1}

    @model_validator(mode="after")
    def _something(self) -> PromotionChange:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class ConditionsOut(Out):
    store_ids: list[str] | None
    tiers: list[Tier] | None
    min_amount_usd: str | None
    first_purchase_only: bool


class PromotionOut(Out):
    id: UUID
    name: str
    kind: PromotionKind
    multiplier: str | None
    bonus_points: int | None
    starts_at: UtcTimestamp
    ends_at: UtcTimestamp  # exclusive: a purchase at this instant no longer earns it
    conditions: ConditionsOut
    per_member_cap_points: int | None
    budget_points: int | None
    budget_remaining: int | None
    awarded_points: int  # every award so far (returns do not give budget back)
    members_awarded: int
    stacking: Stacking
    active: bool
    status: PromotionStatus
    created_by: str | None
    created_at: UtcTimestamp
    updated_at: UtcTimestamp

    @classmethod
    def of(cls, p: Promotion) -> PromotionOut:
        if not p.active:
            status: PromotionStatus = "INACTIVE"
        elif p.as_of < p.starts_at:
            status = "SCHEDULED"
        elif p.as_of >= p.ends_at:
            status = "ENDED"
        else:
            status = "RUNNING"
        return cls(
            id=p.id,
            name=p.name,
            kind=p.kind,
            multiplier=str(p.multiplier) if p.multiplier is not None else None,
            bonus_points=p.bonus_points,
            starts_at=p.starts_at,
            ends_at=p.ends_at,
            conditions=ConditionsOut(
                store_ids=p.store_ids,
                tiers=p.tiers,
                min_amount_usd=str(p.min_amount_usd) if p.min_amount_usd is not None else None,
                first_purchase_only=p.first_purchase_only,
            ),
            per_member_cap_points=p.per_member_cap_points,
            budget_points=p.budget_points,
            budget_remaining=p.budget_points - p.budget_used if p.budget_points is not None else None,
            awarded_points=p.awarded_points,
            members_awarded=p.members_awarded,
            stacking=p.stacking,
            active=p.active,
            status=status,
            created_by=p.created_by,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PromotionEnvelope(Out):
    promotion: PromotionOut


class PromotionList(Out):
    promotions: list[PromotionOut]
    next_cursor: str | None = None
