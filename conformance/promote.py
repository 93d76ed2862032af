"""Promote a family to `status: supported`, recording its passing report's hash in the entry.

The family file is edited as text (top-level `status`, `revision`, a changelog line, the
`conformance` block) so its comments and layout survive; the result is validated by the registry
schema before it is written atomically. Promotion is a change to the entry, so the revision is
bumped with a changelog line, as the lock requires.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dayzero.atomic import atomic_write_text
from dayzero.errors import ConformanceError, RegistryError, Where
from dayzero.yamlio import parse_yaml, validate

from .gate import report_problems


def _set_top(text: str, key: str, value: str) -> str:
    pattern = re.compile(rf"^{re.escape(key)}:[^\n]*$", re.M)
    if pattern.search(text):
        return pattern.sub(f"{key}: {value}", text, count=1)
    return text.rstrip("\n") + f"\n{key}: {value}\n"


def _add_changelog(text: str, line: str) -> str:
    lines = text.split("\n")
    start = next((i for i, ln in enumerate(lines) if ln.startswith("changelog:")), None)
    if start is None:
        raise RegistryError("no top-level `changelog:` block to extend", where=Where(field="changelog"))
    end = start + 1
    while end < len(lines) and lines[end].startswith(("  ", "-")):
        end += 1
    items = [m.group(1) for ln in lines[start + 1 : end] if (m := re.match(r"^(\s*- )", ln))]
    indent = items[-1] if items else "  - "  # the last item's; a long item wraps onto lines without "- "
    quoted = '"' + line.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines.insert(end, f"{indent}{quoted}")
    return "\n".join(lines)


def _set_conformance(text: str, sha: str) -> str:
    block = re.compile(r"^conformance:[^\n]*\n(?:[ \t]+[^\n]*\n?)*", re.M)
    new = f"conformance:\n  report_sha256: {sha}\n"
    if block.search(text):
        return block.sub(new, text, count=1)
    return text.rstrip("\n") + "\n\n" + new


def promote(registry: Any, fid: str, report_dir: Path, *, sha256: str | None = None) -> Path:
    """Set ``fid`` to supported with its report's hash; refuses a report that would not pass the gate."""
    import json

    from dayzero.registry.schema import Family

    path = Path(registry.sources[fid])
    report_path = report_dir / f"{fid}.json"
    if not report_path.is_file():
        raise ConformanceError(f"no report for {fid}", where=Where(file=str(report_path)),
                               hint=f"run `dayzero conformance run {fid}` first")
    data = json.loads(report_path.read_text(encoding="utf-8"))
    sha = sha256 or data.get("sha256")
    fam = registry.families[fid]
    candidate = fam.model_copy(update={"conformance": fam.conformance.model_copy(update={"report_sha256": sha})})
    reg_view = _RegistryView(registry, fid, candidate)
    problems = report_problems(reg_view, fid, report_dir)
    if problems:
        raise ConformanceError("cannot promote: " + "; ".join(problems))
    text = path.read_text(encoding="utf-8")
    if fam.status == "supported" and fam.conformance.report_sha256 == sha:
        return path
    revision = fam.revision + 1
    text = _set_top(text, "revision", str(revision))
    text = _set_top(text, "status", "supported")
    text = _add_changelog(text, f"{revision}: supported, conformance report sha256 {sha[:12]}")
    text = _set_conformance(text, sha)
    validate(Family, parse_yaml(text, str(path), RegistryError), source=str(path), text=text, error=RegistryError)
    atomic_write_text(path, text if text.endswith("\n") else text + "\n")
    return path


class _RegistryView:
    """The registry with one family replaced (to check a promotion before writing it)."""

    def __init__(self, registry: Any, fid: str, family: Any) -> None:
        self._registry = registry
        self.families = {**registry.families, fid: family}

    def format_of(self, family: Any) -> Any:
        return self._registry.format_of(family)
