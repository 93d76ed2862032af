"""Run the check table on one family (or all) and collect a `Report`.

A check's exception is reported, never raised: `Unavailable` -> skip with its reason,
`NotApplicable` -> n/a, anything else -> `error` with the exception's type and message. Only
problems with the run itself (unknown family, unreadable --model) raise `ConformanceError`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .context import Context
from .official import OfficialFiles
from .report import Report, read_report
from .result import CheckResult, NotApplicable, Outcome, Severity, Status, Unavailable


def _scrub(value: Any, workdir: str) -> Any:
    """Replace the run's temporary folder with `<workdir>` so reports do not change from run to run."""
    if isinstance(value, str):
        return value.replace(workdir, "<workdir>")
    if isinstance(value, dict):
        return {k: _scrub(v, workdir) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, workdir) for v in value]
    return value


def _run_one(chk: Any, ctx: Context) -> CheckResult:
    start = time.perf_counter()
    evidence: dict[str, Any] = {}
    try:
        outcome: Outcome = chk.fn(ctx)
        status = Status.passed if outcome.passed else Status.failed
        summary, evidence = outcome.summary, outcome.evidence
    except Unavailable as exc:
        status, summary = Status.skipped, str(exc)
    except NotApplicable as exc:
        status, summary = Status.not_applicable, str(exc)
    except Exception as exc:  # a crashing check is a failing check, with the reason in the report
        text = f"{type(exc).__name__}: {exc}"
        status, summary = Status.error, text.splitlines()[0][:500]
        if "\n" in text.strip():  # e.g. a server's last lines of output: kept in full as evidence
            evidence = {"error": text[-3000:]}
    return CheckResult(
        id=chk.id, group=chk.group, title=chk.title, severity=Severity(chk.severity), status=status,
        summary=_scrub(summary, str(ctx.workdir)), evidence=_scrub(evidence, str(ctx.workdir)), seconds=round(time.perf_counter() - start, 3),
    )


def run_family(
    family_id: str,
    *,
    registry: Any = None,
    official: OfficialFiles | None = None,
    reference_dir: Path | None = None,
    previous: dict[str, Any] | None = None,
    report_dir: Path | None = None,
    only: Iterable[str] = (),
) -> Report:
    """Run every check (or those whose id or group is in ``only``) on ``family_id``.

    ``previous`` is the last committed report (for pinned values); when omitted it is read from
    ``report_dir``/<id>.json if that exists.
    """
    from dayzero import registry as registry_mod

    from .checks import all_checks

    reg = registry or registry_mod.default()
    family = reg.get(family_id)
    if previous is None and report_dir is not None and (report_dir / f"{family_id}.json").is_file():
        previous = read_report(report_dir / f"{family_id}.json")
    wanted = set(only)
    checks = [c for c in all_checks() if not wanted or c.id in wanted or c.group in wanted]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"dayzero-conf-{family_id}-") as tmp:
        ctx = Context(family=family, registry=reg, workdir=Path(tmp), reference_dir=reference_dir,
                      official=official, previous=previous)
        results = [_run_one(c, ctx) for c in checks]
    report = Report.build(reg, family, results, official_source=_source_label(ctx),
                          total_seconds=time.perf_counter() - started, partial=bool(wanted))
    report.official_template_sha256 = _template_sha(ctx)
    if wanted and previous is not None:
        return _merged(report, previous, [c.id for c in all_checks()])
    return report


def _merged(partial: Report, previous: dict[str, Any], order: list[str]) -> Report:
    """A partial run folded into the last full report, when that report checked exactly the same thing.

    Same family content, official files and library versions: the re-run checks replace theirs and the
    rest are kept, so `--only serve.vllm` updates one row instead of leaving a report of one check.
    Anything else stays partial (and `report.write` keeps it beside the full report, not over it).
    """
    same = (
        not previous.get("partial", False)
        and previous.get("family_sha256") == partial.family_sha256
        and previous.get("official_source") == partial.official_source
        and previous.get("official_template_sha256") == partial.official_template_sha256
        and previous.get("libraries") == partial.libraries
    )
    if not same:
        return partial
    timings = previous.get("timings", {})
    rerun = {c.id: c for c in partial.checks}
    kept = {
        d["id"]: CheckResult(
            id=d["id"], group=d["group"], title=d["title"], severity=Severity(d["severity"]),
            status=Status(d["status"]), summary=d["summary"], evidence=d.get("evidence", {}),
            seconds=float(timings.get(d["id"], 0.0)),
        )
        for d in previous["checks"] if d["id"] not in rerun
    }
    merged = {**kept, **rerun}
    partial.checks = [merged[i] for i in order if i in merged] + [c for i, c in merged.items() if i not in order]
    partial.partial = False
    partial.total_seconds = float(timings.get("total_s", 0.0))
    return partial


def _template_sha(ctx: Context) -> str | None:
    """sha256 of the official template the run compared against: a report says exactly what it checked."""
    import hashlib

    try:
        source = ctx.official_files().chat_template
    except Exception:  # no official files: nothing was compared
        return None
    return hashlib.sha256(source.encode("utf-8")).hexdigest() if source else None


def _source_label(ctx: Context) -> str | None:
    """Where the official files came from, as a stable label (reference paths relative to the folder)."""
    if ctx.official is not None:
        return ctx.official.source
    return f"reference:{ctx.family.template.official}" if ctx.family.template.official else None
