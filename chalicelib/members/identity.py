"""The member behind the current request, for routes of every domain."""

from __future__ import annotations

from uuid import UUID

from ..platform.routing import call, principal


def current_member_id() -> UUID:
    """The caller's member id; the member (and signup bonus) is created on first use."""
    memo = call().memo
    found = memo.get("member_id")
    if found is None:
        from ..container import services

        found = memo["member_id"] = services().members.member_id(principal())
    assert isinstance(found, UUID)
    return found
