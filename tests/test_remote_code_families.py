"""Families whose class is the vendor's remote code (config.json `auto_map`): ChatGLM3, GLM-4-9B-Chat (original),
InternLM2 / 2.5, Baichuan2, EXAONE 3.5.

They resolve (by hub id, and by a local folder holding their real config facts) without anything turning
`trust_remote_code` on; a plan refuses them unless the recipe asks for it by name; nothing builds a tiny instance
of a class dayzero does not have, and conformance reports the checks that walk the class as not run. Config facts
below are the vendors' own files, cited where they were read (the same sources as the families'
`verified_against`); templates and tokens are openvino.genai's table under shared/reference.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from registry_helpers import scratch_registry

from dayzero import registry
from dayzero.conformance.runner import run_family
from dayzero.errors import NotSupportedError, RecipeError, RegistryError
from dayzero.registry import store
from dayzero.registry.schema import Family
from dayzero.sdk import compile as compile_plan
from dayzero.sdk.templates import ChatTemplate, parity
from dayzero.sdk.templates.parity import load_official
from dayzero.sdk.tiny import REMOTE_CODE_NOT_RUN, save_tiny, tiny_model

REMOTE = ["baichuan2", "chatglm3", "exaone3.5", "glm4-chat-remote", "internlm2"]

# Real hub ids of each family (the ids LLaMA-Factory and ms-swift register for them).
HUB_IDS = {
    "chatglm3": ["THUDM/chatglm3-6b", "THUDM/chatglm3-6b-base", "ZhipuAI/chatglm3-6b"],
    "glm4-chat-remote": ["THUDM/glm-4-9b-chat", "THUDM/glm-4-9b-chat-1m", "THUDM/glm-4-9b"],
    "internlm2": [
        "internlm/internlm2-chat-7b",
        "internlm/internlm2_5-7b-chat",
        "internlm/internlm2_5-20b-chat",
        "Shanghai_AI_Laboratory/internlm2_5-7b-chat",
    ],
    "baichuan2": [
        "baichuan-inc/Baichuan2-7B-Chat",
        "baichuan-inc/Baichuan2-13B-Chat",
        "baichuan-inc/Baichuan2-7B-Base",
    ],
    "exaone3.5": [
        "LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct",
        "LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct",
        "LGAI-EXAONE/EXAONE-3.5-32B-Instruct",
    ],
}

_CHATGLM_AUTO_MAP = {
    "AutoConfig": "configuration_chatglm.ChatGLMConfig",
    "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
    "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
    "AutoModelForSeq2SeqLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
    "AutoModelForSequenceClassification": "modeling_chatglm.ChatGLMForSequenceClassification",
}

# config.json facts as the releases ship them:
CONFIGS: dict[str, dict[str, Any]] = {
    # THUDM/chatglm3-6b config.json (czk1997/chatglm3-copy@456aa875, a git copy of the hub repo)
    "chatglm3": {
        "_name_or_path": "THUDM/chatglm3-6b",
        "model_type": "chatglm",
        "architectures": ["ChatGLMModel"],
        "auto_map": _CHATGLM_AUTO_MAP,
        "padded_vocab_size": 65024,
        "num_layers": 28,
        "hidden_size": 4096,
        "multi_query_group_num": 2,
        "tie_word_embeddings": False,
        "eos_token_id": 2,
        "pad_token_id": 0,
    },
    # THUDM/glm-4-9b-chat config.json as LLaMA-Factory printed it on load (auto_map keys carry the hub repo prefix)
    "glm4-chat-remote": {
        "_name_or_path": "THUDM/glm-4-9b-chat",
        "model_type": "chatglm",
        "architectures": ["ChatGLMModel"],
        "auto_map": {k: f"THUDM/glm-4-9b-chat--{v}" for k, v in _CHATGLM_AUTO_MAP.items()},
        "padded_vocab_size": 151552,
        "vocab_size": 151552,
        "num_layers": 40,
        "eos_token_id": [151329, 151336, 151338],
        "pad_token_id": 151329,
        "tie_word_embeddings": False,
    },
    # internlm2 / 2.5 config facts (model_type, vocabulary and rope block as the 7B releases ship them)
    "internlm2": {
        "architectures": ["InternLM2ForCausalLM"],
        "model_type": "internlm2",
        "vocab_size": 92544,
        "auto_map": {
            "AutoConfig": "configuration_internlm2.InternLM2Config",
            "AutoModel": "modeling_internlm2.InternLM2ForCausalLM",
            "AutoModelForCausalLM": "modeling_internlm2.InternLM2ForCausalLM",
        },
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 2,
        "tie_word_embeddings": False,
        "rope_scaling": {"type": "dynamic", "factor": 2.0},
    },
    # baichuan-inc/Baichuan2-13B-Chat config.json (jrd77/Baichuan2-13B-Chat@d022d726)
    "baichuan2": {
        "architectures": ["BaichuanForCausalLM"],
        "model_type": "baichuan",
        "vocab_size": 125696,
        "auto_map": {
            "AutoConfig": "configuration_baichuan.BaichuanConfig",
            "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM",
        },
        "tokenizer_class": "BaichuanTokenizer",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
        "tie_word_embeddings": False,
    },
    # LGAI-EXAONE/EXAONE-3.0-7.8B-Instruct config (printed in a model card; EXAONE 3.5 ships the same class)
    "exaone3.5": {
        "architectures": ["ExaoneForCausalLM"],
        "model_type": "exaone",
        "vocab_size": 102400,
        "auto_map": {
            "AutoConfig": "configuration_exaone.ExaoneConfig",
            "AutoModelForCausalLM": "modeling_exaone.ExaoneForCausalLM",
            "AutoModelForSequenceClassification": "modeling_exaone.ExaoneForSequenceClassification",
        },
        "bos_token_id": 1,
        "eos_token_id": 361,
        "pad_token_id": 0,
        "tie_word_embeddings": False,
    },
}

# tokenizer_config.json facts: openvino.genai's table entry (tokens and template), or the vendor's file (Baichuan2's
# has no chat template; its tokens are AddedToken objects).
OPENVINO = {
    "chatglm3": "THUDM/chatglm3-6b",
    "glm4-chat-remote": "THUDM/glm-4-9b-chat",
    "internlm2": "internlm/internlm2-chat-7b",
    "exaone3.5": "LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct",
}
BAICHUAN2_TOKENIZER_CONFIG = {
    "add_bos_token": False,
    "add_eos_token": False,
    "auto_map": {"AutoTokenizer": ["tokenization_baichuan.BaichuanTokenizer", None]},
    "bos_token": {"__type": "AddedToken", "content": "<s>"},
    "eos_token": {"__type": "AddedToken", "content": "</s>"},
    "pad_token": {"__type": "AddedToken", "content": "<unk>"},
    "unk_token": {"__type": "AddedToken", "content": "<unk>"},
    "tokenizer_class": "BaichuanTokenizer",
}


def _openvino(reference_dir: Path, hub_id: str) -> dict[str, Any]:
    table = json.loads(
        (reference_dir / "openvino.genai" / "tokenizer-configs.json").read_text(encoding="utf-8")
    )
    return table["models"][hub_id]


def _release(reference_dir: Path, family_id: str, folder: Path) -> Path:
    """A model folder with the release's config.json and tokenizer_config.json (no weights, no code)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(CONFIGS[family_id]), encoding="utf-8")
    tcfg = (
        BAICHUAN2_TOKENIZER_CONFIG
        if family_id == "baichuan2"
        else {k: v for k, v in _openvino(reference_dir, OPENVINO[family_id]).items() if v is not None}
    )
    (folder / "tokenizer_config.json").write_text(json.dumps(tcfg), encoding="utf-8")
    return folder


