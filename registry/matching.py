"""Mapping a model to its family: by registry id, by hub id, or by its config files.

Order: a registry id; a path to a config.json or a model directory; a known Hugging Face or
ModelScope id; otherwise an error saying what was tried. Config matching follows ``match``:
architectures / model_type first, then ``when`` conditions to choose among families that share an
architecture, then the one family that claims it with no condition.

A config match is then checked against the model's own tokenizer_config / generation_config /
chat template (`consistency.py`): what contradicts the family is listed in `Resolution.conflicts`,
and a resolution with conflicts is not `verified` (the compiler drafts an unverified entry instead).
A hub id the registry does not list is looked up in the local Hugging Face cache (no network).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dayzero.errors import FamilyNotFoundError, RegistryError, Where
from dayzero.yamlio import read_json_object

from .ruleset import fact
from .schema import Checkpoint, Family
from .store import Registry

MatchedBy = Literal["id", "hub_id", "config"]


@dataclass(frozen=True)
class Resolution:
    """A family, the checkpoint when one is known, and how the match was made."""

    family: Family
    checkpoint: Checkpoint | None
    matched_by: MatchedBy
    conflicts: tuple[str, ...] = field(default=())
    """Facts of the model's own files that contradict the family (and every checkpoint override)."""
    model_dir: Path | None = None
    """The folder whose files were read, for a config match."""

    @property
    def verified(self) -> bool:
        """True when nothing in the model's own files contradicts the family."""
        return not self.conflicts

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family.id,
            "revision": self.family.revision,
            "status": self.family.status,
            "matched_by": self.matched_by,
            "checkpoint": self.checkpoint.model_dump(mode="json") if self.checkpoint else None,
            "verified": self.verified,
            "conflicts": list(self.conflicts),
        }


def resolve(registry: Registry, target: str | Path | dict[str, Any]) -> Resolution:
    if isinstance(target, dict):
        return _by_config(registry, {"config": target}, source="<dict>")
    text = str(target)
    if text in registry.families:
        return Resolution(registry.families[text], None, "id")
    path = Path(text).expanduser()
    if path.exists():
        return _by_files(registry, path)
    for family in registry.families.values():
        ckpt = family.checkpoint(text)
        if ckpt is not None:
            return Resolution(family, ckpt, "hub_id")
    cached = cached_model_dir(text)
    if cached is not None:
        return _by_files(registry, cached)
    raise FamilyNotFoundError(
        f"{text!r} is neither a family id, an existing path, nor a checkpoint the registry lists",
        hint="pass the model's config.json (or its directory) to match by architecture",
    )


def cached_model_dir(hub_id: str) -> Path | None:
    """The local Hugging Face cache snapshot holding `hub_id`'s config.json, if any (never the network)."""
    if hub_id.count("/") != 1 or hub_id.startswith((".", "/", "~")):
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(hub_id, "config.json")
    except Exception:  # an id the cache layer refuses (HFValidationError...) is simply not cached
        return None
    return Path(found).parent if isinstance(found, str) else None


def _read_model_files(path: Path) -> dict[str, Any]:
    """config.json (required) and, beside it, tokenizer_config.json, generation_config.json and chat_template.jinja."""
    config_path = path / "config.json" if path.is_dir() else path
    docs: dict[str, Any] = {"config": read_json_object(config_path, RegistryError)}
    for name in ("tokenizer_config", "generation_config"):
        side = config_path.parent / f"{name}.json"
        if side.exists():
            docs[name] = read_json_object(side, RegistryError)
    jinja = config_path.parent / "chat_template.jinja"
    if jinja.is_file():
        docs["chat_template_text"] = jinja.read_text(encoding="utf-8")
    return docs


def _by_files(registry: Registry, path: Path) -> Resolution:
    """A config match, checked against the rest of the model's own files."""
    from .consistency import contradictions

    docs = _read_model_files(path)
    res = _by_config(registry, docs, source=str(path))
    folder = path if path.is_dir() else path.parent
    return Resolution(res.family, res.checkpoint, res.matched_by, tuple(contradictions(res.family, docs)), folder)


def _lookup(docs: dict[str, Any], dotted: str) -> Any:
    value = fact(docs, dotted)
    if isinstance(value, dict) and "content" in value:  # tokenizer_config AddedToken objects
        return value["content"]
    return value


def _most_specific(families: list[Any]) -> list[Any]:
    """Of several families whose `when` all hold, those no other one refines: a family whose conditions include
    another's and add more is the more specific rule (Phi-4-reasoning: Phi-4's vocabulary and its own template)."""
    def conditions(f: Any) -> set[tuple[str, str]]:
        return {(k, repr(v)) for k, v in f.match.when.items()}  # repr: a value may be a list

    def refines(a: Any, b: Any) -> bool:
        return conditions(a) > conditions(b)

    return [f for f in families if not any(refines(g, f) for g in families if g is not f)]


def _by_config(registry: Registry, docs: dict[str, Any], source: str) -> Resolution:
    config = docs["config"]
    archs = config.get("architectures") or []
    model_type = config.get("model_type")
    if not archs and not model_type:
        raise RegistryError(
            "config has neither `architectures` nor `model_type`", where=Where(file=source, field="architectures")
        )
    known = list(registry.families.values())  # drafts made on the fly are never matched
    candidates = [
        f
        for f in known
        if set(archs) & set(f.match.architectures) or (not archs and model_type in f.match.model_types)
    ]
    if not candidates and model_type:
        candidates = [f for f in known if model_type in f.match.model_types]
    if not candidates:
        raise FamilyNotFoundError(
            f"no family covers architectures {archs} / model_type {model_type!r}",
            where=Where(file=source),
            hint="draft one with `dayzero day0`",
        )
    conditional = _most_specific([
        f for f in candidates if f.match.when and all(_lookup(docs, k) == v for k, v in f.match.when.items())
    ])
    if len(conditional) > 1:
        raise RegistryError(
            f"config matches several families: {[f.id for f in conditional]}",
            where=Where(file=source),
            hint="make their `match.when` conditions exclusive",
        )
    if conditional:
        return Resolution(conditional[0], None, "config")
    defaults = [f for f in candidates if not f.match.when]
    if not defaults:
        raise FamilyNotFoundError(
            f"families {[f.id for f in candidates]} cover this architecture but none of their `when` conditions hold",
            where=Where(file=source),
        )
    return Resolution(defaults[0], None, "config")
