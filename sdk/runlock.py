"""One run per run directory: `run.lock`, and the status of runs whose process is gone.

The lock is an advisory `flock` on `<run dir>/run.lock`, which also holds the owner's pid, host and
start time (JSON) for the messages. The kernel drops a flock when its process dies, however it dies,
so a lock file whose flock can be taken was left by a run that is gone: it is reported and taken over.
A second run while the first is alive gets a `RecipeError` naming the pid and host (exit 2).

`settle_status` marks a run.json still saying `running` as `interrupted` when no process holds the lock.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from dayzero.errors import RecipeError, Where, WriteError

LOCK_FILE = "run.lock"
HELD_ENV = "DAYZERO_RUN_LOCK_HELD"  # set by a launcher that holds the lock for the processes it starts


def _flock(fd: int, path: Path, exclusive: bool = True) -> bool:
    """Whether this process now holds the lock. Where the filesystem has no flock (some network mounts),
    the pid in the lock file decides: held while that pid is alive on this host."""
    import fcntl

    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
        owner = _read(path)
        pid = owner.get("pid")
        return not (isinstance(pid, int) and pid != os.getpid() and owner.get("host") == socket.gethostname()
                    and pid_alive(pid))
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _owner(data: dict[str, Any]) -> str:
    return f"pid {data.get('pid', '?')} on host {data.get('host', '?')}, since {data.get('started', '?')}"


class RunLock:
    """A held run lock; `release()` (or leaving the `with` block) unlocks and removes the file."""

    def __init__(self, path: Path, fd: int, stale: dict[str, Any] | None) -> None:
        self.path = path
        self._fd: int | None = fd
        self.stale = stale  # the owner recorded in a lock left by a run that is gone, if there was one

    def release(self) -> None:
        if self._fd is None:
            return
        with suppress(OSError):
            self.path.unlink(missing_ok=True)  # unlinked while still locked: a waiter re-checks the inode
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(run_dir: Path) -> RunLock:
    """Lock `run_dir` for this process, or raise naming the live run that holds it."""
    path = run_dir / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _flock(fd, path):
            os.close(fd)
            raise RecipeError(
                f"run directory {run_dir} is in use by another run ({_owner(_read(path))})",
                where=Where(file=str(path)),
                hint="wait for it to finish, or give this run another `name` / `train.output_dir`",
            )
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file between our open and our lock: take the new one
    previous = _read(path)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    data = (json.dumps(record) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    return RunLock(path, fd, previous or None)


def is_locked(run_dir: Path) -> dict[str, Any] | None:
    """The owner of a live lock on `run_dir`, or None when no process holds it."""
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _flock(fd, path, exclusive=False):
            return None
        return _read(path) or {"pid": "?"}
    finally:
        os.close(fd)


def settle_status(run_dir: Path, *, locked_by_us: bool = False) -> str | None:
    """Mark a run.json that says `running` while no process holds the lock as `interrupted`.

    `locked_by_us`: this process holds the lock (a new run starting), so a `running` status is another's.
    Returns the status now recorded (None when there is no readable run.json). A run dir that cannot be
    written keeps its run.json as it is.
    """
    from .runinfo import write_run_json

    path = run_dir / "run.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    status = info.get("status")
    if status == "running" and (locked_by_us or is_locked(run_dir) is None):
        info["status"] = "interrupted"
        info["error"] = "the run's process ended without recording how (killed, or the machine stopped)"
        with suppress(OSError, WriteError):  # a read-only run dir keeps its run.json as it is
            write_run_json(run_dir, info)
        return "interrupted"
    return str(status) if status is not None else None


def describe_stale(stale: dict[str, Any]) -> str:
    return f"took over the lock of an earlier run that is gone ({_owner(stale)})"
