"""day0's newer drafting steps: tokenizer kind from tokenizer.json, vLLM parsers from template markers,
the overlap warning, and reports written next to the draft."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from release_fixtures import r1_distill_llama_8b

from dayzero import registry
from dayzero.conformance.day0 import overlaps
from dayzero.conformance.official import read_dir
from dayzero.conformance.parsers import vllm_parsers
from dayzero.sdk.templates.parity import load_official

# Families whose hand-written parsers the marker table does not reproduce, and why (reported, not hidden).
PARSER_GAPS = {
    "deepseek-v3": "V3.1 uses deepseek_v31 / deepseek_v3; its markers are V3's and R1's",
    "falcon3": "the table gives hermes (<tool_call>), but Falcon3 writes a JSON list inside it, which hermes does not "
    "read, and the entry models no tools, so none is recorded",
    "gpt-oss": "harmony's tool calls are written as `to=` + name, with no literal marker for the table",
    "granite3": "drafted before the marker table: no parser recorded (the table gives granite)",
    "nemotron3": "the table gives qwen3 for `<think>`; vLLM registers nemotron_v3 for Nemotron 3 (Qwen3's format, "
    "reasoning and content swapped when thinking is off), which no marker tells apart",
    "qwen3-coder": "the table gives qwen3_coder, but the entry models no tools (its XML calls), so none is recorded",
}


@pytest.mark.parametrize(
    "family_id", sorted(f.id for f in registry.families() if f.template.official and f.id not in PARSER_GAPS)
)
def test_parsers_from_markers_match_the_hand_written_entries(reference_dir: Path, family_id: str) -> None:
    fam = registry.get(family_id)
    drafted = vllm_parsers(load_official(fam.template.official, reference_dir))
    assert drafted == {
        "tool_call_parser": fam.serving.tool_call_parser,
        "reasoning_parser": fam.serving.reasoning_parser,
    }


def test_overlap_with_an_existing_family_is_warned(reference_dir: Path, tmp_path: Path) -> None:
    files = read_dir(r1_distill_llama_8b(reference_dir, tmp_path / "r1"))
    (warning,) = overlaps(registry.default(), files)
    assert "deepseek-r1-distill-llama" in warning


def _tiny_ids(family_data: dict) -> dict:
    from dayzero.registry.schema import Family
    from dayzero.sdk.tiny import tiny_tokenizer

    tok = tiny_tokenizer(Family.model_validate(family_data))
    return {f"{k}_token_id": getattr(tok, f"{k}_token_id") for k in ("bos", "eos", "pad")}


def test_day0_writes_the_tiny_tokenizers_special_ids(reference_dir: Path, tmp_path: Path) -> None:
    """bos / eos / pad in `architecture.tiny` are the tiny tokenizer's, not a fixed 0/1/2 (last round fixed 11
    families by hand). Hand-worked: R1-Distill-Llama pads with eos (bos 0, eos 1, pad 1); a release without
    bos whose pad is its own token (Qwen2.5's table row: eos <|im_end|>, pad <|endoftext|>) gets None, 0, 1."""
    from dayzero.conformance.day0 import draft
    from dayzero.conformance.release_files import openvino_entry, write_release

    r1 = r1_distill_llama_8b(reference_dir, tmp_path / "r1")
    family, _, _ = draft(
        r1 / "config.json", r1 / "tokenizer_config.json", "r1-ids", r1 / "generation_config.json"
    )
    tiny = family["architecture"]["tiny"]
    assert (tiny["bos_token_id"], tiny["eos_token_id"], tiny["pad_token_id"]) == (0, 1, 1)
    assert "tokenizer.kind guessed" in family["changelog"][0]  # no tokenizer.json in these release files
    assert _tiny_ids(family) == {k: tiny[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id")}

    qwen = write_release(
        tmp_path / "qwen",
        config={"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"},
        tokens=openvino_entry(reference_dir, "Qwen/Qwen2.5-3B-Instruct"),
    )
    family, _, _ = draft(qwen / "config.json", qwen / "tokenizer_config.json", "qwen-ids")
    tiny = family["architecture"]["tiny"]
    assert (tiny["bos_token_id"], tiny["eos_token_id"], tiny["pad_token_id"]) == (None, 0, 1)
    assert _tiny_ids(family) == {k: tiny[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id")}


def _release(reference: Path, out: Path, hub_id: str, config: dict) -> Path:
    from dayzero.conformance.release_files import openvino_entry, write_release

    return write_release(out, config=config, tokens=openvino_entry(reference, hub_id))


LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}


def test_when_copies_a_sharing_familys_condition_that_holds_too(reference_dir: Path, tmp_path: Path) -> None:
    """Granite-Code's row (LlamaForCausalLM, vocab 49152, bos = eos = <|endoftext|>) also meets smollm2's
    `when` (vocab 49152): bos and eos alone would tie with it; with the vocabulary the draft refines it."""
    from dayzero.conformance.day0 import discriminator

    files = read_dir(_release(reference_dir, tmp_path / "g", "ibm-granite/granite-8b-code-instruct",
                              {**LLAMA, "vocab_size": 49152}))
    when = discriminator(registry.default(), files.config, {"bos": "<|endoftext|>", "eos": "<|endoftext|>"}, files)
    assert when == {"tokenizer_config.bos_token": "<|endoftext|>", "tokenizer_config.eos_token": "<|endoftext|>",
                    "config.vocab_size": 49152}


def test_when_names_the_template_where_tokens_tell_nothing_apart(reference_dir: Path, tmp_path: Path) -> None:
    """SOLAR-Instruct's row has Llama 2's bos, eos and vocabulary: only its own template, byte for byte, can
    tell it apart. R1-Distill-Llama keeps the old rule: its vocabulary suffices (DeepSeek-LLM: 102400)."""
    from dayzero.conformance.day0 import discriminator
    from dayzero.conformance.release_files import openvino_entry

    hub = "upstage/SOLAR-10.7B-Instruct-v1.0"
    files = read_dir(_release(reference_dir, tmp_path / "s", hub, {**LLAMA, "vocab_size": 32000}))
    when = discriminator(registry.default(), files.config, {"bos": "<s>", "eos": "</s>"}, files)
    assert when == {"tokenizer_config.bos_token": "<s>", "tokenizer_config.eos_token": "</s>", "config.vocab_size": 32000,
                    "tokenizer_config.chat_template": openvino_entry(reference_dir, hub)["chat_template"]}
    from registry_helpers import scratch_registry

    from dayzero.registry import store

    root = scratch_registry(tmp_path)
    (root / "deepseek-r1-distill-llama.yaml").unlink()  # drafted as on its release day, before its family
    r1 = read_dir(r1_distill_llama_8b(reference_dir, tmp_path / "r1"))
    tok = {"bos": r1.token("bos_token"), "eos": r1.token("eos_token")}
    assert discriminator(store.load(root), r1.config, tok, r1) == {
        "tokenizer_config.bos_token": "<｜begin▁of▁sentence｜>", "tokenizer_config.eos_token": "<｜end▁of▁sentence｜>",
        "config.vocab_size": 128256}


@pytest.mark.parametrize(("family_id", "after"), [("solar", ""), ("granite-code", "\n\n")])
def test_day0_refuses_a_template_that_never_ends_an_answer(
    reference_dir: Path, tmp_path: Path, family_id: str, after: str
) -> None:
    """SOLAR-Instruct writes `'### Assistant:\\n' + content`, Granite-Code `'Answer:\\n' + content + '\\n\\n'`:
    no token ends an answer, so day0 names that instead of drafting a format the registry refuses."""
    from dayzero.conformance.day0 import draft
    from dayzero.conformance.day0_releases import assemble
    from dayzero.errors import NotSupportedError

    folder = assemble(reference_dir, family_id, tmp_path / family_id)
    with pytest.raises(NotSupportedError, match=re.escape(f"no end of turn after an answer (after the content: {after!r}")):
        draft(folder / "config.json", folder / "tokenizer_config.json", family_id)


def test_a_format_is_reused_only_with_the_same_prefix(reference_dir: Path) -> None:
    """GLM-Edge's row writes GLM-4's turns without format glm4's `[gMASK]<sop>` prefix: not format glm4."""
    from dayzero.conformance.day0 import _format_id
    from dayzero.conformance.probe import probe_format
    from dayzero.conformance.release_files import openvino_entry

    entry = openvino_entry(reference_dir, "THUDM/glm-edge-4b-chat")
    probed = probe_format(entry["chat_template"], bos_token="", eos_token=entry["eos_token"])
    assert probed.slots()["user"] == registry.formats()["glm4"].user and not probed.prefix
    assert _format_id(registry.default(), probed, "glm-edge")[0] != "glm4"
