"""Gating `status: supported` on a recorded, intact, current, passing report; the support matrix page."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from registry_helpers import scratch_registry

from dayzero.conformance import checks as checks_pkg
from dayzero.conformance.checks.base import TABLE
from dayzero.conformance.gate import gate, supported_without_report, verify_recorded
from dayzero.conformance.matrix import render_matrix, write_matrix
from dayzero.conformance.promote import promote
from dayzero.conformance.report import write
from dayzero.conformance.runner import run_family
from dayzero.errors import ConformanceError
from dayzero.registry import store


@pytest.fixture()
def schema_only(monkeypatch):
    """A check table of the schema checks alone: a complete (non-partial) run that passes in milliseconds."""
    monkeypatch.setattr(checks_pkg, "TABLE", [c for c in TABLE if c.group == "schema"])


def experimental_registry(tmp_path):
    """A scratch copy of the bundled registry with every family `experimental` and no report on record,
    so a test controls exactly which family is supported."""
    root = scratch_registry(tmp_path)
    for path in root.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^status: supported$", "status: experimental", text, flags=re.M)
        text = re.sub(r"^conformance:\n  report_sha256: \w+\n?", "", text, flags=re.M)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture()
def promoted(tmp_path, schema_only):
    root = experimental_registry(tmp_path)
    reports = tmp_path / "reports"
    reg = store.load(root)
    rep = run_family("qwen2", registry=reg)
    assert rep.passed
    write(rep, reports)
    promote(reg, "qwen2", reports)
    return root, reports, rep


def test_promote_records_hash_bumps_revision_and_passes_gate(promoted) -> None:
    root, reports, rep = promoted
    reg = store.load(root)
    fam = reg.families["qwen2"]
    assert fam.status == "supported"
    assert fam.conformance.report_sha256 == rep.sha256
    assert fam.changelog[-1].startswith(f"{fam.revision}: supported")
    assert verify_recorded(reg, reports) == []
    assert supported_without_report(reg, reports) == []
    text = (root / "qwen2.yaml").read_text(encoding="utf-8")
    assert "# true for 0.5B / 1.5B / 3B" in text  # comments survive the edit


def test_missing_report_fails_gate(promoted) -> None:
    root, reports, _ = promoted
    (reports / "qwen2.json").unlink()
    problems = verify_recorded(store.load(root), reports)
    assert problems and "does not exist" in problems[0]


def test_hand_edited_report_fails_gate(promoted) -> None:
    root, reports, _ = promoted
    path = reports / "qwen2.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["checks"][0]["summary"] = "edited"
    path.write_text(json.dumps(data), encoding="utf-8")
    problems = verify_recorded(store.load(root), reports)
    assert any("does not hash" in p for p in problems)


def test_failing_report_cannot_be_promoted_or_recorded(promoted) -> None:
    root, reports, _ = promoted
    path = reports / "qwen2.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["checks"][0]["status"] = "fail"
    from dayzero.conformance.report import content_sha256

    data["sha256"] = content_sha256(data)  # a consistent, but failing, report
    path.write_text(json.dumps(data), encoding="utf-8")
    problems = verify_recorded(store.load(root), reports)
    assert any("did not pass: ['schema.entry']" in p for p in problems)
    with pytest.raises(ConformanceError, match="cannot promote"):
        promote(store.load(root), "qwen2", reports)


def test_changed_fact_makes_report_stale(promoted) -> None:
    root, reports, _ = promoted
    path = root / "qwen2.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('default_system: "You are Qwen', 'default_system: "You are Q', 1), encoding="utf-8")
    problems = verify_recorded(store.load(root), reports)
    assert any("stale" in p for p in problems)


def test_gate_rerun_catches_a_family_that_no_longer_passes(promoted, monkeypatch) -> None:
    root, reports, _ = promoted
    reg = store.load(root)
    assert gate(reg, reports, rerun=True) == []
    from dayzero.conformance.result import Outcome

    broken = checks_pkg.TABLE[0].__class__("schema.broken", "always fails", "error",
                                           lambda ctx: Outcome(False, "a library changed"))
    monkeypatch.setattr(checks_pkg, "TABLE", [*checks_pkg.TABLE, broken])
    problems = gate(reg, reports, rerun=True)
    assert problems and "no longer passes" in problems[0] and "a library changed" in problems[0]


def test_supported_without_any_hash_is_reported(tmp_path) -> None:
    root = experimental_registry(tmp_path)
    path = root / "qwen2.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("status: experimental", "status: supported", 1),
                    encoding="utf-8")
    problems = supported_without_report(store.load(root), tmp_path)
    assert problems and "report_sha256" in problems[0]


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and a.get("id"):
            self._row = a["id"]
            self.rows[self._row] = []
        elif tag == "td" and self._row:
            self.rows[self._row].append(a.get("class") or "")


def test_matrix_has_a_row_per_family_and_links(promoted) -> None:
    root, reports, rep = promoted
    reg = store.load(root)
    page = render_matrix(reg, reports)
    parser = _Cells()
    parser.feed(page)
    assert set(parser.rows) == set(reg.families)
    assert parser.rows["qwen2"][1] == "supported"
    assert parser.rows["qwen2"].count("pass") == 1 + len(rep.checks)  # report cell + one per check
    assert 'href="qwen2.html"' in page and 'href="qwen2.json"' in page  # the family's page, its report
    assert "no report" in page  # the families without one say so


class _Page(HTMLParser):
    """Text of the elements with an id, and the rows of the checkpoint and check tables."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.rows: dict[str, list[list[str]]] = {"checkpoint": [], "check": []}
        self._open: list[str] = []
        self._row: list[str] | None = None
        self._kind = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self._open.append(a["id"])
            self.by_id[a["id"]] = ""
        if tag == "tr" and a.get("class") in self.rows:
            self._row, self._kind = [], a["class"]
        elif tag == "td" and self._row is not None:
            self._row.append("")

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows[self._kind].append(self._row)
            self._row = None
        if tag in ("td", "p") and self._open:
            self._open.pop()

    def handle_data(self, data):
        for key in self._open:
            self.by_id[key] += data
        if self._row:
            self._row[-1] += data


