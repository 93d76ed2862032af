"""The family view the Plan carries: checkpoint overrides applied once, one stop set, recorded by exports."""

from __future__ import annotations

import json
from pathlib import Path

from dayzero import registry
from dayzero.registry.view import FamilyView, view_of
from dayzero.sdk import compile as compile_plan
from dayzero.sdk.serve import ChatFormatting
from dayzero.sdk.serve.model_dir import find_target
from dayzero.sdk.templates import ChatTemplate


def _plan(model_id: str):  # type: ignore[no-untyped-def]
    return compile_plan({
        "name": "view", "model": {"id": model_id},
        "method": {"stage": "sft", "adapter": "lora"}, "data": {"datasets": ["demo_sft"]},
    }, cuda=False)


def test_a_base_checkpoint_compiles_to_its_overrides() -> None:
    # families/llama3.yaml: meta-llama/Llama-3.1-8B is the base model, `overrides: {eos: "<|end_of_text|>"}`
    plan = _plan("meta-llama/Llama-3.1-8B")
    assert plan.view.checkpoint == "meta-llama/Llama-3.1-8B" == plan.model.checkpoint
    assert plan.view.family.tokenizer.eos == "<|end_of_text|>"
    assert plan.template.stop_strings == ["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"]  # end_of_turn, then eos
    instruct = _plan("meta-llama/Llama-3.1-8B-Instruct")
    assert instruct.view.family.tokenizer.eos == instruct.view.family.tokenizer.end_of_turn[0]


def test_training_serving_and_the_plan_share_one_stop_set() -> None:
    plan = _plan("meta-llama/Llama-3.1-8B")
    assert ChatTemplate.for_view(plan.view).stop_strings == plan.template.stop_strings
    assert ChatFormatting.for_view(plan.view).stop_strings == plan.template.stop_strings
    official = "{% for m in messages %}{{ m['content'] }}<|eot_id|>{% endfor %}"
    assert ChatTemplate.from_official(official, family=plan.view).stop_strings == plan.template.stop_strings


def test_a_thinking_models_reasoning_close_never_stops_generation() -> None:
    # families/gpt-oss.yaml: reasoning closes with <|end|>; the final answer ends with <|return|> (the
    # format's final_end_of_turn), a tool call with <|call|>; eos is <|return|>.
    view = view_of(registry.default(), "gpt-oss")
    assert view.stop_strings == ["<|return|>", "<|call|>"]
    official = "{% for m in messages %}{{ m['content'] }}<|end|>{% endfor %}"
    assert ChatTemplate.from_official(official, family=view).stop_strings == view.stop_strings
    assert view.stop_tokens == ["<|return|>", "<|endoftext|>", "<|call|>"]


def _export_dir(tmp_path: Path, view: FamilyView) -> Path:
    out = tmp_path / "export"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
    manifest = {"family": view.id, "family_hash": view.family_hash, "view": view.model_dump(mode="json", by_alias=True)}
    (out / "dayzero_export.json").write_text(json.dumps(manifest))
    return out


def test_serving_an_export_uses_the_recorded_view_with_its_overrides(tmp_path: Path) -> None:
    plan = _plan("meta-llama/Llama-3.1-8B")
    target = find_target(_export_dir(tmp_path, plan.view))
    assert target.view == plan.view and target.family.tokenizer.eos == "<|end_of_text|>"
    assert target.warnings == ()


def test_serve_warns_when_the_registry_entry_changed_since_the_export(tmp_path: Path) -> None:
    plan = _plan("meta-llama/Llama-3.1-8B")
    stale = plan.view.model_copy(update={"family_hash": "0" * 64})
    target = find_target(_export_dir(tmp_path, stale))
    assert len(target.warnings) == 1 and "`llama3` has changed since" in target.warnings[0]
    assert target.view.family.tokenizer.eos == "<|end_of_text|>"  # still served as it was trained


def test_exporting_a_run_recorded_without_a_family_view_is_a_clear_error(tmp_path: Path) -> None:
    import pytest

    from dayzero.errors import ExportError
    from dayzero.sdk import export

    plan = _plan("meta-llama/Llama-3.1-8B").model_dump(mode="json")
    del plan["view"]  # what an older dayzero wrote
    (tmp_path / "run.json").write_text(json.dumps({"plan": plan}))
    with pytest.raises(ExportError, match=r"field `plan.view`.*does not fit this dayzero version"):
        export(tmp_path)
