"""Tiny instances of every family: the real transformers class builds, every module path and LoRA
target the family file names exists on it, peft wraps what the presets say, and the tiny tokenizer
and saved directory behave like a real checkpoint's (single-id special tokens, bos, reload offline).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from dayzero import registry
from dayzero.sdk.tiny import (
    check_modules,
    linear_module_names,
    save_tiny,
    tiny_config,
    tiny_model,
    tiny_tokenizer,
)

REG = registry.default()
# Remote-code families have no class to build (tests/test_remote_code_families.py checks that they are refused).
FAMILIES = sorted(f for f in REG.families if REG.families[f].architecture.remote_code is None)
MOE_FAMILIES = [f for f in FAMILIES if REG.families[f].architecture.moe is not None]


@cache
def _tokenizer(family_id: str) -> Any:
    return tiny_tokenizer(REG.families[family_id])


@cache
def _model(family_id: str) -> Any:
    return tiny_model(REG.families[family_id], _tokenizer(family_id))


def _leaf(name: str) -> str:
    return name.rsplit(".", 1)[-1]


@pytest.mark.parametrize("family_id", FAMILIES)
def test_tiny_instance_is_the_real_class(family_id: str) -> None:
    family = REG.families[family_id]
    model = _model(family_id)
    assert type(model).__name__ == family.architecture.model_class
    assert model.config.model_type == family.architecture.model_type
    assert model.config.get_text_config().hidden_size <= 64
    assert sum(p.numel() for p in model.parameters()) < 500_000


@pytest.mark.parametrize("family_id", FAMILIES)
def test_every_module_path_exists(family_id: str) -> None:
    report = check_modules(REG.families[family_id], _model(family_id))
    assert report.missing == []


@pytest.mark.parametrize("family_id", FAMILIES)
def test_every_lora_target_hits_a_linear_layer(family_id: str) -> None:
    report = check_modules(REG.families[family_id], _model(family_id))
    assert report.unmatched() == []
    linear = linear_module_names(_model(family_id))
    for names in report.hits.values():
        for found in names.values():
            assert set(found) <= linear


@pytest.mark.parametrize("family_id", FAMILIES)
def test_all_linear_preset_covers_every_linear_but_the_never_list(family_id: str) -> None:
    """The explicit preset is complete: no Linear layer is left out except those the family rules out."""
    family = REG.families[family_id]
    names = linear_module_names(_model(family_id))
    if family.vision is not None:  # a VLM's presets cover its language model (the vision tower is never a target)
        names = {n for n in names if n.startswith(family.vision.modules.language_model + ".") or n == "lm_head"}
    leaves = {_leaf(n) for n in names}
    assert leaves - set(family.architecture.lora.all_linear) <= set(family.architecture.lora.never)
    assert set(family.architecture.lora.attention) | set(family.architecture.lora.mlp) <= set(
        family.architecture.lora.all_linear
    )


@pytest.mark.parametrize("family_id", FAMILIES)
def test_tied_embeddings_as_declared(family_id: str) -> None:
    family = REG.families[family_id]
    model = _model(family_id)
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert tied == family.architecture.tie_word_embeddings
    assert model.get_input_embeddings() is model.get_submodule(family.architecture.embeddings)


@pytest.mark.parametrize("family_id", FAMILIES)
def test_declared_tiny_ids_are_the_tiny_tokenizer_ids(family_id: str) -> None:
    family = REG.families[family_id]
    tokenizer = _tokenizer(family_id)
    for key in ("bos", "eos", "pad"):
        tiny = family.architecture.tiny.get("text_config", family.architecture.tiny)  # a VLM's ids are its LM's
        assert tiny.get(f"{key}_token_id") == getattr(tokenizer, f"{key}_token_id"), key
    config = tiny_config(family).get_text_config()
    assert config.pad_token_id == tokenizer.pad_token_id
    assert config.vocab_size == len(tokenizer)


def test_peft_rewrites_dense_mlp_names_to_routed_experts_on_deepseek_v3() -> None:
    """Why deepseek-v3 lists gate/up/down_proj under `never` (measured in STACK-NOTES): naming them makes
    peft target the routed experts' fused parameters, and the dense layers and shared experts get nothing.
    When peft stops doing this, this test fails and the family's presets can name the dense MLP again."""
    from peft import LoraConfig, get_peft_model

    family = REG.families["deepseek-v3"]
    fresh = tiny_model(family, _tokenizer("deepseek-v3"))
    wrapped = _lora_wrapped(
        get_peft_model(fresh, LoraConfig(r=4, target_modules=["gate_proj", "up_proj", "down_proj"]))
    )
    moe = family.architecture.moe
    routed = [i for i in range(fresh.config.num_hidden_layers) if i not in moe.dense_layers]
    assert wrapped == {f"model.layers.{i}.{moe.experts}" for i in routed}
    assert not any(".shared_experts." in n or n.endswith(".mlp.gate_proj") for n in wrapped)


