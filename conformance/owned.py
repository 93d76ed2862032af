"""Conformance output files are replaced only when they are dayzero's own (never a user's file of the same name).

A report folder given with `--report` may hold other files; `<id>.json`, `<id>.md`, `<id>.html`, `index.html` and
`vllm/<id>.json` are written there. Each kind is recognised by a mark its own writer always puts in it; a file
of that name without the mark is refused with a one-line error naming it.
"""

from __future__ import annotations

from pathlib import Path

from dayzero.atomic import atomic_write_text
from dayzero.errors import ConformanceError, Where

REPORT_JSON = '"report_schema"'
REPORT_MD = "# Conformance: `"
MATRIX_HTML = "<title>dayzero support matrix"
FAMILY_HTML = ": dayzero family</title>"
VLLM_RECORD = '"record_schema"'


def refuse_foreign(path: Path, mark: str) -> None:
    """Raise `ConformanceError` naming ``path`` when a file there lacks ``mark`` (it is not dayzero's)."""
    if not path.exists():
        return
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        head = ""
    if mark not in head:
        raise ConformanceError(
            "exists and is not a file dayzero wrote; not replaced (choose another --report folder)",
            where=Where(file=str(path)),
        )


def write_owned(path: Path, text: str, mark: str) -> None:
    """Write ``text`` to ``path`` (atomically) unless a file there lacks ``mark``, which ``text`` must carry."""
    assert mark in text, f"the text for {path.name} lacks its own mark {mark!r}"
    refuse_foreign(path, mark)
    atomic_write_text(path, text)
