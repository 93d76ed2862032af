"""The `serve.vllm` results of a family, recorded apart from its report (`reports/vllm/<family>.json`).

Why apart: vLLM runs only where its environment is (`$DAYZERO_VLLM_PYTHON`), so most conformance runs
skip `serve.vllm`; were its result only in `<family>.json`, the next run without vLLM would overwrite it.
A run in which the check really ran (pass, fail or error) writes the record; a run that skipped it
leaves the record alone. The record carries the vLLM version, the family's content hash when it ran
(a changed fact makes it *stale*: shown so in the matrix, never counted as current) and a hash of its
own content (a hand-edited record fails the gate). The matrix and the gate read it through `merged`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .owned import VLLM_RECORD, write_owned
from .report import canonical_sha256, family_sha256

CHECK_ID = "serve.vllm"
RECORD_DIR = "vllm"
RECORD_SCHEMA = 1
RAN = ("pass", "fail", "error")  # statuses of a check that ran (skip: no environment; n/a: no architecture)


def record_path(report_dir: Path, family_id: str) -> Path:
    return report_dir / RECORD_DIR / f"{family_id}.json"


def _content_sha(data: dict[str, Any]) -> str:
    return canonical_sha256({k: v for k, v in data.items() if k not in ("sha256", "seconds")})


def write_record(report: Any, report_dir: Path) -> Path | None:
    """Record ``report``'s `serve.vllm` result if the check ran; None (and nothing written) otherwise."""
    check = next((c for c in report.checks if c.id == CHECK_ID), None)
    if check is None or check.status.value not in RAN:
        return None
    data: dict[str, Any] = {
        "record_schema": RECORD_SCHEMA,
        "check": CHECK_ID,
        "family": report.family,
        "revision": report.revision,
        "family_sha256": report.family_sha256,
        "vllm": (check.evidence or {}).get("vllm"),
        "status": check.status.value,
        "severity": check.severity.value,
        "summary": check.summary,
        "evidence": check.evidence,
        "seconds": check.seconds,
    }
    data["sha256"] = _content_sha(data)
    path = record_path(report_dir, report.family)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_owned(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", VLLM_RECORD)
    return path


def read_record(report_dir: Path, family_id: str) -> dict[str, Any] | None:
    path = record_path(report_dir, family_id)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {"family": family_id, "sha256": None, "status": "error", "summary": f"{path} is not JSON"}
    return data if isinstance(data, dict) else None


def record_problems(registry: Any, family_id: str, record: dict[str, Any]) -> tuple[list[str], bool]:
    """(problems that fail the gate, stale?) for a record: an altered or misnamed record is a problem; a record
    made from other facts than the entry's current ones is stale."""
    problems = []
    if _content_sha(record) != record.get("sha256"):
        problems.append(f"{family_id}: vLLM record does not hash to its `sha256` (edited by hand?)")
    if record.get("family") != family_id or record.get("check") != CHECK_ID:
        problems.append(f"{family_id}: vLLM record is for {record.get('family')!r} / {record.get('check')!r}")
    stale = record.get("family_sha256") != family_sha256(registry, registry.families[family_id])
    return problems, stale


def merged(
    registry: Any, family_id: str, report: dict[str, Any] | None, report_dir: Path
) -> dict[str, Any] | None:
    """The `serve.vllm` result to show for a family: the report's own when the check ran in that report,
    else the separate record (with ``recorded`` and ``stale`` set), else the report's skip / n/a, else None."""
    own = next((c for c in (report or {}).get("checks", []) if c.get("id") == CHECK_ID), None)
    if own is not None and own.get("status") in RAN and family_id in registry.families:
        current = family_sha256(registry, registry.families[family_id])
        return {**own, "stale": (report or {}).get("family_sha256") != current}
    record = read_record(report_dir, family_id)
    if record is None or family_id not in registry.families:
        return own
    problems, stale = record_problems(registry, family_id, record)
    return {
        "id": CHECK_ID,
        "severity": record.get("severity", "warning"),
        "status": "error" if problems else record.get("status", "error"),
        "summary": "; ".join(problems) or str(record.get("summary", "")),
        "recorded": f"{RECORD_DIR}/{family_id}.json"
        + (f", vLLM {record['vllm']}" if record.get("vllm") else ""),
        "stale": stale,
    }


def verify_records(registry: Any, report_dir: Path) -> tuple[list[str], list[str]]:
    """(problems, stale notes) over every record on disk: the gate fails on the first, prints the second."""
    problems, stale = [], []
    folder = report_dir / RECORD_DIR
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        fid = path.stem
        if fid not in registry.families:
            problems.append(f"{fid}: vLLM record {path} names no family in the registry")
            continue
        record = read_record(report_dir, fid) or {}
        found, is_stale = record_problems(registry, fid, record)
        problems += found
        if is_stale and not found:
            stale.append(
                f"{fid}: vLLM record is stale (the entry's facts changed since vLLM {record.get('vllm')} "
                f"ran); run `dayzero conformance run {fid} --only serve.vllm` with $DAYZERO_VLLM_PYTHON"
            )
    return problems, stale
