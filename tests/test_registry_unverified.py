"""Never silently wrong: a config match whose model files contradict the family is caught, families
that share an architecture are told apart by data, and a model the registry does not know still
trains, as an unverified draft the plan names (or not at all with --strict).

Model files come from the reference data (tests/release_fixtures.py) or are written by the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from registry_helpers import scratch_registry
from release_fixtures import r1_distill_llama_8b

from dayzero import registry, sdk
from dayzero.errors import RecipeError
from dayzero.registry import matching, store
from dayzero.registry.consistency import contradictions
from dayzero.sdk.templates.parity import load_official


@pytest.fixture(autouse=True)
def _forget_drafts():
    """Entries drafted on the fly live in the process registry: drop them so other tests see the bundled one."""
    reg = registry.default()
    formats = set(reg.formats)
    yield
    reg.drafts.clear()
    for fid in set(reg.formats) - formats:
        del reg.formats[fid]


def test_r1_distill_llama_folder_resolves_to_the_distill_family(reference_dir: Path, tmp_path: Path) -> None:
    res = registry.resolve(r1_distill_llama_8b(reference_dir, tmp_path / "r1"))
    assert (res.family.id, res.matched_by, res.verified) == ("deepseek-r1-distill-llama", "config", True)
    assert res.family.tokenizer.eos == "<｜end▁of▁sentence｜>"
    assert res.family.serving.reasoning_parser == "deepseek_r1"


def test_r1_distill_llama_hub_id_resolves_to_the_distill_family() -> None:
    res = registry.resolve("deepseek-ai/DeepSeek-R1-Distill-Llama-8B")
    assert (res.family.id, res.matched_by) == ("deepseek-r1-distill-llama", "hub_id")
    assert res.checkpoint is not None and res.checkpoint.kind == "reasoning"


def test_without_the_distill_family_the_llama3_match_is_flagged(reference_dir: Path, tmp_path: Path) -> None:
    """The issue's case: by config alone it is `llama3`, whose stop tokens and template are wrong for it."""
    root = scratch_registry(tmp_path)
    (root / "deepseek-r1-distill-llama.yaml").unlink()
    res = matching.resolve(store.load(root), r1_distill_llama_8b(reference_dir, tmp_path / "r1"))
    assert res.family.id == "llama3" and not res.verified
    text = " | ".join(res.conflicts)
    for what in ("eos_token", "bos_token", "generation_config.eos_token_id", "chat template"):
        assert what in text


def test_vocabulary_tells_deepseek_llm_apart_from_the_llama_distill(
    reference_dir: Path, tmp_path: Path
) -> None:
    """DeepSeek-LLM shares the distill's bos but has a 102400-token vocabulary: the distill's `when` does not hold."""
    folder = r1_distill_llama_8b(reference_dir, tmp_path / "r1")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "vocab_size": 102400}))
    assert registry.resolve(folder).family.id != "deepseek-r1-distill-llama"


def _parity(family_id: str) -> str | None:
    """The template.parity status of the family's bundled conformance report; `fail-prompt` when the
    mismatches include a system + user conversation ending in the generation prompt (what resolve renders)."""
    path = Path(registry.default().root).parent / "conformance" / "reports" / f"{family_id}.json"
    if not path.is_file():
        return None
    check = next((c for c in json.loads(path.read_text())["checks"] if c["id"] == "template.parity"), None)
    if check is None:
        return None
    cases = check.get("evidence", {}).get("cases", {})
    return "fail-prompt" if cases.get("system_prompt") == "mismatch" else check["status"]


PARITY = {f.id: _parity(f.id) for f in registry.families() if f.template.official}


@pytest.mark.parametrize("family_id", sorted(k for k, v in PARITY.items() if v == "pass"))
def test_a_family_own_official_files_raise_no_conflict(reference_dir: Path, family_id: str) -> None:
    """No false alarm: the tokens and official template a family was checked against agree with it."""
    fam = registry.get(family_id)
    docs = {
        "config": {},
        "tokenizer_config": {
            "bos_token": fam.tokenizer.bos,
            "eos_token": fam.tokenizer.eos,
            "chat_template": load_official(fam.template.official, reference_dir),
        },
    }
    assert contradictions(fam, docs) == []


