"""All conformance checks, one module per group; importing this package fills the table in order."""

from __future__ import annotations

# one module per group (`serve_chat`: group serve, the OpenAI server; `vllm_serving`: group serving, vLLM facts;
# `serve_vllm`: the live vLLM check)
from . import (  # noqa: F401  (each registers its checks)
    architecture,
    export,
    quantization,
    schema,
    serve_chat,
    serve_vllm,
    template,
    tokenizer,
    train,
    vision,
    vllm_serving,
)
from .base import GROUP_ORDER, TABLE, Check, check

__all__ = ["TABLE", "Check", "all_checks", "check"]


def all_checks() -> list[Check]:
    """The checks in the order they run."""
    return sorted(TABLE, key=lambda c: GROUP_ORDER.index(c.group))
