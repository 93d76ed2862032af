"""What dayzero may delete or replace: its own artifacts, recognised by name or manifest, and nothing else.

- A run directory holds `RUN_ARTIFACTS` (and hidden temporaries named after them, `.<name>.*`);
  `clear_run` removes exactly those, so `run --overwrite` never touches a file the user put there.
  An `export/` folder in it counts only when it carries `EXPORT_MANIFEST` and nothing that manifest does
  not list; `run.lock` is left to `sdk.runlock` (the run clearing the folder holds it).
- An export folder is dayzero's when it carries `EXPORT_MANIFEST`; `check_export_target` refuses a
  non-empty folder without one, and one with it unless the caller asked to overwrite.
- `swap_in` puts a complete staging folder in place: the old folder is renamed aside, the new one
  renamed in, and only then is the old one removed, so a target is never missing its old content
  before the new content is there. `clean_stale_partials` removes staging folders of killed writers.
- `unsafe_dir` names the folders a run or an export must never be (they hold the user's files).
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import suppress
from pathlib import Path
from typing import Any

from dayzero.errors import ExportError, RecipeError, Where

from .runlock import LOCK_FILE, pid_alive

EXPORT_MANIFEST = "dayzero_export.json"
RUN_FILES = ("run.json", "run.lock", "loss.png")
RUN_DIRS = ("base", "checkpoints", "final", "logs")
RUN_ARTIFACTS = (*RUN_FILES, *RUN_DIRS, "export")
_PARTIAL = re.compile(r"^\.(?P<name>.+)\.(?:partial|old)-(?P<pid>\d+)$")


def partial_name(target: Path) -> Path:
    """The staging sibling a writer of `target` builds into (`.<name>.partial-<pid>`)."""
    return target.with_name(f".{target.name}.partial-{os.getpid()}")


def unsafe_dir(path: Path, *, recipe_dir: Path | None = None) -> str | None:
    """Why `path` must not be a run or export folder (the working directory, the recipe's folder, the home
    directory, `/`, or a folder above one of them), or None when it is safe."""
    resolved = path.resolve()
    protected = [(Path.cwd(), "the working directory"), (Path.home(), "the home directory"), (Path("/"), "`/`")]
    if recipe_dir is not None:
        protected.insert(1, (recipe_dir, "the recipe's folder"))
    for folder, what in protected:
        folder = folder.resolve()
        if resolved == folder:
            return f"is {what}"
        if resolved in folder.parents:
            return f"is a folder above {what} ({folder})"
    return None


def unsafe_output_dirs(recipe: Any, run_dir: str, recipe_dir: Path | None) -> list[str]:
    """Compile-time problem lines for a `train.output_dir` or `export.out` that would hold the user's files."""
    problems = []
    why = unsafe_dir(Path(run_dir), recipe_dir=recipe_dir)
    if why is not None:
        problems.append(f"[train.output_dir] `{run_dir}` {why}; a run directory must be a folder of its own "
                        "(`--overwrite` removes the run's artifacts there), e.g. `runs/{name}`")
    out = recipe.export.out
    why = unsafe_dir(Path(out), recipe_dir=recipe_dir) if out else None
    if why is not None:
        problems.append(f"[export.out] `{out}` {why}; an export needs a folder of its own")
    return problems


def is_export(folder: Path) -> bool:
    return (folder / EXPORT_MANIFEST).is_file()


def foreign_files(export: Path) -> list[str]:
    """Files in an earlier export that its manifest does not list (added by someone else), or ["<manifest>"]
    when the manifest cannot be read: replacing the folder would delete them."""
    import json

    try:
        listed = set(json.loads((export / EXPORT_MANIFEST).read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return [f"{EXPORT_MANIFEST} (unreadable)"]
    return sorted(p.name for p in export.iterdir() if p.name not in listed and p.name != EXPORT_MANIFEST)


def owned_export(folder: Path) -> bool:
    """An earlier dayzero export holding nothing but what dayzero wrote into it."""
    return folder.is_dir() and not folder.is_symlink() and is_export(folder) and not foreign_files(folder)


def check_export_target(out: Path, *, overwrite: bool, recipe_dir: Path | None = None) -> None:
    """Refuse to write an export at `out` unless it is absent, empty, or (with `overwrite`) an earlier export."""
    where = Where(file=str(out))
    why = unsafe_dir(out, recipe_dir=recipe_dir)
    if why is not None:
        raise ExportError(f"the export folder {why}; an export needs a folder of its own", where=where)
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir() or out.is_symlink():
        raise ExportError("exists and is a file or a symlink; dayzero replaces only an earlier export folder", where=where,
                          hint="choose another --out")
    if is_export(out):
        if not overwrite:
            raise ExportError("holds an earlier export", where=where,
                              hint="pass --overwrite (or `export.overwrite: true`) to replace it, or choose another --out")
        extra = foreign_files(out)
        if extra:
            raise ExportError(f"holds an earlier export with files dayzero did not write: {', '.join(extra[:5])}",
                              where=where, hint="move them out first, or choose another --out")
        return
    if any(out.iterdir()):
        raise ExportError(
            f"is not empty and is not a dayzero export (no {EXPORT_MANIFEST}); dayzero never deletes files it did not write",
            where=where, hint="choose another --out, or an empty folder",
        )


def clean_stale_partials(target: Path) -> list[Path]:
    """Remove `.<name>.partial-<pid>` folders beside `target` whose writer is gone; put back an old folder a
    killed swap left aside (`.<name>.old-<pid>`) when `target` itself is missing. Returns what was removed."""
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    for entry in sorted(target.parent.iterdir()):
        m = _PARTIAL.match(entry.name)
        if not m or m["name"] != target.name or pid_alive(int(m["pid"])):
            continue
        if ".old-" in entry.name and not target.exists():
            os.rename(entry, target)  # the swap was killed between its two renames: the old folder comes back
            continue
        _remove(entry)
        removed.append(entry)
    return removed


def swap_in(staging: Path, target: Path) -> None:
    """Rename the complete folder `staging` to `target`; an existing `target` is removed only after the new one is in."""
    if not target.exists() and not target.is_symlink():
        os.rename(staging, target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)  # the new one could not go in: the old one stays where it was
        raise
    with suppress(OSError):  # the new export is in place; an old copy that will not go is left hidden
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def clear_run(run_dir: Path) -> list[str]:
    """Remove an earlier run's artifacts from `run_dir` (`run --overwrite`); every other file stays.

    Removed: RUN_FILES, RUN_DIRS, `export/` when it is an export holding only what dayzero wrote, and temporaries
    named after any of them (`.run.json.*`, `.export.partial-*`, ...). Returns the names removed.
    """
    if not run_dir.is_dir():
        return []
    removed: list[str] = []
    for entry in sorted(run_dir.iterdir()):
        name = entry.name
        owned = name in RUN_FILES or name in RUN_DIRS or (name == "export" and owned_export(entry))
        owned = owned or any(name.startswith(f".{artifact}.") for artifact in RUN_ARTIFACTS)
        if not owned or name == LOCK_FILE:  # the lock belongs to the run now clearing the folder
            continue
        _remove(entry)
        removed.append(name)
    return removed


def refuse_earlier_run(run_dir: Path) -> None:
    """A run directory that already holds a run needs `--resume` or `--overwrite`."""
    checkpoints = run_dir / "checkpoints"
    if checkpoints.is_dir() and any(checkpoints.iterdir()):
        raise RecipeError(
            f"run directory {run_dir} already has checkpoints",
            hint="pass --resume to continue it, --overwrite to start again, or set `name` / `train.output_dir`",
        )