def _lora_wrapped(model: Any) -> set[str]:
    from peft.tuners.lora import LoraLayer

    names = {n for n, m in model.named_modules() if isinstance(m, LoraLayer)}
    return {n.removeprefix("base_model.model.") for n in names if not n.endswith(".base_layer")}


@pytest.mark.parametrize("family_id", FAMILIES)
def test_peft_wraps_exactly_the_all_linear_preset(family_id: str) -> None:
    from peft import LoraConfig, get_peft_model

    family = REG.families[family_id]
    lora = family.architecture.lora
    fresh = tiny_model(family, _tokenizer(family_id))
    expected = {n for n in linear_module_names(fresh) if _leaf(n) in lora.all_linear}
    peft_model = get_peft_model(fresh, LoraConfig(r=4, target_modules=lora.all_linear))
    wrapped = _lora_wrapped(peft_model)
    assert wrapped == expected
    assert not {_leaf(n) for n in wrapped} & set(lora.never)


@pytest.mark.parametrize("family_id", FAMILIES)
def test_peft_string_all_linear_adds_only_never_modules_or_experts(family_id: str) -> None:
    """peft's own "all-linear" also wraps MoE routers (and, for some types, experts): the family's
    explicit preset is what dayzero passes, and this pins down how the two differ."""
    from peft import LoraConfig, get_peft_model

    from dayzero.conformance.tiny_config import peft_refuses

    family = REG.families[family_id]
    fresh = tiny_model(family, _tokenizer(family_id))
    refused = peft_refuses(family.architecture.model_type) & linear_leaves(fresh)
    if refused:  # peft's own all-linear names Mamba's out_proj, then refuses it (nemotron_h): the preset omits it
        with pytest.raises(ValueError, match="incompatible with Mamba-based models"):
            get_peft_model(fresh, LoraConfig(r=4, target_modules="all-linear"))
        assert not refused & set(family.architecture.lora.all_linear) and refused <= set(family.architecture.lora.never)
        return
    wrapped = _lora_wrapped(get_peft_model(fresh, LoraConfig(r=4, target_modules="all-linear")))
    preset = {
        n for n in linear_module_names(tiny_model(family)) if _leaf(n) in family.architecture.lora.all_linear
    }
    assert preset <= wrapped
    moe = family.architecture.moe
    for name in wrapped - preset:
        vision = family.vision  # on a VLM, all-linear also wraps the vision tower and projector (the measured fact)
        in_vision = vision is not None and name.startswith((vision.modules.vision_tower + ".", vision.modules.projector))
        assert _leaf(name) in family.architecture.lora.never or (moe and name.endswith("." + moe.experts)) or in_vision, (
            name
        )


@pytest.mark.parametrize("family_id", MOE_FAMILIES)
def test_target_parameters_reach_every_routed_expert_block(family_id: str) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    family = REG.families[family_id]
    arch = family.architecture
    fresh = tiny_model(family, _tokenizer(family_id))
    config = LoraConfig(
        r=4, target_modules=arch.lora.attention, target_parameters=arch.lora.target_parameters
    )
    peft_model = get_peft_model(fresh, config)
    wrapped = _lora_wrapped(peft_model)
    kinds = arch.layer_kinds.of(fresh.config) if arch.layer_kinds is not None else None
    for index in range(fresh.config.num_hidden_layers):
        experts = f"{arch.layers.replace('{}', str(index))}.{arch.moe.experts}"
        assert (experts in wrapped) == ("moe" in arch.layer_parts(index, kinds)[0]), experts
    logits = peft_model(torch.tensor([[3, 4, 5, 6]])).logits
    assert torch.isfinite(logits).all()


def linear_leaves(model: object) -> set[str]:
    return {_leaf(n) for n in linear_module_names(model)}


# ---- tiny tokenizer -----------------------------------------------------------------------------


@pytest.mark.parametrize("family_id", FAMILIES)
def test_special_tokens_are_single_ids(family_id: str) -> None:
    family = REG.families[family_id]
    tokenizer = _tokenizer(family_id)
    specials = family.tokenizer.all_special()
    for position, token in enumerate(specials):
        # ids follow the order of all_special(): bos, eos, pad, unk, end of turn, others
        assert tokenizer.encode(token, add_special_tokens=False) == [position], token
    text = f"hello{specials[0]}world"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert 0 in ids and tokenizer.decode(ids) == text


