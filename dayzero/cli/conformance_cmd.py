"""`dayzero conformance ...` (run, gate, matrix) and `dayzero day0`.

Exit codes: 0 all good; 1 a check failed (the report says which); 2 the run itself could not be
carried out (a `DayzeroError`, printed as one line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dayzero.cli import app

conformance_app = typer.Typer(help="Check that a family really works end to end, and report.", no_args_is_help=True)
app.add_typer(conformance_app, name="conformance")

ReferenceOpt = Annotated[
    Path | None,
    typer.Option("--reference", help="shared/reference folder (default: $DAYZERO_REFERENCE or ../shared/reference)."),
]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="Folder for <id>.json / <id>.md (default: bundled).")]


def _reference(path: Path | None) -> Path | None:
    from dayzero.conformance.context import default_reference_dir

    return path if path is not None else default_reference_dir()


def _print_report(report: object) -> None:
    from dayzero.conformance.report import Report

    assert isinstance(report, Report)
    verdict = "PASSED" if report.passed else "NOT PASSED"
    print(f"{report.family} (revision {report.revision}): {verdict} in {report.total_seconds:.1f} s")
    for c in report.checks:
        print(f"  {c.status.value:<5} {c.id:<32} {c.summary}")


@conformance_app.command("run")
def run(
    family: Annotated[str | None, typer.Argument(help="Family id (omit with --all).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Hub id or local dir of the official release files.")] = None,
    hub: Annotated[str, typer.Option(help="hf or modelscope, for a hub id given to --model.")] = "hf",
    all_: Annotated[bool, typer.Option("--all", help="Every family in the registry.")] = False,
    report: ReportOpt = None,
    reference: ReferenceOpt = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Check id or group (repeatable); partial run.")] = None,
    no_write: Annotated[bool, typer.Option("--no-write", help="Print only; write no report.")] = False,
) -> None:
    """Run the conformance checks on one family (or --all) and write the reports."""
    from dayzero import registry
    from dayzero.conformance import official
    from dayzero.conformance.matrix import write_matrix
    from dayzero.conformance.report import default_report_dir, write
    from dayzero.conformance.runner import run_family
    from dayzero.errors import ConformanceError

    if all_ == (family is not None):
        raise ConformanceError("give a FAMILY or --all (not both)")
    if all_ and model:
        raise ConformanceError("--model names one release; it cannot be used with --all")
    out = report or default_report_dir()
    files = official.load(model, hub=hub) if model else None
    ids = sorted(registry.default().families) if all_ else [family]
    failed = []
    for fid in ids:
        rep = run_family(fid, official=files, reference_dir=_reference(reference), report_dir=out, only=only or ())
        _print_report(rep)
        if not no_write:
            json_path, _ = write(rep, out)
            print(f"  wrote {json_path} (sha256 {rep.sha256[:12]}...)")
        if any(c.blocking for c in rep.checks):  # a partial (--only) run that passes exits 0
            failed.append(fid)
    if all_ and not no_write:
        print(f"wrote {write_matrix(registry.default(), out)}")
    if failed:
        raise typer.Exit(1)


@conformance_app.command("gate")
def gate(
    rerun: Annotated[bool, typer.Option("--rerun/--verify-only", help="Re-run conformance for supported families.")] = True,
    report: ReportOpt = None,
    reference: ReferenceOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Re-run the families in this many processes.")] = 1,
) -> None:
    """What CI runs: every `supported` family must still pass (re-run by default; see README)."""
    from dayzero import registry
    from dayzero.conformance.gate import gate as run_gate
    from dayzero.conformance.report import default_report_dir
    from dayzero.conformance.vllm_record import verify_records

    problems = run_gate(registry.default(), report or default_report_dir(), rerun=rerun,
                        reference_dir=_reference(reference), jobs=jobs)
    for line in verify_records(registry.default(), report or default_report_dir())[1]:
        print(f"note {line}")
    for line in problems:
        print(f"FAIL {line}")
    if problems:
        raise typer.Exit(1)
    print("ok: every supported family passes")


@conformance_app.command("matrix")
def matrix(report: ReportOpt = None) -> None:
    """Write index.html: the support matrix (families x checks) from the reports on disk."""
    from dayzero import registry
    from dayzero.conformance.matrix import write_matrix
    from dayzero.conformance.report import default_report_dir

    print(f"wrote {write_matrix(registry.default(), report or default_report_dir())}")


@app.command("day0")
def day0(
    config: Annotated[Path, typer.Option("--config", help="The release's config.json.")],
    tokenizer_config: Annotated[Path, typer.Option("--tokenizer-config", help="Its tokenizer_config.json.")],
    new_id: Annotated[str, typer.Option("--id", help="Id of the new family.")],
    generation_config: Annotated[Path | None, typer.Option("--generation-config")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for <id>.yaml.")] = Path("families"),
    report: Annotated[Path | None, typer.Option("--report", help="Folder for the report (default: OUT/reports).")] = None,
    official_ref: Annotated[str | None, typer.Option(
        "--official", help="The release's template under shared/reference (recorded as template.official).")] = None,
) -> None:
    """Draft a family entry from a release's small files, run conformance on it, write YAML and report."""
    from dayzero.conformance.day0 import draft_and_check

    result = draft_and_check(config=config, tokenizer_config=tokenizer_config, generation_config=generation_config,
                             family_id=new_id, out_dir=out, report_dir=report, official=official_ref)
    for line in result.warnings:
        print(f"warning: {line}")
    print(f"wrote {result.family_path}")
    if result.format_path:
        print(f"wrote {result.format_path}")
    _print_report(result.report)
    print(f"wrote {result.report_path}")


@conformance_app.command("promote")
def promote(family: str, report: ReportOpt = None) -> None:
    """Set FAMILY to `status: supported`, recording its passing report's sha256 (revision +1)."""
    from dayzero import registry
    from dayzero.conformance.promote import promote as promote_
    from dayzero.conformance.report import default_report_dir

    path = promote_(registry.default(), family, report or default_report_dir())
    print(f"wrote {path}; refresh the lock with `dayzero registry lock`")
