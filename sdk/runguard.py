"""What a run does before it writes anything, and what it records when it ends badly.

`begin_run` creates the run directory, takes its lock (`sdk.runlock`), marks an earlier run found
`running` without its process as `interrupted`, removes an earlier run's artifacts on `--overwrite`
(only those: `sdk.artifacts.clear_run`) and refuses a directory holding checkpoints otherwise.
`recorded` writes run.json's `status: failed` with the error when an exception ends the run
(`interrupted` for Ctrl-C), and turns a failed write into a one-line `WriteError` naming the path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from dayzero.errors import WriteError

from . import artifacts, runlock
from .runinfo import rank, write_run_json
from .write_errors import writing


class _NoLock:
    """What ranks other than 0 (and processes whose launcher holds the lock) get: nothing to release."""

    stale = None

    def release(self) -> None:
        return None


def begin_run(run_dir: Path, *, resume: bool, overwrite: bool, say: Callable[[str], None]) -> Any:
    """Prepare `run_dir` for this run; returns the held lock (release it when the run ends)."""
    if rank() != 0:
        return _NoLock()
    with writing(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
        lock: Any = _NoLock() if os.environ.get(runlock.HELD_ENV) else runlock.acquire(run_dir)
    try:
        if lock.stale:
            say(f"run.lock: {runlock.describe_stale(lock.stale)}")
        if runlock.settle_status(run_dir, locked_by_us=True) == "interrupted":
            say(f"{run_dir / 'run.json'}: the earlier run ended without finishing; marked `interrupted`")
        if overwrite and not resume:
            with writing(run_dir):
                removed = artifacts.clear_run(run_dir)
            if removed:
                say(f"--overwrite: removed the earlier run's {', '.join(removed)} (other files are kept)")
        if not resume:
            artifacts.refuse_earlier_run(run_dir)
    except BaseException:
        lock.release()
        raise
    return lock


@contextmanager
def recorded(run_dir: Path, info: dict[str, Any]) -> Iterator[None]:
    """Record how the run ended in run.json when it ends with an exception; failed writes become WriteErrors."""
    try:
        with writing(run_dir):
            yield
    except BaseException as exc:
        if rank() == 0:
            interrupted = isinstance(exc, KeyboardInterrupt)
            info["status"] = "interrupted" if interrupted else "failed"
            info["error"] = "interrupted (KeyboardInterrupt)" if interrupted else f"{type(exc).__name__}: {exc}"
            with suppress(OSError, WriteError):  # the disk that failed the run may fail this too; the error still reaches the user
                write_run_json(run_dir, info)
        raise
