"""Multi-process runs: the plan's torchrun command, started on this node, and its workers.

`sdk.run` (and so `dayzero run`) compiles the recipe; when `plan.distributed.launch` is set and this
process is not already one of torchrun's workers, it starts that command instead of training itself.
Each worker (`python -m dayzero.sdk.launch RECIPE [overrides] [--resume] [--ignore-lock]`) runs
`sdk.run` on the same recipe and overrides; transformers' Trainer and accelerate set up DDP, FSDP2 or
DeepSpeed from torchrun's environment (gloo on CPU, nccl on CUDA). Only global rank 0 writes run.json,
the loss curve and the export.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dayzero.errors import RecipeError

if TYPE_CHECKING:
    from .plan import Plan
    from .recipe.load import LoadedRecipe
    from .runner import RunResult


def in_worker() -> bool:
    """Whether this process was started by torchrun (it sets LOCAL_RANK for each worker)."""
    return "LOCAL_RANK" in os.environ


def worker_command(plan: Plan, *, resume: bool = False, ignore_lock: bool = False) -> list[str]:
    """The plan's launch command with the run flags each worker needs."""
    if plan.distributed.launch is None:
        raise RecipeError("this plan runs in one process; there is no launch command")
    return [
        *plan.distributed.launch,
        *(["--resume"] if resume else []),
        *(["--ignore-lock"] if ignore_lock else []),
    ]


def printable(cmd: list[str]) -> str:
    """The command as one shell line (for `--print-launch`, Slurm scripts and the plan)."""
    return shlex.join(cmd)


def run_launched(
    plan: Plan, loaded: LoadedRecipe, *, resume: bool, overwrite: bool, ignore_lock: bool
) -> RunResult:
    """Start this node's workers, wait for them, and read back what rank 0 wrote."""
    from .runner import RunResult

    if loaded.path is None:
        raise RecipeError(
            "a multi-process run re-reads its recipe in every process: give a recipe file, not a dict",
            hint="write the recipe to a YAML file and pass its path",
        )
    run_dir = Path(plan.run_dir)
    # The lock is taken (and --overwrite done) here, once, before the processes start (they would race);
    # on the first node only: the other nodes' workers never write the run directory.
    lock: Any = None
    if plan.distributed.node_rank == 0:
        from .runguard import begin_run

        lock = begin_run(
            run_dir, resume=resume, overwrite=overwrite, say=lambda text: print(text, file=sys.stderr)
        )
    from .runlock import HELD_ENV

    try:
        code = subprocess.call(
            worker_command(plan, resume=resume, ignore_lock=ignore_lock), env={**os.environ, HELD_ENV: "1"}
        )
    finally:
        if lock is not None:
            lock.release()
    if code != 0:
        raise RecipeError(
            f"the {plan.distributed.strategy} run's processes failed (exit status {code})",
            hint="their own error messages are above",
        )
    info: dict[str, Any] = {}
    if (run_dir / "run.json").is_file():
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    export = info.get("export", {}).get("out") if isinstance(info.get("export"), dict) else None
    return RunResult(
        run_dir=run_dir,
        plan=plan,
        metrics=info.get("metrics", {}),
        losses=info.get("losses", []),
        export_dir=Path(export) if export else None,
        sample=(info.get("sample") or {}).get("reply"),
    )


def _worker(argv: list[str]) -> None:
    """One process of a torchrun launch."""
    from dayzero import sdk

    flags = {a for a in argv if a.startswith("--")}
    args = [a for a in argv if not a.startswith("--")]
    sdk.run(args[0], overrides=args[1:], resume="--resume" in flags, ignore_lock="--ignore-lock" in flags)


if __name__ == "__main__":
    _worker(sys.argv[1:])
