"""`serve.vllm` results recorded apart from the report, merged into the matrix, stale when the facts change.

The check itself needs vLLM (conformance's `serve.vllm`, marker `vllm`); here its function is replaced
by one that passes or is unavailable, so the bookkeeping around it is tested in milliseconds: a run
where it ran writes `reports/vllm/<family>.json`, a later run without vLLM leaves that record alone,
the matrix shows the record's result (marked stale once a fact of the family changes), a hand-edited
record fails the gate, and the records committed in the repository are intact.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from registry_helpers import scratch_registry

from dayzero.conformance import checks as checks_pkg
from dayzero.conformance.checks.base import TABLE
from dayzero.conformance.gate import verify_recorded
from dayzero.conformance.matrix import render_matrix
from dayzero.conformance.report import default_report_dir, write
from dayzero.conformance.result import Outcome, Unavailable
from dayzero.conformance.runner import run_family
from dayzero.conformance.vllm_record import merged, read_record, record_path, verify_records
from dayzero.registry import store


def _table(monkeypatch: pytest.MonkeyPatch, fn) -> None:  # type: ignore[no-untyped-def]
    real = next(c for c in TABLE if c.id == "serve.vllm")
    monkeypatch.setattr(
        checks_pkg, "TABLE", [*(c for c in TABLE if c.group == "schema"), replace(real, fn=fn)]
    )


def _ran(ctx) -> Outcome:  # type: ignore[no-untyped-def]
    return Outcome(True, "vLLM 9.9 served it", {"vllm": "9.9", "tokenize_same": ["single"]})


def _absent(ctx) -> Outcome:  # type: ignore[no-untyped-def]
    raise Unavailable("vLLM's environment")


@pytest.fixture()
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    root, reports = scratch_registry(tmp_path), tmp_path / "reports"
    _table(monkeypatch, _ran)
    write(run_family("qwen2", registry=store.load(root)), reports)
    return root, reports


def test_a_run_where_vllm_ran_writes_the_record(recorded: tuple[Path, Path]) -> None:
    root, reports = recorded
    record = read_record(reports, "qwen2")
    assert record is not None and record["status"] == "pass" and record["vllm"] == "9.9"
    assert record["evidence"]["tokenize_same"] == ["single"]
    assert verify_records(store.load(root), reports) == ([], [])


def test_a_run_without_vllm_leaves_the_record_and_the_matrix_shows_it(
    recorded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, reports = recorded
    before = record_path(reports, "qwen2").read_text()
    _table(monkeypatch, _absent)
    reg = store.load(root)
    write(run_family("qwen2", registry=reg), reports)  # the report now says skip
    assert record_path(reports, "qwen2").read_text() == before
    report = json.loads((reports / "qwen2.json").read_text())
    assert next(c for c in report["checks"] if c["id"] == "serve.vllm")["status"] == "skip"
    shown = merged(reg, "qwen2", report, reports)
    assert shown is not None and shown["status"] == "pass" and not shown["stale"]
    page = render_matrix(reg, reports)
    assert "serve.vllm: pass — vLLM 9.9 served it [vllm/qwen2.json, vLLM 9.9]" in page


def test_a_changed_fact_makes_the_record_stale(recorded: tuple[Path, Path]) -> None:
    root, reports = recorded
    path = root / "qwen2.yaml"
    path.write_text(
        path.read_text().replace('default_system: "You are Qwen', 'default_system: "You are Q', 1)
    )
    reg = store.load(root)
    shown = merged(reg, "qwen2", json.loads((reports / "qwen2.json").read_text()), reports)
    assert shown is not None and shown["stale"]
    problems, stale = verify_records(reg, reports)
    assert problems == [] and stale and "stale" in stale[0]
    assert "STALE" in render_matrix(reg, reports)


def test_a_hand_edited_record_fails_the_gate(recorded: tuple[Path, Path]) -> None:
    root, reports = recorded
    path = record_path(reports, "qwen2")
    data = json.loads(path.read_text())
    data["status"] = "pass"
    data["summary"] = "edited"
    path.write_text(json.dumps(data))
    assert any("does not hash" in p for p in verify_recorded(store.load(root), reports))


def test_committed_records_are_intact_and_six_families_pass() -> None:
    """The records committed under conformance/reports/vllm/ (made with the vLLM CPU environment, see README):
    none altered by hand, at least six families passing (stale ones are listed by the gate, not failed)."""
    from dayzero import registry

    reg = registry.default()
    reports = default_report_dir()
    problems, _ = verify_records(reg, reports)
    assert problems == []
    passing = [
        p.stem
        for p in (reports / "vllm").glob("*.json")
        if (read_record(reports, p.stem) or {}).get("status") == "pass"
    ]
    assert len(passing) >= 6, passing
