"""The status gate: a `supported` family needs a passing, intact, current report whose hash it records.

Two levels, and why:

- `verify_recorded` (fast, no torch; what `dayzero registry validate` runs): the report file exists,
  its content hashes to the `sha256` it carries (not hand-edited), that hash is the entry's
  `conformance.report_sha256`, it passed (recomputed from its checks, not trusted from `passed`),
  and it was made from the entry's current facts (`family_sha256`; a changed fact makes it stale).
- `gate(rerun=True)` (what CI runs, `dayzero conformance gate`): the above, then conformance is run
  again for each supported family and must still pass. A library upgrade that breaks a family fails
  here even though its recorded report is intact. The fresh report's hash may differ (library
  versions are part of it); that is not a failure — passing is what is gated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .report import content_sha256, family_sha256


def _blocking(check: dict[str, Any]) -> bool:
    return check.get("severity") == "error" and check.get("status") not in ("pass", "n/a")


def report_problems(registry: Any, fid: str, report_dir: Path) -> list[str]:
    """Why the recorded report of ``fid`` does not back `status: supported` (empty: it does)."""
    import json

    fam = registry.families[fid]
    recorded = fam.conformance.report_sha256
    if not recorded:
        return [f"{fid}: status is `supported` but `conformance.report_sha256` is empty; "
                f"run `dayzero conformance run {fid}` then `dayzero conformance promote {fid}`"]
    path = report_dir / f"{fid}.json"
    if not path.is_file():
        return [f"{fid}: recorded report {path} does not exist"]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return [f"{fid}: report {path} is not JSON ({exc.msg})"]
    problems = []
    if content_sha256(data) != data.get("sha256"):
        problems.append(f"{fid}: report {path} content does not hash to its `sha256` (edited by hand?)")
    if data.get("sha256") != recorded:
        problems.append(f"{fid}: report sha256 {str(data.get('sha256'))[:12]}... is not the recorded "
                        f"{recorded[:12]}...")
    if data.get("family") != fid:
        problems.append(f"{fid}: report {path} is for family {data.get('family')!r}")
    if data.get("partial"):
        problems.append(f"{fid}: report {path} is a partial run (--only)")
    blocking = [c["id"] for c in data.get("checks", []) if _blocking(c)]
    if blocking or not data.get("checks"):
        problems.append(f"{fid}: report has checks that did not pass: {blocking or 'none run'}")
    if data.get("family_sha256") != family_sha256(registry, fam):
        problems.append(f"{fid}: report is stale: the entry's facts changed since it was made; run conformance again")
    return problems


def verify_recorded(registry: Any, report_dir: Path) -> list[str]:
    """`report_problems` for every supported family, and every `serve.vllm` record that was altered (a stale
    record is not a problem: `vllm_record.verify_records` lists those)."""
    from .vllm_record import verify_records

    out: list[str] = []
    for fid, fam in sorted(registry.families.items()):
        if fam.status == "supported":
            out += report_problems(registry, fid, report_dir)
    return out + verify_records(registry, report_dir)[0]


def supported_without_report(registry: Any, report_dir: Path | None = None) -> list[str]:
    """Supported families whose recorded conformance report is missing, altered, failing or stale (the status gate
    `dayzero registry validate` runs: a family is `supported` only with a passing report on record)."""
    from .report import default_report_dir

    return verify_recorded(registry, report_dir or default_report_dir())


def gate(registry: Any, report_dir: Path, *, rerun: bool = True, reference_dir: Path | None = None,
         jobs: int = 1) -> list[str]:
    """Every problem that should fail CI (see the module docstring).

    ``jobs`` > 1 re-runs the families in that many worker processes (spawned: each loads the registry from
    its folder and imports torch once). The families are independent (each run has its own temporary
    folder), so on N cores the re-run takes about 1/N of the time; the problems come back in family order.
    """
    problems = verify_recorded(registry, report_dir)
    if not rerun:
        return problems
    ids = [fid for fid, fam in sorted(registry.families.items()) if fam.status == "supported"]
    if jobs <= 1:
        found = [_rerun(fid, registry, reference_dir, report_dir) for fid in ids]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            found = list(pool.map(_rerun_in_worker, ids, [registry.root] * len(ids),
                                  [reference_dir] * len(ids), [report_dir] * len(ids)))
    return problems + [line for line in found if line]


def _rerun(fid: str, registry: Any, reference_dir: Path | None, report_dir: Path) -> str | None:
    """Why ``fid`` no longer passes a fresh conformance run (None: it passes)."""
    from .runner import run_family

    rep = run_family(fid, registry=registry, reference_dir=reference_dir, report_dir=report_dir)
    blocking = [f"{c.id} ({c.status.value}: {c.summary})" for c in rep.checks if c.blocking]
    return f"{fid}: no longer passes conformance: {'; '.join(blocking)}" if blocking else None


def _rerun_in_worker(fid: str, root: Path, reference_dir: Path | None, report_dir: Path) -> str | None:
    """`_rerun` in a worker process: the registry is loaded again from its folder (registries do not pickle)."""
    from dayzero.registry import store

    return _rerun(fid, store.load(root), reference_dir, report_dir)