def test_the_remote_code_families_are_in_the_registry_and_experimental() -> None:
    for fid in REMOTE:
        fam = registry.get(fid)
        assert fam.architecture.remote_code is not None and fam.status == "experimental"
    natives = [f.id for f in registry.families() if f.architecture.remote_code is None]
    assert "glm4-chat" in natives  # the -hf release keeps its transformers class


@pytest.mark.parametrize("family_id", REMOTE)
def test_real_hub_ids_resolve(family_id: str) -> None:
    for hub_id in HUB_IDS[family_id]:
        res = registry.resolve(hub_id)
        assert (res.family.id, res.matched_by) == (family_id, "hub_id"), hub_id


@pytest.mark.parametrize("family_id", REMOTE)
def test_a_local_folder_with_the_real_config_resolves_verified(
    reference_dir: Path, tmp_path: Path, family_id: str
) -> None:
    res = registry.resolve(_release(reference_dir, family_id, tmp_path / family_id))
    assert (res.family.id, res.matched_by) == (family_id, "config")
    assert res.verified, res.conflicts


def test_chatglm3_and_glm4_are_told_apart_by_their_padded_vocabulary(
    reference_dir: Path, tmp_path: Path
) -> None:
    """Same class and model_type (ChatGLMModel / chatglm): `when: config.padded_vocab_size` decides."""
    assert registry.resolve(CONFIGS["chatglm3"]).family.id == "chatglm3"
    assert registry.resolve(CONFIGS["glm4-chat-remote"]).family.id == "glm4-chat-remote"
    other = {**CONFIGS["chatglm3"], "padded_vocab_size": 130528}  # a vocabulary neither release has
    with pytest.raises(RegistryError, match="none of their `when` conditions hold"):
        registry.resolve(other)


