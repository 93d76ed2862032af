"""The generic rules that shrink a config to a tiny instance (`conformance/tiny_config.py`), on hand-made configs."""

from __future__ import annotations

from dayzero.conformance.day0 import TINY
from dayzero.conformance.tiny_config import peft_refuses, tiny_sizes


def test_sizes_under_other_names_shrink_and_never_grow() -> None:
    bart_like = {
        "d_model": 1024,
        "decoder_layers": 12,
        "encoder_layers": 12,
        "decoder_attention_heads": 16,
        "decoder_ffn_dim": 4096,
        "n_head": 2,
        "moe_k": 6,
        "num_expert_group": 8,
    }
    out = tiny_sizes("x", bart_like, dict(TINY))
    assert out == {
        "d_model": 64,
        "decoder_layers": 2,
        "encoder_layers": 2,
        "decoder_attention_heads": 4,
        "decoder_ffn_dim": 128,
        "moe_k": 2,
        "num_expert_group": 1,
    }  # n_head 2 < 4: kept


def test_unset_sizes_get_tiny_values() -> None:
    config = {
        "head_dim": None,
        "num_experts_per_tok": None,
        "n_routed_experts": None,
        "n_shared_experts": None,
    }
    assert tiny_sizes("x", config, dict(TINY)) == {
        "head_dim": 16,
        "num_experts_per_tok": 2,
        "n_routed_experts": 4,
        "n_shared_experts": 1,
    }


def test_multi_head_attention_stays_multi_head() -> None:
    assert tiny_sizes("x", {"num_attention_heads": 32, "num_key_value_heads": 32}, dict(TINY)) == {
        "num_key_value_heads": 4
    }
    assert tiny_sizes("x", {"num_attention_heads": 32, "num_key_value_heads": 8}, dict(TINY)) == {}


def test_per_layer_lists_keep_one_layer_of_each_kind() -> None:
    kinds = ["mamba", "mamba", "attention", "mamba", "attention", "moe"]
    mlp = ["dense", "sparse", "sparse", "sparse", "sparse", "sparse"]
    out = tiny_sizes("x", {"num_hidden_layers": 6, "layer_types": kinds, "mlp_layer_types": mlp}, dict(TINY))
    # first of each (kind, mlp) pair: 0 (mamba, dense), 1 (mamba, sparse), 2 (attention, sparse), 5 (moe, sparse)
    assert out == {
        "num_hidden_layers": 4,
        "layer_types": ["mamba", "mamba", "attention", "moe"],
        "mlp_layer_types": ["dense", "sparse", "sparse", "sparse"],
    }
    same = tiny_sizes("x", {"num_hidden_layers": 5, "layer_types": ["full"] * 5}, dict(TINY))
    assert same == {"num_hidden_layers": 2, "layer_types": ["full", "full"]}


def test_per_architecture_needs_carry_a_reason_and_peft_refusals() -> None:
    from dayzero.conformance.tiny_config import PER_ARCHITECTURE

    assert all(reason for _, reason in PER_ARCHITECTURE.values())
    assert peft_refuses("mamba") == {"out_proj", "conv1d"} and peft_refuses("llama") == frozenset()
