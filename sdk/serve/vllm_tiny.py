"""Tiny instances vLLM's CPU backend accepts: the family's tiny config with a head size it supports.

A family's `architecture.tiny` is sized for speed (hidden 64, 4 heads: head size 16), which vLLM's
CPU attention refuses ("Unsupported CPU attention configuration: head_dim=16"). The supported sizes
are an engine fact (`families/engines.yaml` vllm.cpu_head_dims); this picks the smallest and keeps
the hidden size, by fewer heads (or an explicit `head_dim` where the config has one).
"""

from __future__ import annotations

from typing import Any

from dayzero.registry import Family
from dayzero.registry.engines import engines


def vllm_tiny_overrides(family: Family) -> dict[str, Any]:
    """Config overrides (for `sdk.tiny.save_tiny(extra=...)`) giving a head size vLLM's CPU backend accepts."""
    from dayzero.sdk.tiny import tiny_config

    config = tiny_config(family)
    supported = sorted(engines().vllm.cpu_head_dims)
    heads = int(config.num_attention_heads)
    hidden = int(config.hidden_size)
    explicit = getattr(config, "head_dim", None)
    head_dim = int(explicit) if explicit else hidden // heads
    if head_dim in supported:
        return {}
    want = supported[0]
    if explicit:
        return {"head_dim": want}
    new_heads = max(1, hidden // want)
    kv = int(getattr(config, "num_key_value_heads", None) or heads)
    new_kv = next(k for k in range(min(kv, new_heads), 0, -1) if new_heads % k == 0)
    return {"num_attention_heads": new_heads, "num_key_value_heads": new_kv}
