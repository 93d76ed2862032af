"""Conformance runner and reports: verdicts are data, skips are honest, hashes are deterministic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from registry_helpers import scratch_registry

from dayzero.conformance import checks as checks_pkg
from dayzero.conformance.checks.base import Check
from dayzero.conformance.official import read_dir
from dayzero.conformance.report import content_sha256, read_report, to_markdown, write
from dayzero.conformance.result import Severity, Status, Unavailable
from dayzero.conformance.runner import run_family
from dayzero.registry import store

FAST = ("schema", "tokenizer", "architecture")


@pytest.fixture(scope="module")
def qwen2_report(reference_dir: Path):
    return run_family("qwen2", reference_dir=reference_dir, only=FAST)


def test_fast_groups_pass_on_qwen2(qwen2_report) -> None:
    by_id = {c.id: c for c in qwen2_report.checks}
    assert by_id["schema.entry"].status == Status.passed
    assert by_id["architecture.tiny-builds"].status == Status.passed
    assert by_id["architecture.modules"].status == Status.passed
    assert by_id["tokenizer.tiny"].status == Status.passed
    # Qwen's GGUF vocabulary is not in the reference folder: n/a, not a pass
    assert by_id["tokenizer.reference-vectors"].status == Status.not_applicable
    assert not any(c.blocking for c in qwen2_report.checks)
    assert not qwen2_report.passed  # a partial run (--only) never counts as passing


def test_report_hash_is_deterministic_and_excludes_timings(qwen2_report, reference_dir: Path, tmp_path) -> None:
    again = run_family("qwen2", reference_dir=reference_dir, only=FAST)
    assert again.sha256 == qwen2_report.sha256
    json_path, md_path = write(again, tmp_path)
    data = read_report(json_path)
    assert data["sha256"] == again.sha256 == content_sha256(data)
    data["timings"]["total_s"] = 999.0
    assert content_sha256(data) == again.sha256
    data["checks"][0]["status"] = "fail"
    assert content_sha256(data) != again.sha256
    md = md_path.read_text(encoding="utf-8")
    for c in again.checks:
        assert f"`{c.id}`" in md
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_wrong_lora_target_fails_architecture_modules(tmp_path) -> None:
    root = scratch_registry(tmp_path)
    path = root / "qwen2.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("all-linear: [q_proj,", "all-linear: [qq_proj,"), encoding="utf-8")
    reg = store.load(root)
    rep = run_family("qwen2", registry=reg, only=["architecture.modules"])
    (result,) = rep.checks
    assert result.status == Status.failed
    assert "qq_proj" in result.summary


def test_tied_embeddings_against_official_config(reference_dir: Path, tmp_path) -> None:
    model = tmp_path / "release"
    shutil.copytree(reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B", model)
    only = ["architecture.tied-embeddings"]
    assert run_family("deepseek-r1-distill", official=read_dir(model), only=only).checks[0].status == Status.passed
    conf = json.loads((model / "config.json").read_text(encoding="utf-8"))
    assert conf["tie_word_embeddings"] is False  # the release's own value, which the entry must match
    conf["tie_word_embeddings"] = True
    (model / "config.json").write_text(json.dumps(conf), encoding="utf-8")
    result = run_family("deepseek-r1-distill", official=read_dir(model), only=only).checks[0]
    assert result.status == Status.failed and "tie_word_embeddings=True" in result.summary


def test_official_tokenizer_config_mismatch_fails(reference_dir: Path, tmp_path) -> None:
    src = reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B"
    model = tmp_path / "release"
    shutil.copytree(src, model)
    good = run_family("deepseek-r1-distill", official=read_dir(model), only=["tokenizer.official",
                                                                            "architecture.official-config"])
    assert [c.status for c in good.checks] == [Status.passed, Status.passed]
    cfg = json.loads((model / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg["eos_token"]["content"] = "<|im_end|>"
    (model / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    conf = json.loads((model / "config.json").read_text(encoding="utf-8"))
    conf["model_type"] = "llama"
    (model / "config.json").write_text(json.dumps(conf), encoding="utf-8")
    bad = run_family("deepseek-r1-distill", official=read_dir(model), only=["tokenizer.official",
                                                                           "architecture.official-config"])
    statuses = {c.id: c for c in bad.checks}
    assert statuses["tokenizer.official"].status == Status.failed
    assert "eos_token" in statuses["tokenizer.official"].summary
    assert statuses["architecture.official-config"].status == Status.failed


def test_unavailable_module_is_a_blocking_skip_and_crash_is_error(monkeypatch) -> None:
    def needs_missing(ctx):
        raise Unavailable("dayzero.sdk.nothing_here")

    def crashes(ctx):
        raise RuntimeError("boom")

    table = [Check("serve.fake", "fake", Severity.error, needs_missing),
             Check("serving.fake", "fake", Severity.warning, crashes)]
    monkeypatch.setattr(checks_pkg, "TABLE", table)
    rep = run_family("qwen2")
    skip, crash = rep.checks
    assert skip.status == Status.skipped and skip.summary == "not available: dayzero.sdk.nothing_here"
    assert skip.blocking
    assert crash.status == Status.error and "boom" in crash.summary
    assert not crash.blocking  # warning severity never gates
    assert not rep.passed
    assert "skip" in to_markdown(rep)


def test_reference_vectors_phi3_pass(reference_dir: Path) -> None:
    pytest.importorskip("gguf")
    rep = run_family("phi3", reference_dir=reference_dir, only=["tokenizer.reference-vectors"])
    (result,) = rep.checks
    assert result.status == Status.passed, result.summary
    # the .out file has one line per .inp case (46 here); independent count from the files themselves
    inp = (reference_dir / "llama.cpp/models/ggml-vocab-phi-3.gguf.inp").read_text(encoding="utf-8")
    assert result.evidence["vectors"] == inp.count("\n__ggml_vocab_test__\n")


def test_fetch_reads_small_files_from_an_offline_hub_cache(tmp_path, reference_dir: Path, monkeypatch) -> None:
    """The real `hf_hub_download` path, served from a hub cache laid out as huggingface_hub writes it."""
    from dayzero.conformance.official import fetch, load

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "cache" / "models--acme--r1-mini"
    snap = repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(snap.name, encoding="utf-8")
    release = reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B"
    for name in ("config.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(release / name, snap / name)
    files = fetch("acme/r1-mini", cache_dir=tmp_path / "cache")
    assert files.source == "hf:acme/r1-mini"
    assert files.config["architectures"] == ["Qwen2ForCausalLM"]
    assert files.token("eos_token") == "<｜end▁of▁sentence｜>"
    assert files.chat_template and "<｜Assistant｜>" in files.chat_template
    assert load(release).config == files.config  # a local directory reads the same facts


def test_fetch_of_an_unknown_repo_is_one_clear_error(tmp_path, monkeypatch) -> None:
    from dayzero.conformance.official import fetch
    from dayzero.errors import ConformanceError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConformanceError, match=r"could not fetch any of config\.json"):
        fetch("acme/does-not-exist", cache_dir=tmp_path)


def test_unknown_skip_module_fails(tmp_path) -> None:
    root = scratch_registry(tmp_path)
    path = root / "mixtral.yaml"
    text = path.read_text(encoding="utf-8")
    assert "skip_modules: [lm_head, gate]" in text
    path.write_text(text.replace("skip_modules: [lm_head, gate]", "skip_modules: [lm_head, routr]"), encoding="utf-8")
    (result,) = run_family("mixtral", registry=store.load(root), only=["architecture.skip-modules"]).checks
    assert result.status == Status.failed and "routr" in result.summary


def test_a_partial_run_folds_into_the_full_report_it_rechecks(qwen2_report, reference_dir: Path, tmp_path) -> None:
    """`--only X` replaces X's rows in a full report of the same family content; it never leaves a report of
    one check where a full one was, and a report of other content is kept, the partial run written beside it."""
    full = json.loads((write(qwen2_report, tmp_path)[0]).read_text(encoding="utf-8"))
    full["partial"] = False  # as if every check had run (FAST stands for the full table here)
    full["checks"][0]["summary"] = "the last full run's own words"
    tok = next(c for c in full["checks"] if c["group"] == "tokenizer")
    tok["summary"] = "stale words the re-run replaces"
    (tmp_path / "qwen2.json").write_text(json.dumps(full), encoding="utf-8")
    merged = run_family("qwen2", reference_dir=reference_dir, report_dir=tmp_path, only=["tokenizer"])
    assert not merged.partial
    assert [c.id for c in merged.checks] == [c.id for c in qwen2_report.checks]
    kept = {c.id: c for c in merged.checks}
    assert kept[full["checks"][0]["id"]].summary == "the last full run's own words"  # not re-run: kept
    assert kept[tok["id"]].summary != "stale words the re-run replaces"  # re-run: replaced

    full["family_sha256"] = "0" * 64  # the report checked other content: nothing may be mixed in
    (tmp_path / "qwen2.json").write_text(json.dumps(full), encoding="utf-8")
    other = run_family("qwen2", reference_dir=reference_dir, report_dir=tmp_path, only=["tokenizer"])
    assert other.partial and {c.group for c in other.checks} == {"tokenizer"}
    json_path, _ = write(other, tmp_path)
    assert json_path.name == "qwen2.partial.json"
    assert json.loads((tmp_path / "qwen2.json").read_text(encoding="utf-8")) == full  # untouched
