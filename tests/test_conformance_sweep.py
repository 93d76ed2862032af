"""The day-0 sweep on a sample of architectures (the full table: benchmarks/day0_sweep.py, minutes).

Sampled: a dense decoder (llama), an MoE with fused experts (qwen3_moe), GPT-2's Conv1D projections
(transformers' transposed Linear), partial rotary (gptj: rotary_dim 64 must shrink to the tiny head), and
one that cannot draft (mamba: its mixer has no attention / MLP Linear layers), which must come back
with its reason rather than raise.
"""

from __future__ import annotations

import pytest

from dayzero.conformance.sweep import causal_lm_classes, summarize, sweep_one

SAMPLE = ["llama", "qwen3_moe", "gpt2", "gptj"]


@pytest.mark.parametrize("model_type", SAMPLE)
def test_sampled_architecture_drafts_and_trains(model_type: str) -> None:
    row = sweep_one(model_type, causal_lm_classes()[model_type])
    assert (row.drafted, row.trained, row.reason) == (True, True, None)
    assert row.targets


def test_gpt2_conv1d_projections_are_lora_targets() -> None:
    row = sweep_one("gpt2", causal_lm_classes()["gpt2"])
    assert {"c_attn", "c_proj"} <= set(row.targets)  # GPT-2's Conv1D names (transformers' gpt2 modeling)


def test_an_architecture_that_cannot_draft_is_reported_with_its_reason() -> None:
    row = sweep_one("mamba", causal_lm_classes()["mamba"])
    assert not row.trained and row.reason
    summary = summarize([row, sweep_one("llama", "LlamaForCausalLM")])
    assert summary["text_drafted_and_trained"] == 1 and summary["text_architectures"] == 2
    assert list(summary["failures"]) == ["mamba (MambaForCausalLM)"]
