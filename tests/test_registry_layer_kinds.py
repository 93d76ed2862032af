"""Hybrid architectures (`architecture.layer_kinds`): layers of several kinds (Mamba-2 or Gated DeltaNet mixers beside
full attention, MoE beside MLP), each kind with its own module paths, checked per layer on the real classes."""

from __future__ import annotations

import copy
import os

import pytest
from pydantic import ValidationError

from dayzero import registry
from dayzero.registry.exchange import json_schema
from dayzero.registry.schema import Architecture

os.environ.setdefault("OMP_NUM_THREADS", "1")
HYBRID = ["granite4", "nemotron3", "qwen3.5"]


def _arch(fid: str) -> dict:
    return copy.deepcopy(registry.get(fid).architecture.model_dump(mode="json", by_alias=True))


def test_a_family_without_layer_kinds_dumps_as_before() -> None:
    # the content hashes of every other family stay what they were: the new field is omitted when absent
    assert "layer_kinds" not in registry.get("qwen3").architecture.model_dump(mode="json", by_alias=True)
    assert "layer_kinds" in _arch("nemotron3")


def test_every_layer_kind_must_be_in_the_tiny_instance() -> None:
    data = _arch("qwen3.5")
    data["tiny"]["layer_types"] = ["full_attention", "full_attention"]
    with pytest.raises(ValidationError, match=r"never uses layer kinds \['linear_attention'\]"):
        Architecture.model_validate(data)


def test_a_tiny_kind_the_entry_does_not_describe_is_refused() -> None:
    data = _arch("qwen3.5")
    data["tiny"]["layer_types"] = ["linear_attention", "full_attention", "sliding_attention"]
    with pytest.raises(ValidationError, match=r"names kinds \['sliding_attention'\]"):
        Architecture.model_validate(data)


def test_a_kind_holding_a_section_the_entry_lacks_is_refused() -> None:
    data = _arch("qwen3.5")
    data["layer_kinds"]["kinds"]["full_attention"]["parts"].append("moe")
    with pytest.raises(ValidationError, match="holds `moe`, but the entry has no `moe` section"):
        Architecture.model_validate(data)


def test_dense_layers_and_layer_kinds_cannot_both_place_the_moe() -> None:
    data = _arch("nemotron3")
    data["moe"]["dense_layers"] = [0]
    with pytest.raises(ValidationError, match=r"`moe\.dense_layers` and `layer_kinds`"):
        Architecture.model_validate(data)


def test_the_json_schema_export_describes_layer_kinds() -> None:
    defs = json_schema()["$defs"]
    assert "layer_kinds" in defs["Architecture"]["properties"]
    assert set(defs["LayerKind"]["properties"]) == {"parts", "mixer"}


@pytest.mark.parametrize("fid", HYBRID)
def test_each_layer_is_checked_against_its_own_kind(fid: str) -> None:
    from dayzero.sdk.tiny import check_modules, tiny_model

    family = registry.get(fid)
    model = tiny_model(family)
    report = check_modules(family, model)
    assert report.ok, (report.missing, report.unmatched())
    kinds = family.architecture.layer_kinds
    assert kinds is not None
    assert sorted(report.kinds) == sorted(kinds.kinds)
    assert all(report.kinds.values())  # every kind has at least one layer in the tiny instance
    # independent of the entry: the class itself put a non-attention mixer in some layer and attention in another
    attn = [i for i in range(model.config.num_hidden_layers)
            if any(n.startswith(family.architecture.layers.format(i) + ".") and n.endswith("q_proj")
                   for n, _ in model.named_modules())]
    assert 0 < len(attn) < model.config.num_hidden_layers


def test_a_wrong_mixer_path_is_reported_at_the_layers_of_its_kind() -> None:
    from dayzero.sdk.tiny import check_modules, tiny_model

    family = registry.get("nemotron3")
    model = tiny_model(family)
    data = family.model_dump(mode="json", by_alias=True)
    data["architecture"]["layer_kinds"]["kinds"]["linear_attention"]["mixer"] = ["mixer.in_proj", "mixer.x_proj"]
    broken = type(family).model_validate(data)
    report = check_modules(broken, model)
    mamba = report.kinds["linear_attention"]
    assert report.missing == [f"model.layers.{i}.mixer.x_proj" for i in mamba]


def test_an_attention_path_is_not_required_of_a_mamba_layer() -> None:
    from dayzero.sdk.tiny import check_modules, tiny_model

    # the same entry without layer kinds asks every layer for q_proj: the Mamba, MoE and MLP layers lack it
    family = registry.get("nemotron3")
    model = tiny_model(family)
    data = family.model_dump(mode="json", by_alias=True)
    del data["architecture"]["layer_kinds"]
    data["architecture"]["tiny"].pop("layers_block_type")
    flat = type(family).model_validate(data)
    missing = check_modules(flat, model).missing
    assert "model.layers.0.mixer.q_proj" in missing and "model.layers.2.mixer.q_proj" not in missing


@pytest.mark.parametrize("fid", ["nemotron3", "granite4", "qwen3.5"])
def test_lora_trains_the_non_attention_mixer_on_cpu(fid: str) -> None:
    """peft wraps the Mamba-2 / Gated DeltaNet projections the preset names, and a backward through transformers'
    torch fallback (no CUDA kernels here) gives them gradients."""
    import torch
    from peft import LoraConfig, get_peft_model

    from dayzero.sdk.tiny import tiny_model

    family = registry.get(fid)
    arch = family.architecture
    assert arch.layer_kinds is not None
    model = tiny_model(family)
    mixer_kind = next(k for k in arch.layer_kinds.kinds.values() if "attention" not in k.parts)
    targets = [n for n in arch.lora.all_linear if n not in arch.lora.never]
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=targets, init_lora_weights=False))
    index = arch.layer_kinds.of(model.config).index(
        next(name for name, k in arch.layer_kinds.kinds.items() if k is mixer_kind))
    ids = torch.arange(2, 18).reshape(2, 8)
    peft_model(input_ids=ids, labels=ids).loss.backward()
    wrapped = [n for n, p in peft_model.named_parameters()
               if "lora_A" in n and f"layers.{index}." in n and any(m in n for m in mixer_kind.mixer)]
    assert wrapped, f"no LoRA on {mixer_kind.mixer} of layer {index}"
    grads = {n: p.grad for n, p in peft_model.named_parameters() if n in wrapped}
    assert all(g is not None and float(g.abs().sum()) > 0 for g in grads.values())
