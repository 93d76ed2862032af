"""The registry lock: per-family content hashes, kept in the repo.

A test fails when a family's content changes while its ``revision`` stays the same as in the lock;
``dayzero registry lock`` refreshes the lock and refuses to paper over such a change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dayzero.atomic import atomic_write_text
from dayzero.errors import RegistryError, Where
from dayzero.yamlio import read_json_object

from .store import LOCK_FILE, Registry


def compute(registry: Registry) -> dict[str, Any]:
    return {
        "registry_version": registry.version,
        "families": {
            fid: {"revision": registry.families[fid].revision, "sha256": registry.content_hash(fid)}
            for fid in sorted(registry.families)
        },
    }


def read(path: Path) -> dict[str, Any]:
    """The lock as written by `refresh`; anything else is a `RegistryError` naming the field."""
    if not path.is_file():
        return {"registry_version": None, "families": {}}
    data = read_json_object(path, RegistryError)
    families = data.get("families")
    if not isinstance(families, dict):
        raise RegistryError("malformed lock file: expected an object of families", where=Where(
            file=str(path), field="families"), hint="re-create it with `dayzero registry lock`")
    for fid, entry in families.items():
        ok = (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
              and isinstance(entry.get("revision"), int) and not isinstance(entry.get("revision"), bool))
        if not ok:
            raise RegistryError("malformed lock file: expected {revision: <int>, sha256: <str>}",
                                where=Where(file=str(path), field=f"families.{fid}"),
                                hint="re-create it with `dayzero registry lock`")
    return data


def stale(registry: Registry, locked: dict[str, Any]) -> list[str]:
    """Families whose content changed but whose revision did not: each needs a revision bump."""
    problems = []
    for fid, entry in compute(registry)["families"].items():
        old = locked.get("families", {}).get(fid)
        if old and old["sha256"] != entry["sha256"] and old["revision"] >= entry["revision"]:
            problems.append(
                f"{fid}: content changed but revision is still {entry['revision']} (locked at {old['revision']}); "
                "bump `revision` and add a changelog line"
            )
    return problems


def refresh(registry: Registry, path: Path | None = None) -> Path:
    path = path or registry.root / LOCK_FILE
    problems = stale(registry, read(path))
    if problems:
        raise RegistryError("; ".join(problems), where=Where(file=str(path)))
    atomic_write_text(path, json.dumps(compute(registry), indent=2, sort_keys=True) + "\n")
    return path
