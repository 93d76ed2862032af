"""The engine table: facts about serving engines that hold for every family (`families/engines.yaml`).

Read once per process, torch-free, validated like a family file (errors name file, line and field).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from dayzero.errors import RegistryError
from dayzero.yamlio import parse_yaml, read_text, validate

from .schema.engines import EngineTable


def load_engines(path: Path) -> EngineTable:
    """Validate the engine table at ``path``."""
    text = read_text(path, RegistryError)
    data = parse_yaml(text, str(path), RegistryError)
    return validate(EngineTable, data, source=str(path), text=text, error=RegistryError)


@lru_cache(maxsize=1)
def engines() -> EngineTable:
    """The bundled engine table."""
    from .store import ENGINES_FILE, default_root

    return load_engines(default_root() / ENGINES_FILE)
