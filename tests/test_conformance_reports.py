"""The committed reports: every family has one (as vLLM's tests insist every architecture has an
example), each is intact (its content hashes to its `sha256`), and the matrix page links them all."""

from __future__ import annotations

import json

import pytest

from dayzero import registry
from dayzero.conformance.gate import verify_recorded
from dayzero.conformance.report import content_sha256, default_report_dir

REPORTS = default_report_dir()


@pytest.mark.parametrize("fid", sorted(registry.default().families))
def test_family_has_an_intact_committed_report(fid: str) -> None:
    path = REPORTS / f"{fid}.json"
    assert path.is_file(), f"no conformance report for {fid}: run `dayzero conformance run {fid}`"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["family"] == fid
    assert content_sha256(data) == data["sha256"], f"{path} was edited by hand"
    assert (REPORTS / f"{fid}.md").is_file()


def test_matrix_links_every_family() -> None:
    page = (REPORTS / "index.html").read_text(encoding="utf-8")
    for fid in registry.default().families:
        assert f'<tr id="{fid}"' in page, f"index.html lacks {fid}: run `dayzero conformance matrix`"


def test_every_family_has_its_page_with_status_and_checkpoints() -> None:
    for fam in registry.default().families.values():
        path = REPORTS / f"{fam.id}.html"
        assert path.is_file(), f"no page for {fam.id}: run `dayzero conformance matrix`"
        page = path.read_text(encoding="utf-8")
        assert f'id="status">{fam.status}<' in page, f"{path} is stale: run `dayzero conformance matrix`"
        assert all(c.hf in page for c in fam.checkpoints), f"{path} is stale: run `dayzero conformance matrix`"


def test_supported_families_are_backed_by_their_reports() -> None:
    assert verify_recorded(registry.default(), REPORTS) == []
