"""Shrinking a release's config to a tiny instance, from the config's own keys (what day0's TINY sizes miss).

day0 builds its tiny instance from `TINY` (hidden 64, 2 layers, 4 heads) plus the MoE and per-head keys it
knows. Configs spell the same sizes under other names (`d_model`, `decoder_layers`, `n_head`), leave
sizes unset for the modeling code to read anyway (`head_dim: None`), and carry per-layer lists
(`layer_types`) that must shrink with the layer count. The rules here are generic, matched by key name
and value, never by model type; the few needs no rule covers sit in `PER_ARCHITECTURE` with their reason.
Every rule only shrinks (a size already below its tiny value is kept).
"""

from __future__ import annotations

from typing import Any

# Other names of TINY's sizes (transformers' configs: BART-style seq2seq decoders, GPT-2, XLM...).
LAYER_COUNT_KEYS = (
    "num_layers",
    "n_layer",
    "n_layers",
    "decoder_layers",
    "encoder_layers",
    "num_decoder_layers",
    "num_encoder_layers",
)
WIDTH_KEYS = ("d_model", "n_embd", "emb_dim", "embed_dim")
HEAD_COUNT_KEYS = (
    "decoder_attention_heads",
    "encoder_attention_heads",
    "n_head",
    "n_heads",
    "num_decoder_attention_heads",
    "num_encoder_attention_heads",
)
FFN_KEYS = ("decoder_ffn_dim", "encoder_ffn_dim", "ffn_dim", "n_inner", "d_ff")
# Router top-k under names without "expert" in them (day0's `_tiny_moe` matches `*expert*per_tok*`).
TOP_K_KEYS = ("moe_k", "top_k", "moe_topk", "moe_top_k", "num_experts_per_token")
# Expert groups (group-limited routing): one group, so that top-k within a group still has experts to pick.
EXPERT_GROUP_KEYS = ("n_group", "num_expert_group", "n_expert_groups", "topk_group")
# KV shared across the last N layers needs N layers of each kind past the first ones: the tiny instance has one
# of each kind, so it computes its own KV in every layer (same modules, so the same LoRA targets).
KV_SHARED_KEYS = ("num_kv_shared_layers",)
# Per-layer lists: one entry per decoder layer, shrunk with the layer count.
MAX_TINY_LAYERS = 4

PER_ARCHITECTURE: dict[str, tuple[dict[str, Any], str]] = {
    "mamba2": (
        {"num_heads": 2, "head_dim": 64, "n_groups": 1},
        "Mamba-2 requires num_heads * head_dim == expand * hidden_size (2 * 64)",
    ),
    "dbrx": (
        {
            "attn_config": {"kv_n_heads": 1, "rope_theta": 10000.0, "clip_qkv": 8.0},
            "ffn_config": {"hidden_size": 64, "ffn_hidden_size": 128, "moe_num_experts": 4, "moe_top_k": 1},
        },
        "its sizes sit in sub-configs the generic rules do not descend into, and the default attn_config "
        "leaves rope_theta and clip_qkv unset although the modeling code reads them (DBRX releases set 8.0)",
    ),
    "gpt_neo": (
        {"attention_types": [[["global", "local"], 1]]},
        "its layer kinds are a run-length list ([[kinds], repeats]) that must add up to num_layers",
    ),
    "reformer": (
        {"is_decoder": True, "axial_pos_embds_dim": [32, 32], "axial_pos_shape": [4, 4]},
        "ReformerModelWithLMHead asserts `is_decoder=True` (default False); its axial position "
        "embedding sizes must add up to hidden_size and, in training, its shape multiply to the "
        "sequence length (the sweep's 16)",
    ),
    "lfm2_moe": (
        {"layer_types": ["conv", "full_attention"]},
        "its default config leaves layer_types None, which the modeling code indexes (releases list "
        "conv and full_attention layers)",
    ),
}
"""model_type -> (config overrides, why no generic rule gives them)."""

