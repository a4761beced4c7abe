"""Member routes: the signed-in member's profile, and customers (admins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ..platform import http
from ..platform.errors import Conflict
from ..platform.routing import Access, Routes, body, query
from .identity import current_member_id

if TYPE_CHECKING:
    from .customers import CustomerService
    from .service import MemberService

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it


def members() -> MemberService:
    from ..container import services

    return services().members


def customers() -> CustomerService:
    from ..container import services

    return services().customers


@routes.get("/customer", access=Access.MEMBER, responses={200: "CustomerProfile", 401: None})
def customer_profile() -> Response:
    """The signed-in member's profile (camelCase, as the frontend reads it)."""
    return http.json_response(schemas.CustomerProfile.of(members().profile(current_member_id())))


@routes.put(
    "/customer",
    access=Access.MEMBER,
    request="ProfileUpdate",
    responses={200: "CustomerProfile", 400: None, 401: None, 409: None},
)
def update_customer_profile() -> Response:
    """Change the member's names, phone (E.164) or address; the email belongs to sign-in."""
    wanted = body(schemas.ProfileUpdate)
    me = current_member_id()
    current = members().profile(me)
    # id and email may be sent back as read; a different value conflicts with the profile (409, not 400:
    # the body is well-formed, the document cannot know the member's own id or address).
    if wanted.id is not None and wanted.id != me:
        raise Conflict(
            "id is not yours.", code="READ_ONLY_FIELD", details=[{"field": "id", "message": "must be your member id"}]
        )
    if wanted.email is not None and wanted.email.strip().lower() != current.email:
        raise Conflict(
            "The email address is changed where you sign in, not here.",
            code="READ_ONLY_FIELD",
            details=[{"field": "email", "message": "cannot be changed here"}],
        )
    return http.json_response(schemas.CustomerProfile.of(members().update_profile(me, wanted.changes())))


@routes.get("/customers", access=Access.ADMIN, responses={200: "CustomerList"}, query=("q", "limit", "cursor"))
def admin_customers() -> Response:
    """Members, newest first; `q` searches email and name."""
    found, next_cursor = customers().search(query().get("q"), http.parse_limit(query()), query().get("cursor"))
    return http.json_response(
        schemas.CustomerList(customers=[schemas.CustomerOut.of(m) for m in found], next_cursor=next_cursor)
    )


@routes.post(
    "/customers",
    access=Access.ADMIN,
    request="CustomerCreate",
    responses={201: "CustomerEnvelope", 400: None, 409: None},
    links={
        201: {
            "GetCustomer": {
                "operationId": "get_customers_customer_id",
                "parameters": {"customer_id": "$response.body#/customer/id"},
            }
        }
    },
)
def admin_create_customer() -> Response:
    """In-store sign-up: the member exists before their first sign-in (409 MEMBER_EXISTS if the email does)."""
    wanted = body(schemas.CustomerCreate)
    address = wanted.address
    from .models import Profile

    profile = Profile(
        first_name=wanted.first_name,
        last_name=wanted.last_name,
        phone=wanted.phone,
        street=address.street if address else "",
        city=address.city if address else "",
        state=address.state if address else "",
        zip_code=address.zip_code if address else "",
    )
    customer = customers().create(wanted.email, profile)
    return http.json_response(schemas.CustomerEnvelope(customer=schemas.CustomerDetail.of_customer(customer)), 201)


@routes.get("/customers/{customer_id}", access=Access.ADMIN, responses={200: "CustomerEnvelope", 404: None})
def admin_customer(customer_id: str) -> Response:
    """One member with profile, balance, tier, qualifying points and what expires soon."""
    customer = customers().get(http.parse_uuid(customer_id, "customer"))
    return http.json_response(schemas.CustomerEnvelope(customer=schemas.CustomerDetail.of_customer(customer)))
