"""The registry as one JSON document for other tools, its JSON Schema, and diffs between exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dayzero.errors import RegistryError, Where
from dayzero.yamlio import read_json_object

from .schema import ChatFormat, Family, RulesFile
from .store import Registry, canonical_sha256

EXPORT_FORMAT = 1


def export_document(registry: Registry) -> dict[str, Any]:
    """Everything in the registry; ``sha256`` covers the canonical content (not the hash itself)."""
    content = {
        "registry_version": registry.version,
        "families": {fid: f.model_dump(mode="json", by_alias=True) for fid, f in sorted(registry.families.items())},
        "formats": {fid: f.model_dump(mode="json", by_alias=True) for fid, f in sorted(registry.formats.items())},
        "rules": [r.model_dump(mode="json") for r in registry.rules],
    }
    return {"export_format": EXPORT_FORMAT, "sha256": canonical_sha256(content), **content}


def json_schema() -> dict[str, Any]:
    """JSON Schema of the `registry export` document (the top level), with the definitions of a family file,
    a chat format file and the rules file under `$defs` (one flat table, so every `$ref` resolves from the root)."""
    from pydantic.json_schema import models_json_schema

    models = [(Family, "validation"), (ChatFormat, "validation"), (RulesFile, "validation")]
    _, defs = models_json_schema(models, by_alias=True, ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dayzero registry export",
        "description": "What `dayzero registry export` writes. Family, ChatFormat and RulesFile (under $defs) are "
        "the schemas of families/*.yaml, families/formats/*.yaml and families/rules.yaml.",
        "type": "object",
        "properties": {
            "export_format": {"const": EXPORT_FORMAT, "description": "Version of this document's layout."},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                       "description": "sha256 of the canonical JSON of everything but this field."},
            "registry_version": {"type": "string", "description": "The registry's semantic version."},
            "families": {"type": "object", "additionalProperties": {"$ref": "#/$defs/Family"},
                         "description": "Family id -> family entry."},
            "formats": {"type": "object", "additionalProperties": {"$ref": "#/$defs/ChatFormat"},
                        "description": "Chat format id -> format."},
            "rules": {"type": "array", "items": {"$ref": "#/$defs/Rule"}, "description": "The cross-option rules."},
        },
        "required": ["export_format", "sha256", "registry_version", "families", "formats", "rules"],
        "additionalProperties": False,
        "$defs": defs["$defs"],
    }


def load_export(path: Path) -> dict[str, Any]:
    doc = read_json_object(path, RegistryError)
    if "families" not in doc:
        raise RegistryError("not a registry export (no `families`)", where=Where(file=str(path)))
    return doc


# Fields a family's revision does not cover: the revision itself and its changelog.
_UNREVISED = ("revision", "changelog")


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between two exports, by family and dotted field path, and which changes were not versioned:
    `not_bumped` lists changed families whose revision did not increase; `registry_version_not_bumped` is true
    when families changed, were added or removed under the same registry version (README, "Versioning")."""
    changes: dict[str, Any] = {
        "registry_version": [old.get("registry_version"), new.get("registry_version")],
        "added": sorted(set(new["families"]) - set(old["families"])),
        "removed": sorted(set(old["families"]) - set(new["families"])),
        "changed": {},
        "not_bumped": [],
    }
    for fid in sorted(set(old["families"]) & set(new["families"])):
        a, b = old["families"][fid], new["families"][fid]
        fields = _diff_values(a, b, "")
        if fields:
            changes["changed"][fid] = fields
        facts = [f for f in fields if f.split(".", 1)[0] not in _UNREVISED]
        if facts and not _int(b.get("revision")) > _int(a.get("revision")):
            changes["not_bumped"].append(fid)
    touched = changes["added"] or changes["removed"] or changes["changed"]
    changes["registry_version_not_bumped"] = bool(touched) and old.get("registry_version") == new.get("registry_version")
    return changes


def _int(value: Any) -> int:
    return value if isinstance(value, int) else -1


def _diff_values(a: Any, b: Any, prefix: str) -> dict[str, list[Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: dict[str, list[Any]] = {}
        for key in sorted(set(a) | set(b)):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a:
                out[path] = [None, b[key]]
            elif key not in b:
                out[path] = [a[key], None]
            else:
                out.update(_diff_values(a[key], b[key], path))
        return out
    return {} if a == b else {prefix: [a, b]}
