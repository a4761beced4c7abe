"""End-to-end tier: the whole `make run` stack in a subprocess (see tests/support/stack.py)."""

from tests.support.stack import launch

__all__ = ["launch"]
