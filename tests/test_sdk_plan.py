"""Compile: a recipe becomes a Plan (plain data) with every rule checked before any weights load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dayzero import registry
from dayzero.errors import RecipeError
from dayzero.sdk import compile as compile_plan
from dayzero.sdk.recipe.load import bundled_dir


def recipe(**sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "t", "model": {"id": "tiny:qwen2"}, "data": {"datasets": ["demo_sft"]}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base


def test_plan_resolves_family_targets_and_trainer() -> None:
    plan = compile_plan(recipe(), cuda=False)
    family = registry.get("qwen2")
    assert (plan.model.family, plan.model.family_revision) == ("qwen2", family.revision)
    assert plan.model.family_hash == registry.default().content_hash("qwen2")
    assert plan.adapter.target_modules == family.architecture.lora.all_linear
    assert plan.adapter.peft_config == "LoraConfig" and plan.adapter.peft_kwargs["r"] == 8
    assert (plan.trainer.module, plan.trainer.trainer, plan.trainer.config_class) == ("trl", "SFTTrainer", "SFTConfig")
    assert plan.trainer.config["use_cpu"] is True and plan.trainer.config["bf16"] is False
    assert plan.template.format == "chatml" and plan.template.end_of_turn == ["<|im_end|>"]
    json.loads(plan.model_dump_json())  # plain data
    assert "tiny:qwen2" in plan.render()


@pytest.mark.parametrize(
    ("stage", "module", "trainer", "extra"),
    [
        ("pt", "trl", "SFTTrainer", {}),
        ("rm", "trl", "RewardTrainer", {}),
        ("dpo", "trl", "DPOTrainer", {"beta": 0.2}),
        ("kto", "trl", "KTOTrainer", {"beta": 0.2}),
        ("orpo", "trl.experimental.orpo", "ORPOTrainer", {"beta": 0.2}),
        ("simpo", "trl.experimental.cpo", "CPOTrainer", {"loss_type": "simpo", "cpo_alpha": 0.0, "beta": 0.2}),
    ],
)
def test_each_stage_maps_to_its_trl_trainer(stage: str, module: str, trainer: str, extra: dict[str, Any]) -> None:
    data = {"pt": "demo_pretrain", "kto": "demo_kto"}.get(stage, "demo_preference")
    plan = compile_plan(recipe(method={"stage": stage, "beta": 0.2}, data={"datasets": [data]}), cuda=False)
    assert (plan.trainer.module, plan.trainer.trainer) == (module, trainer)
    for key, value in extra.items():
        assert plan.trainer.config[key] == value
    import importlib

    config_cls = getattr(importlib.import_module(module), plan.trainer.config_class)
    unknown = set(plan.trainer.config) - set(config_cls.__dataclass_fields__) - {"completion_only_loss"}
    assert not unknown, f"{config_cls.__name__} has no fields {unknown}"


@pytest.mark.parametrize(
    ("adapter", "flag"),
    [("dora", {"use_dora": True}), ("rslora", {"use_rslora": True}), ("pissa", {"init_lora_weights": "pissa"})],
)
def test_lora_variants_are_peft_flags(adapter: str, flag: dict[str, Any]) -> None:
    plan = compile_plan(recipe(method={"adapter": adapter}), cuda=False)
    assert plan.adapter.peft_config == "LoraConfig"
    assert flag.items() <= plan.adapter.peft_kwargs.items()


def test_oft_freeze_full_plans() -> None:
    oft = compile_plan(recipe(method={"adapter": "oft", "target": "attention", "oft_block_size": 16}), cuda=False)
    assert oft.adapter.peft_config == "OFTConfig"
    assert (oft.adapter.peft_kwargs["r"], oft.adapter.peft_kwargs["oft_block_size"]) == (0, 16)
    freeze = compile_plan(recipe(method={"adapter": "freeze", "trainable_layers": 1}), cuda=False)
    assert freeze.adapter.peft_config is None and freeze.adapter.layers == "model.layers.{}"
    full = compile_plan(recipe(method={"adapter": "full"}, export={"merge": False}), cuda=False)
    assert full.export.merge is True  # full weights have nothing to merge: the export is the weights


def test_target_presets_and_names_checked_against_architecture() -> None:
    plan = compile_plan(recipe(method={"target": "attention"}), cuda=False)
    assert plan.adapter.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    with pytest.raises(RecipeError) as err:
        compile_plan(recipe(method={"target": ["q_proj", "qkv_proj", "lm_head"]}), cuda=False)
    text = str(err.value)
    assert "`qkv_proj` is not a module of Qwen2ForCausalLM" in text
    assert "`lm_head` is never a LoRA target" in text


def test_every_problem_reported_at_once_with_rule_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    import dayzero.sdk.quantize as quantize

    monkeypatch.setattr(quantize, "bitsandbytes_importable", lambda: False)  # as on a machine without it
    bad = recipe(
        method={"stage": "dpo", "adapter": "qlora"},  # QLoRA without bitsandbytes (Q002), sft data for DPO (M001)
        data={"datasets": ["demo_sft"]},
        export={"merge": False},
    )
    with pytest.raises(RecipeError) as err:
        compile_plan(bad, cuda=False)
    text = str(err.value)
    assert text.startswith("2 problems") and "[Q002]" in text and "[M001]" in text
    rules = {r.id: r.message for r in registry.default().rules}
    assert rules["Q002"] in text  # the rules table's own message, not a copy in code


def test_qlora_plans_on_cpu_where_bitsandbytes_imports() -> None:
    pytest.importorskip("bitsandbytes")
    plan = compile_plan(recipe(method={"adapter": "qlora"}), cuda=False)
    q = plan.adapter.quantization
    assert q is not None and q["load_in_4bit"] is True and q["bnb_4bit_compute_dtype"] == "float32"
    assert plan.facts["runtime"]["bitsandbytes"] is True
    # merged export of a quantized run: two steps (Q003 says so as a warning, not a refusal)
    assert any(w.startswith("[Q003]") for w in plan.warnings) and plan.export.merge is True
    assert "full-precision base" in plan.export.steps[0] and "quantized base + adapter" in plan.export.steps[1]
    assert not any(w.startswith("[Q004]") for w in plan.warnings)  # a tiny model is quick on CPU


def test_quantization_options_reach_the_bitsandbytes_config() -> None:
    plan = compile_plan(
        recipe(method={"adapter": "qlora", "quant_type": "fp4", "double_quant": False, "compute_dtype": "bfloat16"}),
        cuda=False,
    )
    q = plan.adapter.quantization
    assert (q["bnb_4bit_quant_type"], q["bnb_4bit_use_double_quant"], q["bnb_4bit_compute_dtype"]) == (
        "fp4", False, "bfloat16")
    eight = compile_plan(recipe(method={"quantization": "bnb-8bit"}), cuda=False).adapter.quantization
    assert eight["load_in_8bit"] is True and "load_in_4bit" not in eight


def test_moe_family_plan_says_what_stays_full_precision() -> None:
    plan = compile_plan(recipe(model={"id": "tiny:qwen3-moe"}, method={"adapter": "qlora"}), cuda=False)
    facts = registry.get("qwen3-moe").quantization
    assert plan.adapter.quantization["not_quantized"] == facts.not_quantized and facts.not_quantized
    assert plan.adapter.quantization["llm_int8_skip_modules"] == ["lm_head", "gate"]
    assert any(w.startswith("[quantization] qwen3-moe keeps") and facts.note in w for w in plan.warnings)


def test_family_without_4bit_says_why() -> None:
    with pytest.raises(RecipeError) as err:
        compile_plan(recipe(model={"id": "tiny:gpt-oss"}, method={"adapter": "qlora"}), cuda=False)
    assert "does not support bnb-4bit" in str(err.value)
    assert registry.get("gpt-oss").quantization.note in str(err.value)


def test_real_size_qlora_recipe_plans_on_cpu_with_the_warning() -> None:
    pytest.importorskip("bitsandbytes")
    plan = compile_plan(bundled_dir() / "llama3.1-8b-qlora-sft.yaml", cuda=False)
    rules = {r.id: r.message for r in registry.default().rules}
    assert f"[Q004] {rules['Q004']}" in plan.warnings
    assert plan.adapter.quantization["bnb_4bit_quant_type"] == "nf4"


def test_qlora_plans_on_a_gpu_machine_and_export_is_adapter_only() -> None:
    plan = compile_plan(recipe(method={"adapter": "qlora"}, export={"merge": False}), cuda=True)
    assert plan.adapter.quantization is not None
    assert plan.adapter.quantization["load_in_4bit"] is True
    assert plan.adapter.quantization["bnb_4bit_quant_type"] == "nf4"
    assert plan.adapter.quantization["bnb_4bit_compute_dtype"] == "bfloat16"
    assert plan.export.merge is False and plan.trainer.config["bf16"] is True
    assert any("served on the quantized base" in step for step in plan.export.steps)


def test_warning_rules_do_not_block() -> None:
    plan = compile_plan(
        recipe(model={"id": "Qwen/Qwen2.5-7B-Instruct", "trust_remote_code": True}), cuda=False
    )
    assert any(w.startswith("[X001]") for w in plan.warnings)
    assert plan.model.checkpoint == "Qwen/Qwen2.5-7B-Instruct" and plan.model.matched_by == "hub_id"


def test_thinking_on_a_family_without_reasoning_fires_t001() -> None:
    with pytest.raises(RecipeError, match=r"\[T001\]"):
        compile_plan(recipe(method={"thinking": "on"}), cuda=False)


def test_registry_version_specifier_checked() -> None:
    with pytest.raises(RecipeError, match=r"\[registry\] the recipe wants registry >=99"):
        compile_plan(recipe(registry=">=99"), cuda=False)


def test_unknown_model_names_the_field() -> None:
    with pytest.raises(RecipeError) as err:
        compile_plan(recipe(model={"id": "someone/unknown-model"}), cuda=False)
    assert err.value.where.field == "model.id" and "model.family" in str(err.value)
    plan = compile_plan(recipe(model={"id": "someone/unknown-model", "family": "llama3"}), cuda=False)
    assert plan.model.family == "llama3" and plan.model.matched_by == "recipe"


def test_serve_command_in_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAYZERO_VLLM_PYTHON", raising=False)
    plan = compile_plan(recipe(serve={"backend": "vllm", "port": 9000}, export={"out": "/tmp/x"}), cuda=False)
    assert plan.serve_command is not None
    assert plan.serve_command[:4] == ["vllm", "serve", "--model", "/tmp/x"] and "9000" in plan.serve_command
    assert "--tool-call-parser" in plan.serve_command  # qwen2's hermes parser, from the family file


SHIPPED = sorted(p.name for p in bundled_dir().glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recipes_validate_and_plan_offline(name: str) -> None:
    plan = compile_plan(bundled_dir() / name, cuda=True)
    assert plan.model.family in registry.default().families
    assert plan.adapter.kind


def test_shipped_recipes_cover_the_promised_models() -> None:
    families = {compile_plan(bundled_dir() / n, cuda=True).model.family for n in SHIPPED}
    assert {"qwen2", "llama3", "qwen3", "mistral", "gemma2", "gpt-oss"} <= families


def test_cli_plan_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from dayzero.cli import main

    main(["plan", "quickstart", "method.adapter=lora", "method.r=4", "--json", "--cpu"])
    data = json.loads(capsys.readouterr().out)
    assert data["adapter"]["peft_kwargs"]["r"] == 4 and data["facts"]["runtime"]["cuda"] is False
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "quickstart", "method.adapter=full", "method.quantization=bnb-4bit", "--cpu"])
    assert exit_.value.code == 2
    assert "[Q001]" in capsys.readouterr().err


def test_presets_checked_against_the_instantiated_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # A family file whose preset names a layer the real class lacks: caught at compile time, before any weights load.
    family = registry.get("qwen2")
    bad_lora = family.architecture.lora.model_copy(update={"attention": ["q_proj", "qkv_proj"]})
    bad_arch = family.architecture.model_copy(update={"lora": bad_lora})
    monkeypatch.setitem(registry.default().families, "qwen2", family.model_copy(update={"architecture": bad_arch}))
    monkeypatch.setattr(registry.default(), "content_hash", lambda fid: "x")
    with pytest.raises(RecipeError, match=r"\['qkv_proj'\] are not Linear layers of the instantiated Qwen2ForCausalLM"):
        compile_plan(recipe(method={"target": "attention"}), cuda=False)


def test_report_to_needs_its_package() -> None:
    import importlib.util

    assert compile_plan(recipe(train={"report_to": "tensorboard"}), cuda=False).trainer.config["report_to"] == [
        "tensorboard"
    ]
    if importlib.util.find_spec("wandb") is None:
        with pytest.raises(RecipeError, match=r"\[train.report_to\] `wandb` needs the wandb package"):
            compile_plan(recipe(train={"report_to": ["tensorboard", "wandb"]}), cuda=False)
