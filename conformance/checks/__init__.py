"""All conformance checks, one module per group; importing this package fills the table in order."""

from __future__ import annotations

from . import architecture, export, schema, serve, serve_vllm, serving, template, tokenizer, train  # noqa: F401  (each registers its checks)
from .base import GROUP_ORDER, TABLE, Check, check

__all__ = ["TABLE", "Check", "all_checks", "check"]


def all_checks() -> list[Check]:
    """The checks in the order they run."""
    return sorted(TABLE, key=lambda c: GROUP_ORDER.index(c.group))
