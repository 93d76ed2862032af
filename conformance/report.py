"""Conformance reports: JSON (the record, hashed) and Markdown (for people), written atomically.

The JSON content is deterministic apart from the `timings` section: same family, same libraries,
same results -> same bytes. Its `sha256` is the hash of the canonical JSON of everything except
`timings` and `sha256` itself; a family entry promoted to `supported` records that hash.

`family_sha256` is the family's facts (and its chat format) *without* `status`, `conformance`,
`revision` and `changelog`: promoting a family writes exactly those, which must not make its own
report stale; any change of a fact does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dayzero.errors import ConformanceError, Where

from .owned import REPORT_JSON, REPORT_MD, refuse_foreign, write_owned
from .result import CheckResult, Status

REPORT_SCHEMA = 1
_BOOKKEEPING = {"status", "conformance", "revision", "changelog"}
_LIBRARIES = ("torch", "transformers", "peft", "trl", "tokenizers")


def canonical_sha256(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def family_sha256(registry: Any, family: Any) -> str:
    """Hash of the facts a report checked: the entry minus `status`/`conformance`, plus its format."""
    from dayzero.registry.store import without_new_defaults

    data = family.model_dump(mode="json", by_alias=True, exclude=_BOOKKEEPING)
    fmt = registry.format_of(family)
    return canonical_sha256({"family": data, "format": without_new_defaults(fmt, fmt.model_dump(mode="json"))})


def library_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@dataclass
class Report:
    family: str
    revision: int
    family_sha256: str
    checks: list[CheckResult]
    official_source: str | None = None
    official_template_sha256: str | None = None
    libraries: dict[str, str | None] = field(default_factory=dict)
    partial: bool = False
    total_seconds: float = 0.0

    @classmethod
    def build(cls, registry: Any, family: Any, checks: list[CheckResult], *, official_source: str | None,
              total_seconds: float, partial: bool = False) -> Report:
        return cls(family=family.id, revision=family.revision, family_sha256=family_sha256(registry, family),
                   checks=checks, official_source=official_source, libraries=library_versions(),
                   partial=partial, total_seconds=total_seconds)

    @property
    def passed(self) -> bool:
        """No blocking result (see `CheckResult.blocking`), and the run covered every check."""
        return not self.partial and not any(c.blocking for c in self.checks)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for c in self.checks:
            out[c.status.value] += 1
        return out

    def content(self) -> dict[str, Any]:
        """The hashed part of the report."""
        return {
            "report_schema": REPORT_SCHEMA,
            "family": self.family,
            "revision": self.revision,
            "family_sha256": self.family_sha256,
            "official_source": self.official_source,
            "official_template_sha256": self.official_template_sha256,
            "libraries": self.libraries,
            "partial": self.partial,
            "passed": self.passed,
            "counts": self.counts(),
            "checks": [c.as_dict() for c in self.checks],
        }

    @property
    def sha256(self) -> str:
        return canonical_sha256(self.content())

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.content(),
            "sha256": self.sha256,
            "timings": {"total_s": round(self.total_seconds, 3), **{c.id: c.seconds for c in self.checks}},
        }


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def content_sha256(data: dict[str, Any]) -> str:
    """The hash a report JSON *should* carry: recomputed from its content, ignoring what it claims."""
    return canonical_sha256({k: v for k, v in data.items() if k not in ("sha256", "timings")})


_MARK = {"pass": "✅ pass", "fail": "❌ fail", "error": "💥 error", "skip": "⏭ skip", "n/a": "— n/a"}


def to_markdown(report: Report) -> str:
    data = report.as_dict()
    lines = [
        f"# Conformance: `{report.family}` (revision {report.revision})",
        "",
        f"**{'PASSED' if report.passed else 'NOT PASSED'}** — "
        + ", ".join(f"{n} {k}" for k, n in data["counts"].items() if n),
        "",
        f"- report sha256: `{data['sha256']}`",
        f"- family content sha256: `{report.family_sha256}`",
        f"- official files: {report.official_source or 'none'}"
        + (f" (chat template sha256 `{report.official_template_sha256[:16]}…`)" if report.official_template_sha256 else ""),
        "- libraries: " + ", ".join(f"{k} {v}" for k, v in report.libraries.items()),
        f"- total time: {report.total_seconds:.1f} s",
        "",
        "| check | severity | result | summary | s |",
        "|---|---|---|---|---|",
    ]
    for c in report.checks:
        summary = c.summary.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{c.id}` | {c.severity.value} | {_MARK[c.status.value]} | {summary} | {c.seconds:.2f} |")
    lines += ["", "## Evidence", ""]
    for c in report.checks:
        if c.evidence:
            lines += [f"### `{c.id}`", "", "```json", json.dumps(c.evidence, indent=2, ensure_ascii=False), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def write(report: Report, out_dir: Path) -> tuple[Path, Path]:
    """Write `<id>.json` and `<id>.md` atomically, and the `serve.vllm` record when that check ran
    (`vllm_record.py`: a run without vLLM leaves the last record alone); returns the report's paths."""
    from .vllm_record import write_record

    json_path, md_path = out_dir / f"{report.family}.json", out_dir / f"{report.family}.md"
    if report.partial and json_path.is_file() and not _is_partial(json_path):
        # a partial run that could not be folded in (`runner._merged`) never replaces a full report
        json_path, md_path = out_dir / f"{report.family}.partial.json", out_dir / f"{report.family}.partial.md"
    refuse_foreign(md_path, REPORT_MD)  # both checked first: never a new .json beside a refused .md
    write_owned(json_path, to_json(report), REPORT_JSON)
    write_owned(md_path, to_markdown(report), REPORT_MD)
    write_record(report, out_dir)
    return json_path, md_path


def _is_partial(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("partial", False))
    except (OSError, ValueError, AttributeError):
        return False  # unreadable: treated as a full report, so it is not overwritten by a partial one


def read_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConformanceError("report not found", where=Where(file=str(path))) from None
    except json.JSONDecodeError as exc:
        raise ConformanceError(f"malformed report: {exc.msg}", where=Where(file=str(path), line=exc.lineno)) from None
    if not isinstance(data, dict) or "checks" not in data:
        raise ConformanceError("not a conformance report (no `checks`)", where=Where(file=str(path)))
    return data


def default_report_dir() -> Path:
    """The committed reports (package data of `dayzero.conformance`)."""
    return Path(__file__).resolve().parent / "reports"