@pytest.mark.parametrize("family_id", sorted(k for k, v in PARITY.items() if v == "fail-prompt"))
def test_a_family_whose_format_misses_its_template_is_flagged(reference_dir: Path, family_id: str) -> None:
    """Where conformance found the format does not reproduce the official template, resolve says so too."""
    fam = registry.get(family_id)
    source = load_official(fam.template.official, reference_dir)
    docs = {
        "tokenizer_config": {
            "bos_token": fam.tokenizer.bos,
            "eos_token": fam.tokenizer.eos,
            "chat_template": source,
        }
    }
    assert any("chat template" in c for c in contradictions(fam, docs))


def test_another_family_template_is_a_conflict(reference_dir: Path) -> None:
    """QwQ's template (reasoning prompt) under Qwen2's tokens is not Qwen2.5's format."""
    fam = registry.get("qwen2")
    source = (reference_dir / "llama.cpp/models/templates/Qwen-QwQ-32B.jinja").read_text()
    docs = {"tokenizer_config": {"eos_token": fam.tokenizer.eos, "chat_template": source}}
    assert any("chat template" in c for c in contradictions(fam, docs))


CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def test_a_template_that_differs_only_without_a_system_turn_is_a_conflict() -> None:
    """Every conversation the model's template renders is compared, not the first: this ChatML template agrees
    with Qwen2.5's when a system turn is given, and writes another default system prompt when none is."""
    fam = registry.get("qwen2")
    default_system = (
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a cat.<|im_end|>\\n' }}{% endif %}"
    )
    docs = {"tokenizer_config": {"eos_token": fam.tokenizer.eos, "chat_template": default_system + CHATML}}
    assert any("chat template" in c for c in contradictions(fam, docs))


def _unknown_model(tmp_path: Path, arch: str, model_type: str) -> Path:
    """A tiny random model of `arch` (no family claims it) with a ChatML tokenizer and template."""
    import torch
    import transformers
    from transformers import AutoConfig

    from dayzero.sdk.tiny import tiny_tokenizer

    tok = tiny_tokenizer(registry.get("qwen2"), chat_template=CHATML)
    config = AutoConfig.for_model(
        model_type,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    folder = tmp_path / "my-model"
    getattr(transformers, arch)(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _recipe(tmp_path: Path, model: Path) -> dict:
    return {
        "name": "unverified",
        "model": {"id": str(model)},
        "data": {"datasets": ["demo_sft"], "max_samples": 4, "cutoff_len": 128},
        "method": {"stage": "sft", "adapter": "lora", "r": 4, "alpha": 8},
        "train": {
            "max_steps": 1,
            "batch_size": 2,
            "report_to": "none",
            "output_dir": str(tmp_path / "{name}"),
        },
        "export": {"enabled": False},
    }


def test_unknown_local_model_trains_as_unverified(tmp_path: Path) -> None:
    folder = _unknown_model(tmp_path, "ArceeForCausalLM", "arcee")
    assert not any("ArceeForCausalLM" in f.match.architectures for f in registry.families())
    result = sdk.run(_recipe(tmp_path, folder))
    plan = result.plan
    assert plan.model.matched_by == "draft" and plan.model.unverified
    assert "not in the registry" in plan.model.unverified[0]
    assert any(w.startswith("[UNVERIFIED]") for w in plan.warnings)
    assert "UNVERIFIED" in plan.render()
    # drafted facts come from the model's own files and class
    assert plan.template.end_of_turn == ["<|im_end|>"]
    assert set(plan.adapter.target_modules) >= {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert plan.model.model_class == "ArceeForCausalLM"
    assert len(result.losses) >= 1 and all(loss == loss for loss in result.losses)


def test_strict_refuses_an_unknown_model(tmp_path: Path) -> None:
    folder = _unknown_model(tmp_path, "ArceeForCausalLM", "arcee")
    with pytest.raises(RecipeError, match="--strict refuses"):
        sdk.compile(_recipe(tmp_path, folder), strict=True)


def test_contradicting_model_is_planned_with_its_own_stop_tokens(tmp_path: Path) -> None:
    """Llama's class and vocabulary size but ChatML tokens: `llama3` matches by config, and is refused."""
    folder = _unknown_model(tmp_path, "LlamaForCausalLM", "llama")
    config = json.loads((folder / "config.json").read_text())
    assert registry.resolve(folder).family.id == "llama3"
    assert not registry.resolve(folder).verified
    plan = sdk.compile(_recipe(tmp_path, folder))
    assert plan.model.matched_by == "draft"
    assert "contradict" in plan.model.unverified[0]
    assert plan.template.end_of_turn == ["<|im_end|>"] and plan.model.family != "llama3"
    assert config["architectures"] == ["LlamaForCausalLM"]
