"""Where the registry's files are, importable without PyYAML or pydantic (the lookup fast path needs only this)."""

from __future__ import annotations

import os
from pathlib import Path

META_FILE = "registry.yaml"
RULES_FILE = "rules.yaml"
ENGINES_FILE = "engines.yaml"  # serving-engine facts for every family (registry/engines.py)
LOCK_FILE = "registry.lock.json"
FORMATS_DIR = "formats"
NOT_FAMILIES = frozenset({META_FILE, RULES_FILE, ENGINES_FILE})
"""YAML files at the top of a families folder that are not family files."""


def default_root() -> Path:
    """The bundled families folder (package data; found after a plain `pip install .` too).

    `DAYZERO_REGISTRY_ROOT` points at another families folder (benchmarks, a fork of the registry).
    The package's own folder is found from its `__file__` rather than `importlib.resources`, whose
    import alone costs a tenth of a lookup.
    """
    env = os.environ.get("DAYZERO_REGISTRY_ROOT")
    if env:
        return Path(env)
    import dayzero.families

    return Path(dayzero.families.__file__).parent


def family_path(root: Path, family_id: str) -> Path | None:
    """`<root>/<id>.yaml` for a plausible family id; None for ids that cannot name a family file."""
    name = f"{family_id}.yaml"
    if (
        not family_id
        or "/" in family_id
        or "\\" in family_id
        or family_id.startswith(".")
        or name in NOT_FAMILIES
    ):
        return None
    return root / name
