"""Write failures (read-only folder, full disk, quota) as one-line `WriteError`s naming the path.

Libraries report them in their own ways: Python raises `OSError` (with a filename, or without one
when `write()` on an open file fails), safetensors a `SafetensorError` quoting `os error 28`, torch a
`RuntimeError` from its zip writer (`PytorchStreamWriter failed writing file`, `unexpected pos`).
`writing(path)` turns any of those raised inside it into a `WriteError` naming the file (or `path`,
the folder being written, when the library did not say which file); anything else passes through.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dayzero.errors import WRITE_ERRNOS, DayzeroError, Where, WriteError

_OS_ERROR = re.compile(r"os error (\d+)")
_TORCH_WRITER = ("PytorchStreamWriter", "inline_container", "unexpected pos")


def write_failure(exc: BaseException) -> tuple[str, str | None] | None:
    """(reason, file or None) when `exc` (or what caused it) is a failed write; else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in WRITE_ERRNOS:
            return os.strerror(current.errno), current.filename
        text = str(current)
        match = _OS_ERROR.search(text)
        if match and int(match[1]) in WRITE_ERRNOS:
            return os.strerror(int(match[1])), None
        if isinstance(current, RuntimeError) and any(marker in text for marker in _TORCH_WRITER):
            return "the write failed (is the disk full?)", None
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn a failed write inside the block into a `WriteError` naming the file (or `path`)."""
    try:
        yield
    except DayzeroError:
        raise
    except Exception as exc:
        failure = write_failure(exc)
        if failure is None:
            raise
        reason, file = failure
        if file is None or _in_staging(Path(file), path):
            file = path  # the hidden staging sibling is dayzero's business: name the destination
        raise WriteError(f"cannot write: {reason}", where=Where(file=str(file))) from exc


def _in_staging(file: Path, path: Path) -> bool:
    """Whether `file` lies in a hidden sibling `.<name>.*` that is being built to become `path`."""
    prefix = f".{path.name}."
    return any(part.name.startswith(prefix) and part.parent == path.parent for part in (file, *file.parents))
