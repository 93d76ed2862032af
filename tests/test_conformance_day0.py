"""`dayzero day0` end to end on DeepSeek-R1-Distill-Qwen-32B's release files, checked against the
hand-made family entry (written independently from the same files by the families helper)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dayzero import registry
from dayzero.conformance.probe import probe_format
from dayzero.conformance.result import Status
from dayzero.registry.schema import Family

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drafted(reference_dir: Path, tmp_path_factory):
    from dayzero.conformance.day0 import draft_and_check

    release = reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B"
    out = tmp_path_factory.mktemp("day0")
    result = draft_and_check(config=release / "config.json", tokenizer_config=release / "tokenizer_config.json",
                             generation_config=release / "generation_config.json", family_id="r1-day0",
                             out_dir=out / "families", report_dir=out / "reports")
    return result, out


def test_draft_validates_and_is_experimental(drafted) -> None:
    result, out = drafted
    data = yaml.safe_load(result.family_path.read_text(encoding="utf-8"))
    fam = Family.model_validate(data)
    assert fam.status == "experimental" and fam.revision == 1
    assert "drafted by dayzero day0" in fam.changelog[0]
    assert result.format_path is None  # the probed slots equal an existing format: reused, not duplicated
    assert "r1-day0" not in registry.default().families  # not added to the bundled registry
    assert (out / "reports" / "r1-day0.json").is_file()


def test_draft_agrees_with_hand_made_entry(drafted, reference_dir: Path) -> None:
    result, _ = drafted
    fam = Family.model_validate(yaml.safe_load(result.family_path.read_text(encoding="utf-8")))
    hand = registry.get("deepseek-r1-distill")
    a, b = fam.architecture, hand.architecture
    assert (a.model_class, a.model_type, a.layers, a.embeddings, a.lm_head, a.tie_word_embeddings) == \
        (b.model_class, b.model_type, b.layers, b.embeddings, b.lm_head, b.tie_word_embeddings)
    assert a.attention == b.attention and a.mlp == b.mlp
    assert sorted(a.lora.all_linear) == sorted(b.lora.all_linear)
    t, h = fam.tokenizer, hand.tokenizer
    assert (t.bos, t.eos, t.pad, t.add_bos, t.end_of_turn) == (h.bos, h.eos, h.pad, h.add_bos, h.end_of_turn)
    # every special literal of the January template is in the hand-made list (which adds <think>,
    # written by the later revision's generation prompt)
    assert set(t.special) <= set(h.special) and len(t.special) >= 12
    assert fam.template.format == hand.template.format
    assert fam.template.reasoning.mode == hand.template.reasoning.mode == "always"
    assert fam.template.reasoning.close == hand.template.reasoning.close
    assert fam.serving.vllm_architecture == hand.serving.vllm_architecture
    assert fam.serving.generation_eos == hand.serving.generation_eos
    # day0 drafts bos and eos (what reviews added by hand); the hand entry names bos only. Drafted next to the
    # bundled deepseek-r1-distill (the same class and tokens), the release's own template is named too: nothing
    # else tells the two apart
    assert hand.match.when.items() <= fam.match.when.items()
    assert set(fam.match.when) == {"tokenizer_config.bos_token", "tokenizer_config.eos_token",
                                   "tokenizer_config.chat_template"}
    release = json.loads((reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B" / "tokenizer_config.json").read_text())
    assert fam.match.when["tokenizer_config.chat_template"] == release["chat_template"]


def test_draft_passes_conformance_on_a_tiny_instance(drafted) -> None:
    result, _ = drafted
    by_id = {c.id: c for c in result.report.checks}
    failing = {cid: c.summary for cid, c in by_id.items()
               if c.status in (Status.failed, Status.error) and c.severity == "error"}
    assert not failing
    for cid in ("template.parity", "architecture.modules", "train.lora", "serve.chat", "tokenizer.official"):
        assert by_id[cid].status == Status.passed, (cid, by_id[cid].summary)


def test_probe_reads_chatml_and_default_system(reference_dir: Path) -> None:
    src = (reference_dir / "llama.cpp/models/templates/Qwen-Qwen2.5-7B-Instruct.jinja").read_text(encoding="utf-8")
    p = probe_format(src, eos_token="<|im_end|>")
    fmt = registry.default().formats["chatml"]  # hand-written ChatML format: an independent source
    assert (p.user, p.assistant, p.system, p.generation_prompt, p.end_of_turn) == \
        (fmt.user, fmt.assistant, fmt.system, fmt.generation_prompt, fmt.end_of_turn)
    assert p.default_system == registry.get("qwen2").template.default_system


def test_day0_cli_refuses_an_existing_id(reference_dir: Path, tmp_path) -> None:
    release = reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B"
    out = subprocess.run([sys.executable, "-m", "dayzero", "day0", "--config", str(release / "config.json"),
                          "--tokenizer-config", str(release / "tokenizer_config.json"), "--id", "qwen2",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "already exists" in out.stderr
    assert not list(tmp_path.iterdir())


def test_tokenizer_kind_is_read_from_the_tokenizers_own_files(tmp_path: Path) -> None:
    from dayzero.conformance.tokenizer_kind import kind_from_tokenizer_json, tokenizer_kind

    # tokenizer.json shapes as the libraries write them: GPT-2/Qwen2 (ByteLevel pre-tokenizer), Llama 2
    # (BPE with byte_fallback, Metaspace-style normalizer), T5 (Unigram)
    assert kind_from_tokenizer_json({"model": {"type": "BPE"}, "pre_tokenizer": {"type": "ByteLevel"}}) == "byte_level_bpe"
    assert kind_from_tokenizer_json({"model": {"type": "BPE", "byte_fallback": True},
                                     "normalizer": {"type": "Sequence", "normalizers": [
                                         {"type": "Prepend", "prepend": "▁"},
                                         {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}}) == "sentencepiece"
    assert kind_from_tokenizer_json({"model": {"type": "Unigram"}}) == "sentencepiece"
    # a large vocabulary with a SentencePiece model file is SentencePiece, whatever the class is called
    (tmp_path / "tokenizer.model").write_bytes(b"")
    assert tokenizer_kind(tmp_path, {"tokenizer_class": "SomeNewTokenizer"}, 256_000) == ("sentencepiece", False)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert tokenizer_kind(empty, {}, 151_000) == ("byte_level_bpe", True)  # nothing to read: guessed


def test_day0_never_overwrites_a_file_it_did_not_draft(reference_dir: Path, tmp_path: Path) -> None:
    """A `<id>.yaml` of someone else's in the --out folder is refused and left as it was; an earlier draft
    (day0's own header) is replaced."""
    from dayzero.conformance.day0 import draft_and_check
    from dayzero.errors import ConformanceError

    release = reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B"
    out = tmp_path / "families"
    out.mkdir()
    theirs = out / "r1-mine.yaml"
    theirs.write_text("# my own notes\nkeep: me\n", encoding="utf-8")
    kwargs = dict(config=release / "config.json", tokenizer_config=release / "tokenizer_config.json",
                  generation_config=release / "generation_config.json", out_dir=out, report_dir=tmp_path / "r")
    with pytest.raises(ConformanceError, match="not a `dayzero day0` draft"):
        draft_and_check(family_id="r1-mine", **kwargs)
    assert theirs.read_text(encoding="utf-8") == "# my own notes\nkeep: me\n"
    (out / "r1-again.yaml").write_text("# Drafted by `dayzero day0` from an older run\n", encoding="utf-8")
    result = draft_and_check(family_id="r1-again", **kwargs)
    assert "revision: 1" in result.family_path.read_text(encoding="utf-8")
