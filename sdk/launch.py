"""Multi-process runs: `dayzero run RECIPE --nproc N` re-launches the run under torchrun (DDP).

Each process runs `sdk.run` on the same recipe; transformers' Trainer sets up DDP from torchrun's
environment (gloo on CPU, nccl on CUDA). Only rank 0 writes run.json, the loss curve and the export.
DeepSpeed / FSDP are passed through as a `train`-section accelerate config where installed; this module
only starts the processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def launch(
    recipe: str,
    overrides: list[str],
    *,
    nproc: int,
    resume: bool = False,
    overwrite: bool = False,
    ignore_lock: bool = False,
) -> int:
    """Run the recipe in `nproc` processes on this machine; returns the exit status."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
        "-m", "dayzero.sdk.launch", recipe, *overrides,
    ]
    if resume:
        cmd.append("--resume")
    if ignore_lock:
        cmd.append("--ignore-lock")
    # The lock is taken (and --overwrite done) here, once, before the processes start (they would race).
    from .compiler import compile as compile_plan
    from .runguard import begin_run
    from .runlock import HELD_ENV

    plan = compile_plan(recipe, overrides=overrides, ignore_lock=ignore_lock)
    lock = begin_run(Path(plan.run_dir), resume=resume, overwrite=overwrite, say=lambda text: print(text, file=sys.stderr))
    try:
        return subprocess.call(cmd, env={**os.environ, HELD_ENV: "1"})
    finally:
        lock.release()


def _worker(argv: list[str]) -> None:
    """One process of a torchrun launch."""
    from dayzero import sdk

    flags = {a for a in argv if a.startswith("--")}
    args = [a for a in argv if not a.startswith("--")]
    sdk.run(args[0], overrides=args[1:], resume="--resume" in flags, ignore_lock="--ignore-lock" in flags)


if __name__ == "__main__":
    _worker(sys.argv[1:])
