"""Families added through `dayzero day0` from the reference data (conformance/day0_releases.py).

Each release's real files (tokens and template as the reference data holds them, config facts as the entry
records them) must resolve to its own family, verified; releases that share a class with an existing family
are told apart by `match.when`, and the overlap warning names the family they would otherwise match.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_helpers import scratch_registry

from dayzero import registry
from dayzero.conformance.day0 import overlaps
from dayzero.conformance.day0_releases import RELEASES, assemble
from dayzero.conformance.official import read_dir
from dayzero.registry import matching, store

ADDED = sorted(fid for fid in RELEASES if fid in registry.default().families)


@pytest.fixture(autouse=True)
def _forget_drafts():
    """Entries drafted on the fly live in the process registry: drop them so other tests see the bundled one."""
    reg = registry.default()
    formats = set(reg.formats)
    yield
    reg.drafts.clear()
    for fid in set(reg.formats) - formats:
        del reg.formats[fid]


@pytest.mark.parametrize("family_id", ADDED)
def test_release_files_resolve_to_their_family(reference_dir: Path, tmp_path: Path, family_id: str) -> None:
    folder = assemble(reference_dir, family_id, tmp_path / family_id)
    res = registry.resolve(folder)
    assert (res.family.id, res.matched_by) == (family_id, "config"), res.conflicts
    assert res.verified, res.conflicts
    assert res.family.template.official == RELEASES[family_id].official()


@pytest.mark.parametrize("family_id", ADDED)
def test_hub_ids_resolve(family_id: str) -> None:
    for ckpt in RELEASES[family_id].checkpoints:
        res = registry.resolve(ckpt["hf"])
        assert (res.family.id, res.matched_by) == (family_id, "hub_id")


@pytest.mark.parametrize(
    ("family_id", "shared_with"),
    [("kimi-k2", "deepseek-v3"), ("deepseek-llm", "llama3"), ("openchat", "mistral"), ("tinyllama", "llama2"),
     ("glm-edge", "glm4-chat"), ("h2o-danube2", "mistral"), ("llama3-0", "llama3"), ("deepseek-r1", "deepseek-v3"),
     ("mistral-v0.1", "mistral"), ("falcon3", "llama3")],
)
def test_a_release_sharing_a_class_is_warned_and_caught_without_its_family(
    reference_dir: Path, tmp_path: Path, family_id: str, shared_with: str
) -> None:
    """Without the new family, the release matches another family by config: day0 warns, resolve flags it."""
    if family_id not in ADDED:
        pytest.skip(f"{family_id} is not in the registry")
    root = scratch_registry(tmp_path)
    (root / f"{family_id}.yaml").unlink()  # its format stays: another family may use it (deepseek-v2 does)
    reg = store.load(root)
    folder = assemble(reference_dir, family_id, tmp_path / family_id)
    (warning,) = overlaps(reg, read_dir(folder))
    res = matching.resolve(reg, folder)
    assert res.family.id == shared_with and shared_with in warning
    assert not res.verified and res.conflicts  # the other family's tokens or template contradict the files


def test_falcon3_is_told_from_llama3_by_its_eos_and_llama3_files_stay_llama3(reference_dir: Path, tmp_path: Path) -> None:
    """Falcon3 is a LlamaForCausalLM: its `match.when` (eos <|endoftext|>, openvino.genai's row) claims its own
    files, and the Llama 3.1 row's files (eos <|eot_id|>, the same class) still resolve to llama3, verified."""
    from dayzero.conformance.release_files import openvino_entry, write_release

    assert registry.get("falcon3").match.when == {"tokenizer_config.eos_token": "<|endoftext|>"}
    falcon = registry.resolve(assemble(reference_dir, "falcon3", tmp_path / "falcon3"))
    assert (falcon.family.id, falcon.verified) == ("falcon3", True), falcon.conflicts
    entry = openvino_entry(reference_dir, "meta-llama/Llama-3.1-8B-Instruct")
    llama = registry.resolve(write_release(tmp_path / "llama31", tokens=entry, chat_template=entry["chat_template"],
                                           config={"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
    assert llama.family.id == "llama3" and llama.verified, llama.conflicts


@pytest.mark.parametrize(
    ("hub_id", "arch", "model_type"),
    [
        ("THUDM/chatglm3-6b", "ChatGLMModel", "chatglm"),
        ("internlm/internlm2-chat-7b", "InternLM2ForCausalLM", "internlm2"),
        ("LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct", "ExaoneForCausalLM", "exaone"),
    ],
)
def test_day0_refuses_remote_code_only_releases(
    reference_dir: Path, tmp_path: Path, hub_id: str, arch: str, model_type: str
) -> None:
    """No transformers class (the vendor ships it as `auto_map` code): day0 says so instead of drafting a
    made-up architecture, and names the hand-written remote-code family that covers the release
    (tests/test_remote_code_families.py)."""
    from dayzero.conformance.day0 import draft
    from dayzero.conformance.release_files import openvino_entry, write_release
    from dayzero.errors import NotSupportedError

    folder = write_release(
        tmp_path / "r",
        config={"architectures": [arch], "model_type": model_type},
        tokens=openvino_entry(reference_dir, hub_id),
    )
    family = {"ChatGLMModel": "chatglm3", "InternLM2ForCausalLM": "internlm2", "ExaoneForCausalLM": "exaone3.5"}[arch]
    with pytest.raises(NotSupportedError, match=f"no class '{arch}'.*remote-code famil.*{family}"):
        draft(folder / "config.json", folder / "tokenizer_config.json", "remote")


# Round 4: hub ids of openvino.genai's table added as checkpoints of an existing family. Each row's own template
# and tokens must render and end as that checkpoint does (overrides included), with and without a system turn.
TABLE_CHECKPOINTS = [
    ("meta-llama/Meta-Llama-3.1-8B-Instruct", "llama3"),
    ("Qwen/Qwen1.5-4B-Chat", "qwen2"),
    ("CohereLabs/aya-23-8B", "command-r"),
    ("CohereLabs/aya-23-35B", "command-r"),
    ("CohereLabs/aya-expanse-8b", "command-r"),
    ("ibm-granite/granite-3.1-3b-a800m-instruct", "granite3-moe"),
    ("deepseek-ai/deepseek-math-7b-rl", "deepseek-llm"),
    ("codellama/CodeLlama-34b-Instruct-hf", "llama2"),
]
CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi there"},
    {"role": "user", "content": "Who are you?"},
]


@pytest.mark.parametrize(("hub_id", "family_id"), TABLE_CHECKPOINTS)
def test_table_rows_added_as_checkpoints_render_as_their_checkpoint(
    reference_dir: Path, hub_id: str, family_id: str
) -> None:
    from dayzero.conformance.release_files import OPENVINO_TABLE, openvino_entry
    from dayzero.sdk.templates import TEST_DATE, ChatTemplate
    from dayzero.sdk.templates.parity import load_official

    res = registry.resolve(hub_id)
    assert (res.family.id, res.matched_by) == (family_id, "hub_id")
    row = openvino_entry(reference_dir, hub_id)
    fam, over = res.family, res.checkpoint.overrides
    assert row["bos_token"] == fam.tokenizer.bos
    assert row["eos_token"] in {over.eos or fam.tokenizer.eos, *fam.tokenizer.end_of_turn}
    source = load_official(f"{OPENVINO_TABLE}#{hub_id}", reference_dir)  # the default of named templates
    official = ChatTemplate.from_official(source, None, row["bos_token"] or "", row["eos_token"], date=TEST_DATE)
    ours = ChatTemplate.for_family(fam, hub_id, date=TEST_DATE)
    for conversation in (CONVERSATION, CONVERSATION[1:]):
        for prompt in (True, False):
            want = official.render(conversation, add_generation_prompt=prompt)
            assert ours.render(conversation, add_generation_prompt=prompt) == want


@pytest.mark.parametrize(
    ("hub_id", "family_id"),
    [("microsoft/Phi-3-medium-128k-instruct", "phi3"), ("Qwen/Qwen1.5-4B-Chat", "qwen2")],
)
def test_a_table_row_that_differs_from_the_family_default_is_not_silently_it(
    reference_dir: Path, hub_id: str, family_id: str
) -> None:
    """Phi-3-medium-128k's row drops the system turn (phi3's format writes it): not added. Qwen1.5's default system
    is not Qwen2.5's: only its checkpoint override renders it (without it, the render differs)."""
    from dayzero.conformance.release_files import OPENVINO_TABLE, openvino_entry
    from dayzero.sdk.templates import TEST_DATE, ChatTemplate
    from dayzero.sdk.templates.parity import load_official

    row = openvino_entry(reference_dir, hub_id)
    source = load_official(f"{OPENVINO_TABLE}#{hub_id}", reference_dir)  # the default of named templates
    official = ChatTemplate.from_official(source, None, row["bos_token"] or "", row["eos_token"], date=TEST_DATE)
    ours = ChatTemplate.for_family(registry.get(family_id), date=TEST_DATE)
    renders = [(ours.render(c, add_generation_prompt=True), official.render(c, add_generation_prompt=True))
               for c in (CONVERSATION, CONVERSATION[1:])]
    assert any(a != b for a, b in renders)


@pytest.mark.parametrize(
    "family_id", ["llama2", "llama3", "mistral", "zephyr", "glm4-chat", "deepseek-v3", "smollm2", "yi"]
)
def test_families_sharing_a_class_with_new_ones_still_claim_their_own_files(
    reference_dir: Path, tmp_path: Path, family_id: str
) -> None:
    """A folder with the family's own class, vocabulary, tokens and official template (none for glm4-chat and
    smollm2: the reference data has none) is still that family: the new `when`s name the new releases' own
    templates, so they do not capture these."""
    from dayzero.conformance.release_files import write_release
    from dayzero.sdk.templates.parity import load_official

    fam = registry.get(family_id)
    config = {"architectures": [fam.architecture.model_class], "model_type": fam.architecture.model_type}
    if fam.tokenizer.vocab_size:
        config["vocab_size"] = fam.tokenizer.vocab_size
    tokens = {"bos_token": fam.tokenizer.bos, "eos_token": fam.tokenizer.eos}
    if fam.template.official:
        tokens["chat_template"] = load_official(fam.template.official, reference_dir)
    res = registry.resolve(write_release(tmp_path / family_id, config=config, tokens=tokens))
    assert (res.family.id, res.matched_by) == (family_id, "config")
