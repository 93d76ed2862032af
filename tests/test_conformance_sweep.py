"""The day-0 sweep on a sample of architectures (the full table: benchmarks/day0_sweep.py, minutes).

Sampled: a dense decoder (llama), an MoE with fused experts (qwen3_moe), GPT-2's Conv1D projections
(transformers' transposed Linear), partial rotary (gptj: rotary_dim 64 must shrink to the tiny head); one
per generic shrinking / drafting rule (`tiny_config.py`, `day0.walk_architecture`): BART's decoder (sizes under
other names), Mamba (no attention: all-linear is the mixer's Linears, bar the out_proj peft refuses), JetMoE
(router nested in a gate module), OLMo-hybrid (a conv1d's 3-D weight is no expert bank); and one that cannot train
(xmod: its forward needs a language id), which must come back with its reason rather than raise.
"""

from __future__ import annotations

import pytest

from dayzero.conformance.sweep import causal_lm_classes, summarize, sweep_one

SAMPLE = ["llama", "qwen3_moe", "gpt2", "gptj", "bart", "jetmoe", "olmo_hybrid"]


@pytest.mark.parametrize("model_type", SAMPLE)
def test_sampled_architecture_drafts_and_trains(model_type: str) -> None:
    row = sweep_one(model_type, causal_lm_classes()[model_type])
    assert (row.drafted, row.trained, row.reason) == (True, True, None)
    assert row.targets


def test_gpt2_conv1d_projections_are_lora_targets() -> None:
    row = sweep_one("gpt2", causal_lm_classes()["gpt2"])
    assert {"c_attn", "c_proj"} <= set(row.targets)  # GPT-2's Conv1D names (transformers' gpt2 modeling)


def test_mamba_targets_its_mixer_linears_but_not_what_peft_refuses() -> None:
    row = sweep_one("mamba", causal_lm_classes()["mamba"])
    assert (row.trained, row.reason) == (True, None)
    # MambaMixer's Linear layers (transformers' mamba modeling); peft refuses LoRA on out_proj for Mamba
    assert set(row.targets) == {"in_proj", "x_proj", "dt_proj"}


def test_an_architecture_that_cannot_train_is_reported_with_its_reason() -> None:
    row = sweep_one("xmod", causal_lm_classes()["xmod"])
    assert not row.trained and row.reason and "language" in row.reason
    summary = summarize([row, sweep_one("llama", "LlamaForCausalLM")])
    assert summary["text_drafted_and_trained"] == 1 and summary["text_architectures"] == 2
    assert list(summary["failures"]) == ["xmod (XmodForCausalLM)"]


def test_audio_decoders_are_counted_apart_with_the_reason() -> None:
    row = sweep_one("musicgen", causal_lm_classes()["musicgen"])
    assert not row.text and "audio" in (row.reason or "")


def test_sweep_pages_show_every_row_and_the_share() -> None:
    from dayzero.conformance.sweep import SweepRow, sweep_html, sweep_markdown

    rows = [
        SweepRow("llama", "LlamaForCausalLM", True, True, True, ["q_proj", "v_proj"], None, 1.0),
        SweepRow("xmod", "XmodForCausalLM", True, True, False, [], "ValueError: Input language unknown", 1.0),
        SweepRow("musicgen", "MusicgenForCausalLM", False, False, False, [], "not a text model: audio", 0.0),
    ]
    result = {"transformers": "5.x", "summary": summarize(rows), "rows": [r.as_dict() for r in rows]}
    page = sweep_html(result)
    assert "1 of 2 text architectures (50.0 %) draft and train" in page
    assert '<tr id="llama" class="trained">' in page and "q_proj, v_proj" in page
    assert '<tr id="xmod" class="failed">' in page and "Input language unknown" in page
    assert '<tr id="musicgen" class="not-text">' in page
    assert "| xmod | XmodForCausalLM | yes | yes | no | ValueError: Input language unknown |" in sweep_markdown(result)