def test_auto_map_classes_are_the_releases(reference_dir: Path) -> None:
    """The entry's auto_map is the one the release's config.json ships (hub prefixes aside)."""
    for fid, cfg in CONFIGS.items():
        shipped = {k: v.split("--", 1)[-1] for k, v in cfg["auto_map"].items()}
        rc = registry.get(fid).architecture.remote_code
        assert rc is not None and rc.auto_map == shipped, fid


@pytest.mark.parametrize("family_id", sorted(OPENVINO))
def test_template_parity_with_the_reference_entry(reference_dir: Path, family_id: str) -> None:
    fam = registry.get(family_id)
    source = load_official(fam.template.official, reference_dir)
    assert source == _openvino(reference_dir, OPENVINO[family_id])["chat_template"]
    results = parity.check(ChatTemplate.for_family(fam), source)
    assert results and all(r.ok for r in results), [(r.case, r.status) for r in results if not r.ok]


def test_exaone_renders_the_reference_bytes(reference_dir: Path) -> None:
    """A hand-worked case of the EXAONE 3.5 template: no system message -> an empty system turn first."""
    msgs = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    text = ChatTemplate.for_family(registry.get("exaone3.5")).render(msgs, add_generation_prompt=True)
    assert (
        text
        == "[|system|][|endofturn|]\n[|user|]Hi\n[|assistant|]Hello[|endofturn|]\n[|user|]Bye\n[|assistant|]"
    )


def test_baichuan2_has_no_official_template_and_its_report_says_so() -> None:
    fam = registry.get("baichuan2")
    assert fam.template.official is None
    report = run_family("baichuan2", only=["template.parity"], reference_dir=None)
    (result,) = report.checks
    assert result.status.value == "skip" and "official chat template" in result.summary


# --- trust_remote_code: asked for by name, never turned on ------------------------------------------------------------


def _recipe(model: dict[str, Any]) -> dict[str, Any]:
    return {"name": "rc", "model": model, "data": {"datasets": ["demo_sft"]}, "export": {"enabled": False}}


@pytest.mark.parametrize(
    "hub_id",
    [
        "THUDM/chatglm3-6b",
        "internlm/internlm2_5-7b-chat",
        "baichuan-inc/Baichuan2-7B-Chat",
        "LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct",
        "THUDM/glm-4-9b-chat",
    ],
)
def test_a_plan_refuses_remote_code_unless_the_recipe_asks_for_it(hub_id: str) -> None:
    with pytest.raises(RecipeError, match=r"\[X002\].*`model.trust_remote_code: true`") as info:
        compile_plan(_recipe({"id": hub_id}), cuda=False)
    assert "\n" not in str(info.value)
    plan = compile_plan(_recipe({"id": hub_id, "trust_remote_code": True}), cuda=False)
    assert plan.model.trust_remote_code is True and plan.facts["family"]["remote_code"] is True
    # on because the recipe asked for it, and the plan says so
    assert any(w.startswith("[X001]") for w in plan.warnings)


def test_a_local_remote_code_folder_is_refused_without_the_flag(reference_dir: Path, tmp_path: Path) -> None:
    folder = _release(reference_dir, "internlm2", tmp_path / "internlm2")
    with pytest.raises(RecipeError, match=r"\[X002\]"):
        compile_plan(_recipe({"id": str(folder)}), cuda=False)
    plan = compile_plan(_recipe({"id": str(folder), "trust_remote_code": True}), cuda=False)
    assert (plan.model.family, plan.model.source, plan.model.trust_remote_code) == (
        "internlm2",
        "local",
        True,
    )
    assert plan.cost is None  # planning never imports the vendor's config class


def test_the_cli_refusal_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(_recipe({"id": "THUDM/chatglm3-6b"})), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "dayzero", "plan", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    )
    assert "trust_remote_code" in proc.stderr


def test_a_tiny_remote_code_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"\[X003\]"):
        compile_plan(_recipe({"id": "tiny:chatglm3", "trust_remote_code": True}), cuda=False)
    fam = registry.get("chatglm3")
    with pytest.raises(NotSupportedError, match="remote code"):
        tiny_model(fam)
    with pytest.raises(NotSupportedError, match="remote code"):
        save_tiny(fam, tmp_path / "m")
    assert not (tmp_path / "m").exists()


# --- conformance: not run, and failing on malformed data --------------------------------------------------------------


