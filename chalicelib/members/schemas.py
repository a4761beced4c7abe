"""HTTP bodies of members: the frontend's camelCase profile, and customers as admins see them."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator

from ..platform.schemas import Body, Email, Out, Text, UtcTimestamp
from ..platform.text import no_nul
from ..points.models import Tier
from ..points.schemas import ExpiringPoints
from .models import Customer, Member

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_PHONE_PUNCTUATION = re.compile(r"[ \t\n\r\f\v().-]")
# The same rule as one pattern for the document: E.164 with any of the ignored punctuation around the
# digits, or punctuation only (which clears the phone).
_P = r"[ \t\n\r\f\v().-]"
PHONE_PATTERN = rf"^{_P}*(\+{_P}*[1-9]({_P}*[0-9]){{1,14}})?{_P}*$"


def _phone(value: str) -> str:
    """E.164 (+ and up to 15 digits); spaces, dots, dashes and parentheses are ignored; "" clears it."""
    if len(value) > 40:
        raise ValueError("must be at most 40 characters")
    value = _PHONE_PUNCTUATION.sub("", no_nul(value))
    if value and not _E164.match(value):
        raise ValueError("must be a phone number in E.164 form, like +15555550100")
    return value


Phone = Annotated[
    str, AfterValidator(_phone), WithJsonSchema({"type": "string", "pattern": PHONE_PATTERN, "maxLength": 40})
]


class Address(Out):
    street: str
    city: str
    state: str
    zipCode: str


class CustomerProfile(Out):
    """The one camelCase body: the frontend reads it this way (GET and PUT /customer)."""

    id: UUID
    firstName: str
    lastName: str
    email: str
    phone: str
    address: Address

    @classmethod
    def of(cls, member: Member) -> CustomerProfile:
        return cls(
            id=member.id,
            firstName=member.first_name,
            lastName=member.last_name,
            email=member.email,
            phone=member.phone,
            address=Address(street=member.street, city=member.city, state=member.state, zipCode=member.zip_code),
        )


class AddressUpdate(Body):
    street: Text | None = Field(default=None, max_length=200)
    city: Text | None = Field(default=None, max_length=100)
    state: Text | None = Field(default=None, max_length=100)
    zipCode: Text | None = Field(default=None, max_length=20, pattern=r"^[A-Za-z0-9 -]*$")


class ProfileUpdate(Body):
    """PUT /customer: any of the profile's fields, camelCase as GET returns them.

    `id` and `email` may be sent back unchanged (a client PUTting the profile it read); the email
    belongs to sign-in and cannot be changed here.
    """

    NOT_NULL: ClassVar[tuple[str, ...]] = ("firstName", "lastName", "phone", "address")

    id: UUID | None = None
    email: Text | None = Field(default=None, max_length=320)
    firstName: Text | None = Field(default=None, max_length=100)
    lastName: Text | None = Field(default=None, max_length=100)
    phone: Phone | None = Field(default=None, max_length=40)
    address: AddressUpdate | None = None

    @model_validator(mode="after")
    def _not_null(self) -> ProfileUpdate:
        for name in ("firstName", "lastName", "phone", "address"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The member columns to set."""
        fields = {"firstName": "first_name", "lastName": "last_name", "phone": "phone"}
        found = {
            column: getattr(self, name).strip() for name, column in fields.items() if name in self.model_fields_set
        }
        if self.address is not None:
            parts = {"street": "street", "city": "city", "state": "state", "zipCode": "zip_code"}
            found.update(
                {
                    column: getattr(self.address, name).strip()
                    for name, column in parts.items()
                    if name in self.address.model_fields_set and getattr(self.address, name) is not None
                }
            )
        return found


class AddressIn(Body):
    street: Text = Field(default="", max_length=200)
    city: Text = Field(default="", max_length=100)
    state: Text = Field(default="", max_length=100)
    zip_code: Text = Field(default="", max_length=20)


class CustomerCreate(Body):
    """POST /customers (admins): in-store sign-up, before the member's first sign-in."""

    email: Email = Field(..., min_length=3, max_length=320)
    first_name: Text = Field(..., min_length=1, max_length=100)
    last_name: Text = Field(..., min_length=1, max_length=100)
    phone: Phone = Field(default="", max_length=40)
    address: AddressIn | None = None


class CustomerAddress(Out):
    street: str
    city: str
    state: str
    zip_code: str


class CustomerOut(Out):
    id: UUID
    email: str
    first_name: str
    last_name: str
    phone: str
    address: CustomerAddress
    balance: int
    lifetime_earned: int
    tier: Tier
    created_at: UtcTimestamp
    # Whether a sign-in owns this member yet (False: created in store, never signed in).
    signed_in: bool

    @classmethod
    def of(cls, member: Member) -> CustomerOut:
        return cls(
            id=member.id,
            email=member.email,
            first_name=member.first_name,
            last_name=member.last_name,
            phone=member.phone,
            address=CustomerAddress(
                street=member.street, city=member.city, state=member.state, zip_code=member.zip_code
            ),
            balance=member.balance,
            lifetime_earned=member.lifetime_earned,
            tier=member.tier,
            created_at=member.created_at,
            signed_in=member.signed_in,
        )


class CustomerDetail(CustomerOut):
    qualifying_points: int
    next_tier: Tier | None = None
    points_to_next_tier: int | None = None
    expiring: list[ExpiringPoints] = Field(default_factory=list)
    pending: int = 0  # earned, not vested yet (not in balance)

    @classmethod
    def of_customer(cls, customer: Customer) -> CustomerDetail:
        standing = customer.standing
        return cls(
            **CustomerOut.of(customer.member).model_dump(),
            qualifying_points=standing.qualifying_points,
            next_tier=standing.next_tier,
            points_to_next_tier=standing.points_to_next_tier,
            expiring=[ExpiringPoints(date=e.date, points=e.points) for e in standing.expiring],
            pending=standing.pending,
        )


class CustomerEnvelope(Out):
    customer: CustomerDetail


class CustomerList(Out):
    customers: list[CustomerOut]
    next_cursor: str | None = None