def test_family_pages_carry_the_facts_and_the_report(promoted) -> None:
    root, reports, rep = promoted
    reg = store.load(root)
    write_matrix(reg, reports)
    assert {p.stem for p in reports.glob("*.html")} == {*reg.families, "index"}
    page = _Page()
    page.feed((reports / "qwen2.html").read_text(encoding="utf-8"))
    fam = reg.families["qwen2"]
    assert page.by_id["status"] == "supported" and page.by_id["modality"] == "text"
    assert page.by_id["verdict"].startswith("passed;")
    assert [row[0] for row in page.rows["checkpoint"]] == [c.hf for c in fam.checkpoints]
    assert [row[1] for row in page.rows["checkpoint"]] == [c.modelscope or "" for c in fam.checkpoints]
    assert [(row[0], row[1]) for row in page.rows["check"]] == [(c.id, c.status) for c in rep.checks]
    text = (reports / "qwen2.html").read_text(encoding="utf-8")
    assert html.escape(fam.tokenizer.eos) in text and fam.architecture.model_class in text
    assert 'href="qwen2.md"' in text
    other = _Page()
    other.feed((reports / "llama3.html").read_text(encoding="utf-8"))
    assert other.by_id["status"] == "experimental" and other.by_id["verdict"] == "no report"
    first = (reports / "llama3.html").read_bytes()
    write_matrix(reg, reports)  # deterministic: the lead regenerates the pages after every merge
    assert (reports / "llama3.html").read_bytes() == first


def test_matrix_renders_in_headless_chromium(promoted, tmp_path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    root, reports, _ = promoted
    page = write_matrix(store.load(root), reports)
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    assert '<table id="matrix">' in dom
    assert '<tr id="qwen2">' in dom and "dayzero support matrix" in dom
