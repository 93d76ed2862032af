"""`--resume`: the newest trainer checkpoint that was saved completely.

A checkpoint killed mid-save (or cut short by a full disk) is a `checkpoint-N` folder with some files
missing or truncated. The Trainer writes `trainer_state.json` last (`Trainer._save_checkpoint`: model,
optimizer, scheduler, scaler, rng state, then the state), so a checkpoint is complete when that file
parses and every weights / optimizer file in it is whole: a safetensors file as long as its header
says, a torch file a readable zip archive (its directory sits at the end, so a cut file has none).
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "trainer_state.json"  # transformers.trainer.TRAINER_STATE_NAME, the file written last


def incomplete_reason(folder: Path) -> str | None:
    """Why the checkpoint `folder` cannot be resumed from, or None when it is complete."""
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {STATE_FILE} (the trainer writes it last)"
    except (OSError, ValueError) as exc:
        return f"unreadable {STATE_FILE} ({exc})"
    if not isinstance(state, dict) or "global_step" not in state:
        return f"{STATE_FILE} has no global_step"
    for path in sorted(folder.iterdir()):
        if path.suffix == ".safetensors":
            problem = _safetensors_problem(path)
        elif path.suffix in (".pt", ".pth", ".bin"):
            problem = None if zipfile.is_zipfile(path) else "is not a complete torch archive"
        else:
            continue
        if problem:
            return f"{path.name} {problem}"
    return None


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > size:
                return "is truncated (header)"
            header = json.loads(handle.read(length))
    except (OSError, ValueError, struct.error):
        return "has no readable header"
    end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + length + end > size:
        return f"is truncated ({size} of {8 + length + end} bytes)"
    return None


def newest_complete(folder: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """(newest complete checkpoint or None, the newer incomplete ones skipped with their reason)."""
    if not folder.is_dir():
        return None, []
    found = sorted(
        ((int(m[1]), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))), reverse=True
    )
    skipped: list[tuple[Path, str]] = []
    for _, path in found:
        reason = incomplete_reason(path)
        if reason is None:
            return path, skipped
        skipped.append((path, reason))
    return None, skipped
