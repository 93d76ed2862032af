"""Full conformance on representative families: train, export, serve really run on tiny instances."""

from __future__ import annotations

from pathlib import Path

import pytest

from dayzero.conformance.result import Status
from dayzero.conformance.runner import run_family

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def qwen2(reference_dir: Path):
    return run_family("qwen2", reference_dir=reference_dir)


def test_every_group_runs_on_qwen2(qwen2) -> None:
    groups = {c.group for c in qwen2.checks}
    assert groups == {"schema", "tokenizer", "architecture", "quantization", "template", "train", "export", "serve", "serving"}
    by_id = {c.id: c for c in qwen2.checks}
    for cid in ("template.parity", "template.token-parity", "template.end-of-turn-trained",
                "template.tool-call-roundtrip", "train.lora", "train.full", "export.merged-logits",
                "export.stop-set", "serve.chat", "serving.adapter-lint", "quantization.bnb-4bit-layout", "train.qlora"):
        assert by_id[cid].status == Status.passed, (cid, by_id[cid].summary)
    assert by_id["export.merged-logits"].evidence["adapter_changes_logits"] is True  # the parity is not vacuous
    # the official template's own capabilities are reported, never gating
    assert not by_id["template.capabilities-official"].blocking


def test_train_loss_falls_and_is_pinned(qwen2) -> None:
    ev = {c.id: c.evidence for c in qwen2.checks}
    for kind in ("train.lora", "train.full", "train.qlora"):
        assert ev[kind]["steps"] == 8
        assert ev[kind]["last_loss"] < ev[kind]["first_loss"]
    # random init over a ~512-token vocabulary: the first loss is close to ln(vocab) (independent estimate)
    import math

    assert abs(ev["train.lora"]["first_loss"] - math.log(512)) < 0.5


def test_serve_stops_at_end_of_turn(qwen2) -> None:
    ev = next(c for c in qwen2.checks if c.id == "serve.chat").evidence
    assert ev["finish_reason"] == "stop"
    assert ev["content"].strip() == "Paris is lovely"
    assert "<|im_end|>" not in ev["content"]
    assert ev["stream"] == {"content": ev["content"], "finish_reason": "stop"}


def test_no_temporary_paths_in_report(qwen2) -> None:
    import json

    text = json.dumps(qwen2.content())
    assert "/tmp/" not in text and "dayzero-conf-" not in text


def test_pinned_first_loss_mismatch_fails(qwen2, reference_dir: Path) -> None:
    real = next(c for c in qwen2.checks if c.id == "train.lora").evidence["first_loss"]
    facts = qwen2.family_sha256
    previous = {"family_sha256": facts,
                "checks": [{"id": "train.lora", "evidence": {"first_loss": round(real + 0.5, 4)}}]}
    rep = run_family("qwen2", previous=previous, only=["train.lora"])
    assert rep.checks[0].status == Status.failed
    assert "pinned" in rep.checks[0].summary
    same = {"family_sha256": facts, "checks": [{"id": "train.lora", "evidence": {"first_loss": real}}]}
    rep = run_family("qwen2", previous=same, only=["train.lora"])
    assert rep.checks[0].status == Status.passed
    # a report made from other facts pins nothing (the tokens trained on differ)
    other = {**previous, "family_sha256": "0" * 64}
    rep = run_family("qwen2", previous=other, only=["train.lora"])
    assert rep.checks[0].status == Status.passed


def test_release_files_of_r1_distill(reference_dir: Path) -> None:
    from dayzero.conformance.official import read_dir

    files = read_dir(reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B")
    rep = run_family("deepseek-r1-distill", official=files, reference_dir=reference_dir,
                     only=["tokenizer", "architecture", "template.parity"])
    by_id = {c.id: c for c in rep.checks}
    for cid in ("tokenizer.official", "tokenizer.generation-eos", "architecture.official-config",
                "architecture.tied-embeddings"):
        assert by_id[cid].status == Status.passed, (cid, by_id[cid].summary)
    assert by_id["template.parity"].status in (Status.passed, Status.failed)  # ran against the release's template
