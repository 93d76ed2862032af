"""Decisions compile makes once for the stages: warmup steps, precision, export dtype and files, and how
several problems are reported (one policy: every problem, each with its field)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from dayzero import registry
from dayzero.errors import ExportError, RecipeError
from dayzero.sdk import compile as compile_plan


def recipe(**sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "t", "model": {"id": "tiny:qwen2"}, "data": {"datasets": ["demo_sft"]}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base


def test_a_warmup_ratio_becomes_whole_steps_when_the_step_count_is_known() -> None:
    # transformers reads warmup_steps=1.0 as one step: a ratio of 1 over 10 steps must be 10 steps
    assert compile_plan(recipe(train={"max_steps": 10, "warmup_ratio": 1.0}), cuda=False).trainer.config[
        "warmup_steps"] == 10
    assert compile_plan(recipe(train={"max_steps": 10, "warmup_ratio": 0.25}), cuda=False).trainer.config[
        "warmup_steps"] == 3  # ceil(2.5), as transformers rounds a ratio
    assert compile_plan(recipe(train={"warmup_ratio": 0.1}), cuda=False).trainer.config["warmup_steps"] == 0.1
    with pytest.raises(RecipeError, match=r"\[train.warmup_ratio\]") as err:
        compile_plan(recipe(train={"warmup_ratio": 1.0}), cuda=False)
    assert [p.where.field for p in err.value.problems if p.where] == ["train.warmup_ratio"]


@pytest.mark.parametrize(("bf16_supported", "bf16"), [(True, True), (False, False)])
def test_precision_auto_picks_bf16_only_where_the_gpu_has_it(
    monkeypatch: pytest.MonkeyPatch, bf16_supported: bool, bf16: bool
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_supported)
    plan = compile_plan(recipe())
    assert plan.runtime["cuda"] is True
    assert plan.trainer.config["bf16"] is bf16 and plan.trainer.config["fp16"] is False


def test_every_compile_problem_is_reported_with_its_field() -> None:
    with pytest.raises(RecipeError) as err:
        compile_plan(recipe(method={"target": ["nonexistent_proj"]}, train={"warmup_ratio": 1.0}), cuda=False)
    fields = [p.where.field for p in err.value.problems if p.where]
    assert set(fields) == {"method.target", "train.warmup_ratio"}  # the target is refused by name and by the model
    assert str(err.value).startswith(f"{len(fields)} problems")


def test_schema_validation_reports_every_problem_with_its_field(tmp_path: Path) -> None:
    from dayzero.sdk.recipe import load_recipe

    path = tmp_path / "r.yaml"
    path.write_text("name: t\nmodel: {id: 'tiny:qwen2'}\ndata: {datasets: [demo_sft]}\n"
                    "train:\n  learning_rat: 1.0\n  epochs: -1\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    fields = sorted(p.where.field for p in err.value.problems if p.where and p.where.field)
    assert fields == ["train.epochs", "train.learning_rat"]
    assert "train.epochs" in str(err.value) and "train.learning_rat" in str(err.value)


def test_export_dtype_is_the_familys_for_a_release_and_the_weights_own_otherwise() -> None:
    # families/gemma2.yaml: `export.dtype: bfloat16` (float16 overflows); llama2: float16 (its release dtype)
    assert compile_plan(recipe(model={"id": "google/gemma-2-2b-it"}), cuda=False).export.dtype == "bfloat16"
    assert compile_plan(recipe(model={"id": "meta-llama/Llama-2-7b-chat-hf"}), cuda=False).export.dtype == "float16"
    assert compile_plan(recipe(), cuda=False).export.dtype == "auto"  # a tiny base keeps its weights' dtype
    assert compile_plan(recipe(model={"dtype": "float32"}), cuda=False).export.dtype == "float32"


def test_a_family_whose_adapters_cannot_merge_refuses_a_merged_export() -> None:
    reg = registry.default()
    fam = reg.get("qwen2")
    unmergeable = fam.model_copy(update={"export": fam.export.model_copy(update={"mergeable": False})})
    scratch = dataclasses.replace(reg, families={**reg.families, "qwen2": unmergeable})
    with pytest.raises(RecipeError, match=r"\[export.merge\]"):
        compile_plan(recipe(export={"merge": True}), cuda=False, registry=scratch)
    assert compile_plan(recipe(export={"merge": False}), cuda=False, registry=scratch).export.merge is False


def test_an_export_missing_a_file_the_family_lists_fails(tmp_path: Path) -> None:
    from dayzero.sdk.exporter import _check_files

    plan = compile_plan(recipe(), cuda=False)
    assert plan.export.files == list(registry.get("qwen2").export.files)
    for name in plan.export.files:
        if name != "model.safetensors":
            (tmp_path / name).write_text("{}")
    (tmp_path / "model-00001-of-00002.safetensors").write_text("")  # shards stand for model.safetensors
    _check_files(plan, tmp_path)
    (tmp_path / "chat_template.jinja").unlink()
    with pytest.raises(ExportError, match=r"lacks \['chat_template.jinja'\]"):
        _check_files(plan, tmp_path)


def _quantized_dir(tmp_path: Path, method: str) -> Path:
    d = tmp_path / method
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
                                               "quantization_config": {"quant_method": method, "bits": 4}}))
    return d


def test_a_prequantized_checkpoint_must_be_in_a_format_the_family_lists(tmp_path: Path) -> None:
    # families/qwen2.yaml: `quantization.checkpoint: [gptq, awq, fp8]`
    gptq = compile_plan(recipe(model={"id": str(_quantized_dir(tmp_path, "gptq")), "family": "qwen2"}), cuda=False)
    assert gptq.model.family == "qwen2"
    with pytest.raises(RecipeError, match=r"mxfp4-quantized, a format family qwen2 does not list"):
        compile_plan(recipe(model={"id": str(_quantized_dir(tmp_path, "mxfp4")), "family": "qwen2"}), cuda=False)
    with pytest.raises(RecipeError, match=r"trains only through an adapter"):
        compile_plan(recipe(model={"id": str(tmp_path / "gptq"), "family": "qwen2"}, method={"adapter": "full"}),
                     cuda=False)


def test_an_unknown_tool_dialect_fails_when_the_family_loads() -> None:
    from pydantic import ValidationError

    from dayzero.registry.schema import FamilyTemplate
    from dayzero.registry.schema.template import ToolDialect
    from dayzero.sdk.templates.dialects import dialect_names

    assert sorted(ToolDialect.__args__) == dialect_names()  # the schema's vocabulary is what dayzero implements
    with pytest.raises(ValidationError, match="tool_dialect"):
        FamilyTemplate(format="chatml", tool_dialect="hermess")


def test_the_trainers_data_decisions_are_in_the_plan() -> None:
    pt = compile_plan(recipe(method={"stage": "pt"}, data={"datasets": ["demo_pretrain"]}), cuda=False)
    assert pt.trainer.packing is True  # pt packs by default (sdk/data/spec.py)
    assert pt.trainer.config["padding_free"] is True and pt.trainer.config["max_length"] is None
    sft = compile_plan(recipe(data={"cutoff_len": 300}), cuda=False)
    assert sft.trainer.packing is False and "padding_free" not in sft.trainer.config
    assert sft.trainer.config["max_length"] == 300 and sft.trainer.pretokenized is False
    dpo = compile_plan(recipe(method={"stage": "dpo"}, data={"datasets": ["demo_preference"]}), cuda=False)
    assert dpo.trainer.pretokenized is True  # TRL's DPOTrainer would re-render dayzero's token ids
    with pytest.raises(RecipeError, match=r"\[data.packing\] packing applies to sft and pt rows"):
        compile_plan(recipe(method={"stage": "dpo"}, data={"datasets": ["demo_preference"], "packing": True}),
                     cuda=False)
    rm = compile_plan(recipe(method={"stage": "rm"}, data={"datasets": ["demo_preference"]}), cuda=False)
    assert (rm.model.loader, rm.model.load_kwargs) == ("AutoModelForSequenceClassification", {"num_labels": 1})
    assert (sft.model.loader, sft.model.load_kwargs) == ("AutoModelForCausalLM", {})
