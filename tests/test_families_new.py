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
    [("kimi-k2", "deepseek-v3"), ("deepseek-llm", "llama3"), ("openchat", "mistral")],
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


def test_falcon3_files_contradict_the_llama_family_they_match(reference_dir: Path, tmp_path: Path) -> None:
    """Falcon3 is a LlamaForCausalLM with its own tokens and template (openvino.genai's row) and no family yet:
    a config match alone would be `llama3`; its own files say otherwise, so it runs as unverified."""
    folder = assemble(reference_dir, "falcon3", tmp_path / "falcon3")
    res = registry.resolve(folder)
    if res.family.id == "falcon3":
        pytest.skip("falcon3 has a family now")
    assert res.family.id == "llama3" and not res.verified
    text = " | ".join(res.conflicts)
    assert "eos_token" in text and "chat template" in text


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