@pytest.mark.parametrize("family_id", FAMILIES)
def test_round_trip_and_bos(family_id: str) -> None:
    family = REG.families[family_id]
    tokenizer = _tokenizer(family_id)
    for text in [
        "Hello, world!",
        "  two  spaces\tand tab\n",
        "東京 🙂 naïve 12345",
        "def f(x):\n    return x",
    ]:
        ids = tokenizer.encode(text, add_special_tokens=False)
        assert tokenizer.decode(ids) == text
        with_specials = tokenizer(text)["input_ids"]
        if family.tokenizer.add_bos:
            assert with_specials == [tokenizer.bos_token_id, *ids]
        else:
            assert with_specials == ids
    assert tokenizer.padding_side == family.tokenizer.padding_side.train
    expected_pad = family.tokenizer.pad or family.tokenizer.eos
    assert tokenizer.pad_token == expected_pad


def test_tiny_tokenizer_is_deterministic() -> None:
    family = REG.families["llama3"]
    assert tiny_tokenizer(family).get_vocab() == _tokenizer("llama3").get_vocab()


def test_tiny_tokenizer_ids_are_the_same_in_another_process() -> None:
    import hashlib
    import json
    import subprocess
    import sys

    code = (
        "import hashlib, json; from dayzero import registry; from dayzero.sdk.tiny import tiny_tokenizer;"
        "v = tiny_tokenizer(registry.get('qwen3')).get_vocab();"
        "print(hashlib.sha256(json.dumps(sorted(v.items())).encode()).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    here = hashlib.sha256(json.dumps(sorted(_tokenizer("qwen3").get_vocab().items())).encode()).hexdigest()
    assert out.stdout.strip() == here


# ---- saved directory ----------------------------------------------------------------------------

TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"


@pytest.mark.parametrize("family_id", FAMILIES)
def test_saved_tiny_dir_reloads_offline(family_id: str, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    family = REG.families[family_id]
    out = save_tiny(family, tmp_path / family_id, chat_template=TEMPLATE)
    assert [p.name for p in tmp_path.iterdir()] == [family_id]  # no staging dir left behind
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()

    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    import transformers

    auto = getattr(transformers, family.vision.processor.auto_class) if family.vision else AutoModelForCausalLM
    model = auto.from_pretrained(out, local_files_only=True)
    assert type(model).__name__ == family.architecture.model_class
    assert model.config.get_text_config().pad_token_id == tokenizer.pad_token_id
    assert model.config.get_text_config().eos_token_id == tokenizer.convert_tokens_to_ids(family.tokenizer.eos)

    generation = GenerationConfig.from_pretrained(out, local_files_only=True)
    eos = generation.eos_token_id if isinstance(generation.eos_token_id, list) else [generation.eos_token_id]
    assert eos == [tokenizer.convert_tokens_to_ids(t) for t in family.serving.generation_eos]

    for token in family.tokenizer.all_special():
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1, token
    ids = tokenizer("Hi there")["input_ids"]
    assert (ids[0] == tokenizer.bos_token_id) == family.tokenizer.add_bos
    assert tokenizer.chat_template == TEMPLATE

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits
    assert logits.shape == (1, len(ids), len(tokenizer))
    assert torch.isfinite(logits).all()


def test_save_tiny_replaces_an_existing_dir(tmp_path: Path) -> None:
    family = REG.families["qwen2"]
    target = tmp_path / "m"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    save_tiny(family, target)
    assert not (target / "stale.txt").exists()
    assert (target / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.parametrize("family_id", FAMILIES)
def test_padded_batch_matches_unpadded_rows(family_id: str) -> None:
    """Right padding with the family's pad id must not change the logits of the real tokens
    (STACK-NOTES: DeepSeek-V3 broke padded batches when kv heads != heads)."""
    import torch

    model = _model(family_id).eval()
    tokenizer = _tokenizer(family_id)
    short = tokenizer.encode("a short one", add_special_tokens=False)
    long = tokenizer.encode("a somewhat longer sentence here", add_special_tokens=False)
    pad = [tokenizer.pad_token_id] * (len(long) - len(short))
    batch = torch.tensor([short + pad, long])
    mask = torch.tensor([[1] * len(short) + [0] * len(pad), [1] * len(long)])
    with torch.no_grad():
        padded = model(input_ids=batch, attention_mask=mask).logits
        alone = model(input_ids=torch.tensor([short])).logits
    assert torch.isfinite(padded).all()
    torch.testing.assert_close(padded[0, : len(short)], alone[0], atol=1e-4, rtol=1e-4)
