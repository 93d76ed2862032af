"""day0's architecture walk on MoE releases, against the hand-made family entries.

The configs are the published config.json values of Qwen3-30B-A3B and Mixtral-8x7B (abridged to the
keys that shape the model); the expected module layout is the families helper's hand-written entry."""

from __future__ import annotations

import pytest

from dayzero import registry
from dayzero.conformance.day0 import walk_architecture
from dayzero.registry.schema import Architecture

RELEASES = {
    "qwen3-moe": {"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": 2048,
                  "num_hidden_layers": 48, "num_experts": 128, "num_experts_per_tok": 8,
                  "moe_intermediate_size": 768, "intermediate_size": 6144, "decoder_sparse_step": 1,
                  "mlp_only_layers": [], "head_dim": 128, "tie_word_embeddings": False, "vocab_size": 151936},
    "mixtral": {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 4096,
                "num_hidden_layers": 32, "num_local_experts": 8, "num_experts_per_tok": 2,
                "intermediate_size": 14336, "tie_word_embeddings": False, "vocab_size": 32000},
    "qwen2": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 3584,
              "num_hidden_layers": 28, "intermediate_size": 18944, "tie_word_embeddings": False},
}


@pytest.mark.parametrize("fid", sorted(RELEASES))
def test_walked_architecture_matches_hand_made_entry(fid: str) -> None:
    drafted = Architecture.model_validate(walk_architecture(RELEASES[fid]))
    hand = registry.get(fid).architecture
    assert (drafted.model_class, drafted.layers, drafted.embeddings, drafted.lm_head) == \
        (hand.model_class, hand.layers, hand.embeddings, hand.lm_head)
    assert drafted.attention == hand.attention
    assert drafted.mlp == hand.mlp
    assert drafted.moe == hand.moe
    assert sorted(drafted.lora.all_linear) == sorted(hand.lora.all_linear)
    assert sorted(drafted.lora.target_parameters) == sorted(hand.lora.target_parameters)
    assert set(drafted.lora.never) <= set(hand.lora.never)


# Hybrid releases: config.json's class and model type as the vendors publish them (NVIDIA's Nemotron 3 Nano, Qwen's
# Qwen3.5, an image-text class whose language model AutoModelForCausalLM loads). The kinds and their module paths must
# come out as the reviewed entries record them, every kind in the tiny instance.
HYBRID_RELEASES = {
    "nemotron3": {"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h"},
    "qwen3.5": {"architectures": ["Qwen3_5ForConditionalGeneration"], "model_type": "qwen3_5"},
}


@pytest.mark.parametrize("fid", sorted(HYBRID_RELEASES))
def test_walked_hybrid_architecture_has_every_layer_kind(fid: str) -> None:
    drafted = Architecture.model_validate(walk_architecture(HYBRID_RELEASES[fid]))
    hand = registry.get(fid).architecture
    assert (drafted.model_class, drafted.model_type, drafted.decoder_layer) == \
        (hand.model_class, hand.model_type, hand.decoder_layer)
    assert drafted.layer_kinds is not None and hand.layer_kinds is not None
    assert {k: (sorted(v.parts), sorted(v.mixer)) for k, v in drafted.layer_kinds.kinds.items()} == \
        {k: (sorted(v.parts), sorted(v.mixer)) for k, v in hand.layer_kinds.kinds.items()}
    assert drafted.attention == hand.attention
    assert drafted.mlp == hand.mlp
    assert drafted.moe == hand.moe
    assert sorted(drafted.lora.all_linear) == sorted(hand.lora.all_linear)
    assert set(drafted.lora.never) == set(hand.lora.never)