# peft refuses LoRA on some modules of some architectures (peft's tuners_utils
# `_check_lora_target_modules_mamba`, which keeps the list in local variables): those are never targets.
PEFT_REFUSED: dict[frozenset[str], frozenset[str]] = {
    frozenset({"falcon_h1", "mamba", "mamba2", "falcon_mamba", "nemotron_h"}): frozenset(
        {"out_proj", "conv1d"}
    ),
}


def peft_refuses(model_type: str) -> frozenset[str]:
    """Module leaf names peft will not wrap with LoRA for this model type."""
    return frozenset().union(*(names for types, names in PEFT_REFUSED.items() if model_type in types))


def tiny_sizes(model_type: str, config: dict[str, Any], tiny: dict[str, Any]) -> dict[str, Any]:
    """Config overrides, on top of ``tiny``, that make ``config``'s architecture tiny."""
    out: dict[str, Any] = {}
    for keys, size in (
        (LAYER_COUNT_KEYS, tiny["num_hidden_layers"]),
        (WIDTH_KEYS, tiny["hidden_size"]),
        (HEAD_COUNT_KEYS, tiny["num_attention_heads"]),
        (FFN_KEYS, tiny["intermediate_size"]),
    ):
        for key in keys:
            if _int(config.get(key)) and config[key] > size:
                out[key] = size
    kv, heads = config.get("num_key_value_heads"), config.get("num_attention_heads")
    if _int(kv) and kv == heads and kv > tiny["num_attention_heads"]:  # multi-head, not grouped: keep it so
        out["num_key_value_heads"] = tiny["num_attention_heads"]
    for (
        key,
        value,
    ) in config.items():  # other vocabularies (per-layer input embeddings) shrink like the main one
        if key.startswith("vocab_size_") and _int(value) and value > tiny["vocab_size"]:
            out[key] = tiny["vocab_size"]
    for key in KV_SHARED_KEYS:
        if _int(config.get(key)) and config[key] > 0:
            out[key] = 0
    for key in EXPERT_GROUP_KEYS:
        if _int(config.get(key)) and config[key] > 1:
            out[key] = 1
    for key in TOP_K_KEYS:
        if _int(config.get(key)) and config[key] > 2:
            out[key] = 2
    out.update(_unset_sizes(config, tiny))
    out.update(_per_layer_lists(config))
    out.update(PER_ARCHITECTURE.get(model_type, ({}, ""))[0])
    return out


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unset_sizes(config: dict[str, Any], tiny: dict[str, Any]) -> dict[str, Any]:
    """Sizes a default config leaves None although its modeling code reads them (from_pretrained fills them)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if value is not None:
            continue
        if key == "head_dim":
            out[key] = tiny["hidden_size"] // tiny["num_attention_heads"]
        elif "expert" in key and ("per_tok" in key or "topk" in key or "top_k" in key):
            out[key] = 2
        elif "expert" in key and key.startswith(("n_", "num_")) and "size" not in key and "dim" not in key:
            out[key] = 1 if "shared" in key else 4
    return out


def _per_layer_lists(config: dict[str, Any]) -> dict[str, Any]:
    """Lists of per-layer kinds (`layer_types`, `layers_block_type`...) cut to one layer of each kind.

    The layers kept are the first of each distinct combination of kinds across the lists (at least two,
    at most `MAX_TINY_LAYERS`), so a hybrid model's tiny instance still has each of its layer kinds.
    """
    n = config.get("num_hidden_layers")
    if not _int(n) or n <= 2:
        return {}
    lists = {
        k: v
        for k, v in config.items()
        if isinstance(v, list) and len(v) == n and all(isinstance(x, str) for x in v)
    }
    if not lists:
        return {}
    keep: list[int] = []
    seen: set[tuple[str, ...]] = set()
    for i in range(n):
        kinds = tuple(v[i] for v in lists.values())
        if kinds not in seen and len(keep) < MAX_TINY_LAYERS:
            seen.add(kinds)
            keep.append(i)
    for i in range(n):
        if len(keep) >= 2:
            break
        if i not in keep:
            keep.append(i)
    keep.sort()
    return {"num_hidden_layers": len(keep), **{k: [v[i] for i in keep] for k, v in lists.items()}}
