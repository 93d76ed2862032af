"""Atomic file writes: readers never see half a file, and a failed write leaves the old one.

Everything dayzero writes (run.json, exports' manifests, locks, reports) goes through a temporary
sibling and a rename.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dayzero.errors import WRITE_ERRNOS, Where, WriteError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file through a temporary sibling and a rename, so readers never see half of it.

    A read-only folder or a full disk raises `WriteError` naming `path` (one line at the CLI).
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            raise WriteError(f"cannot write: {exc.strerror}", where=Where(file=str(path))) from exc
        raise