def test_conformance_reports_the_class_checks_as_not_run() -> None:
    report = run_family("internlm2", only=["architecture", "train", "export", "serve"])
    by_id = {r.id: r for r in report.checks}
    for cid in (
        "architecture.tiny-builds",
        "architecture.modules",
        "architecture.tied-embeddings",
        "train.lora",
        "train.full",
        "export.merged-logits",
        "serve.chat",
    ):
        assert (by_id[cid].status.value, by_id[cid].summary) == ("skip", REMOTE_CODE_NOT_RUN), cid
    assert by_id["architecture.remote-code"].status.value == "pass"
    assert not report.passed  # a skip keeps it from `supported`


def test_conformance_fails_a_malformed_remote_code_layout() -> None:
    reg = registry.default()
    fam = reg.get("baichuan2")
    arch = fam.architecture
    # Baichuan2's fused projection is W_pack: a q_proj target names no module of its layout
    bad_lora = arch.lora.model_copy(update={"attention": ["q_proj", "o_proj"]})
    broken = fam.model_copy(update={"architecture": arch.model_copy(update={"lora": bad_lora})})
    scratch = store.Registry(
        root=reg.root,
        version=reg.version,
        families={**reg.families, "baichuan2": broken},
        formats=reg.formats,
        rules=reg.rules,
        sources=reg.sources,
    )
    report = run_family("baichuan2", registry=scratch, only=["architecture.remote-code"])
    (result,) = report.checks
    assert result.status.value == "fail" and "['q_proj']" in result.summary


def _dump(family_id: str) -> dict[str, Any]:
    return registry.get(family_id).model_dump(mode="json", by_alias=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["architecture"].update({"class": "ChatGLMModel"}),
            "auto_map loads 'ChatGLMForConditionalGeneration'",
        ),
        (lambda d: d["architecture"].update({"tiny": {"hidden_size": 64}}), "no tiny instance"),
        (
            lambda d: d.update(
                {"verified_against": [e for e in d["verified_against"] if e["kind"] != "vendor-code"]}
            ),
            "needs a `vendor-code` entry",
        ),
        (lambda d: d.update({"status": "supported"}), "cannot be `supported`"),
        (
            lambda d: d["architecture"]["remote_code"].update(
                {"auto_map": {"AutoConfig": "configuration_chatglm.X"}}
            ),
            "neither AutoModelForCausalLM nor AutoModel",
        ),
        (
            lambda d: d["verified_against"][0].update({"ref": "czk1997/chatglm3-copy:modeling_chatglm.py"}),
            "owner/repo@<40-hex commit>:path",
        ),
    ],
)
def test_the_schema_refuses_malformed_remote_code(change: Any, message: str) -> None:
    data = _dump("chatglm3")
    change(data)
    with pytest.raises(ValidationError, match=message):
        Family.model_validate(data)


def test_a_bad_remote_code_file_fails_to_load_naming_file_and_field(tmp_path: Path) -> None:
    root = scratch_registry(tmp_path)
    path = root / "internlm2.yaml"
    path.write_text(
        path.read_text().replace("modeling_file: modeling_internlm2.py", "modeling_file: modeling internlm2")
    )
    with pytest.raises(RegistryError) as info:
        store.load(root).get("internlm2")
    assert "internlm2.yaml" in str(info.value) and "modeling_file" in str(info.value)


def test_transformers_families_dump_without_the_new_field() -> None:
    """Backwards compatible: a family without remote code hashes as before (no `remote_code: null` in its dump)."""
    assert "remote_code" not in _dump("qwen2")["architecture"]
    assert "remote_code" in _dump("chatglm3")["architecture"]


def test_the_matrix_and_family_pages_mark_remote_code() -> None:
    from dayzero.conformance.family_page import render_family_page
    from dayzero.conformance.matrix import render_matrix
    from dayzero.conformance.report import default_report_dir

    reg = registry.default()
    page = render_matrix(reg, default_report_dir())
    row = page.split('<tr id="chatglm3"', 1)[1].split("</tr>", 1)[0]
    assert "(remote code)" in row and "modeling_chatglm.py" in row
    assert "(remote code)" not in page.split('<tr id="qwen2"', 1)[1].split("</tr>", 1)[0]
    family_page = render_family_page(reg, "internlm2", None)
    assert 'id="remote-code"' in family_page and "trust_remote_code" in family_page


def test_internlm2_renders_the_huggingface_js_expected_case(reference_dir: Path) -> None:
    """huggingface.js's internlm2-chat-7b case (a later template revision: it adds eos after a final answer, which
    this case does not reach): our render equals its expected string."""
    doc = json.loads(
        (reference_dir / "huggingface.js" / "jinja-e2e-expected.json").read_text(encoding="utf-8")
    )
    case = next(c for c in doc["cases"] if c["name"] == "internlm/internlm2-chat-7b")
    data = case["data"]
    text = ChatTemplate.for_family(registry.get("internlm2")).render(
        data["messages"], add_generation_prompt=data["add_generation_prompt"]
    )
    assert text == case["target"]
