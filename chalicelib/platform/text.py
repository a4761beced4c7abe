"""The rules for text, in one place: the normal form of an email address, and no NUL characters."""

from __future__ import annotations


def normalize_email(value: str) -> str:
    """The one normal form of an email address: trimmed, lower-cased. Every comparison uses it."""
    return value.strip().lower()


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL: refuse it as a 400 instead of failing at the database."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value
