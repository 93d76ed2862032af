"""day0's probe on the two templates it used to refuse (round 5), and what it drafts for them.

Expected slots are read off the official templates by hand (openvino.genai's Falcon3-3B-Instruct row, llama.cpp's
Apertus-8B-Instruct.jinja), not pasted from the probe's output:
- Falcon3: `'<|assistant|>\\n' + content + eos_token + '\\n'`, and without the newline when `loop.last`;
- Apertus: `<|system_start|>` + system (or the dated default) + `<|system_end|>`, then the developer block, and
  `<|assistant_end|>` only when a next user turn opens.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from registry_helpers import scratch_registry

from dayzero import registry
from dayzero.conformance.day0 import open_final_deviations
from dayzero.conformance.parsers import vllm_parsers
from dayzero.conformance.probe import _common_suffix, probe_format
from dayzero.registry import store
from dayzero.registry.schema import ChatFormat
from dayzero.sdk.templates import TEST_DATE, ChatTemplate
from dayzero.sdk.templates.parity import load_official

FALCON3 = "openvino.genai/tokenizer-configs.json#tiiuae/Falcon3-3B-Instruct"
APERTUS = "llama.cpp-2026/models/templates/Apertus-8B-Instruct.jinja"
DEVELOPER = "<|developer_start|>Deliberation: disabled\nTool Capabilities: disabled<|developer_end|>"


def test_probe_reads_falcon3s_last_answer_without_its_newline(reference_dir: Path) -> None:
    p = probe_format(load_official(FALCON3, reference_dir), eos_token="<|endoftext|>")
    assert (p.system, p.user, p.assistant, p.generation_prompt, p.end_of_turn) == (
        "<|system|>\n{content}\n", "<|user|>\n{content}\n", "<|assistant|>\n{content}<|endoftext|>\n",
        "<|assistant|>\n", "<|endoftext|>")
    assert p.final_tail == "" and p.slots()["final_tail"] == ""
    assert (p.bos, p.system_support, p.default_system) == (False, "native", None)


def test_probe_splits_apertus_turns_and_dates_its_default_system(reference_dir: Path) -> None:
    p = probe_format(load_official(APERTUS, reference_dir), bos_token="<s>", eos_token="<|assistant_end|>")
    assert (p.user, p.assistant, p.generation_prompt, p.end_of_turn) == (
        "<|user_start|>{content}<|user_end|>", "<|assistant_start|>{content}<|assistant_end|>",
        "<|assistant_start|>", "<|assistant_end|>")
    assert p.system == "<|system_start|>{content}<|system_end|>" + DEVELOPER
    assert p.default_system == ("You are Apertus, a helpful assistant created by the SwissAI initiative.\n"
                                "Knowledge cutoff: 2024-04\nCurrent date: {date}")
    assert (p.bos, p.date_format, p.fixed_date, p.final_tail) == (True, "%Y-%m-%d", None, None)


def test_common_suffix_never_starts_inside_a_special_token() -> None:
    # `_end|><|user_start|>` is common to both, but cuts two different tokens in half
    assert _common_suffix("<|developer_end|><|user_start|>", "<|assistant_end|><|user_start|>") == "<|user_start|>"
    assert _common_suffix("<|user|>\n", "<|endoftext|>\n<|user|>\n") == "<|user|>\n"
    assert _common_suffix("ab", "cd") == ""


def test_final_tail_drops_only_the_last_answers_newline() -> None:
    fam = registry.get("falcon3")
    tpl = ChatTemplate.for_family(fam, date=TEST_DATE)
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Bye!"}]
    want = "<|user|>\nHi\n<|assistant|>\nHello!<|endoftext|>\n<|user|>\nBye\n<|assistant|>\nBye!<|endoftext|>"
    assert tpl.render(msgs) == want
    assert tpl.render(msgs[:3], add_generation_prompt=True) == want[: want.index("Bye\n") + 4] + "<|assistant|>\n"
    from dayzero.sdk.templates.sandbox import render_official

    assert render_official(tpl.to_jinja(), msgs, bos_token="", eos_token="<|endoftext|>", date=TEST_DATE) == want


def test_final_tail_needs_the_end_of_turn_in_the_slot() -> None:
    base = {"id": "x", "description": "x", "user": "U{content}", "assistant": "A{content}E\n",
            "generation_prompt": "A", "end_of_turn": "E", "system_support": "none", "final_tail": ""}
    assert ChatFormat.model_validate(base).final_tail == ""
    with pytest.raises(ValueError, match="final_tail"):
        ChatFormat.model_validate({**base, "assistant": "A{content}", "end_of_turn_in_slot": False})


def test_an_unset_final_tail_leaves_every_content_hash_as_it_was() -> None:
    """The new field is left out of the hash at its default: the lock and the recorded reports stay current."""
    reg = registry.default()
    fam = reg.families["qwen2"]
    fmt = reg.format_of(fam)
    assert "final_tail" not in store.without_new_defaults(fmt, fmt.model_dump(mode="json", by_alias=True))
    set_tail = fmt.model_copy(update={"final_tail": ""})
    assert store.family_hash(fam, set_tail) != store.family_hash(fam, fmt)


def test_day0_drafts_deviations_where_the_official_leaves_the_last_answer_open(
    reference_dir: Path, tmp_path: Path
) -> None:
    """Without its recorded deviations, apertus differs from its official template exactly in the cases that end
    on an answer; day0 finds those, and finds none for falcon3 (whose last answer is closed)."""
    root = scratch_registry(tmp_path)
    path = root / "apertus.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    recorded = [d["case"] for d in data["template"].pop("deviations")]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    reg = store.load(root)
    drafted = open_final_deviations(reg, "apertus", load_official(APERTUS, reference_dir))
    assert [d["case"] for d in drafted] == recorded == [
        "single", "system", "multi_turn", "unicode", "empty_content", "whitespace", "special_looking"]
    assert {d["behaviour"] for d in drafted} == {"differs"}
    assert open_final_deviations(registry.default(), "falcon3", load_official(FALCON3, reference_dir)) == []


def test_apertus_enable_thinking_names_no_reasoning_parser(reference_dir: Path) -> None:
    """`enable_thinking` alone is not Qwen3's switch: the table's qwen3 entry needs its </think> too."""
    assert vllm_parsers(load_official(APERTUS, reference_dir))["reasoning_parser"] is None
    qwen3 = registry.get("qwen3")
    assert vllm_parsers(load_official(qwen3.template.official or "", reference_dir))["reasoning_parser"] == "qwen3"


@pytest.mark.parametrize("family_id", ["falcon3", "apertus"])
def test_day0_drafts_the_reviewed_format_and_match_rules(reference_dir: Path, tmp_path: Path, family_id: str) -> None:
    """Drafted without the family (and its format) in the registry, day0 writes the slots and match rules the
    review kept: the format file was not hand-fixed."""
    from dayzero.conformance.day0 import draft
    from dayzero.conformance.day0_releases import assemble

    root = scratch_registry(tmp_path)
    (root / f"{family_id}.yaml").unlink()
    (root / "formats" / f"{family_id}.yaml").unlink()
    folder = assemble(reference_dir, family_id, tmp_path / "release")
    family, new_format, _ = draft(folder / "config.json", folder / "tokenizer_config.json", family_id,
                                  registry=store.load(root))
    reviewed = registry.default().formats[family_id]
    assert new_format is not None
    drafted = ChatFormat.model_validate({**new_format, "description": reviewed.description})
    assert drafted == reviewed
    bundled = registry.get(family_id)
    assert family["match"].get("when", {}) == bundled.match.when
    assert family["template"].get("default_system") == bundled.template.default_system
