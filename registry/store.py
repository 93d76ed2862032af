"""Loading the registry: read every family file, validate it, and check what spans files.

Per-file problems (bad YAML, unknown fields, wrong types) are found by the schema; this module finds
what only the whole registry shows: duplicate ids, a file name that disagrees with its id, dangling
format references, and two families claiming one architecture with no tie-break.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dayzero.errors import RegistryError, Where
from dayzero.yamlio import decode_utf8, parse_yaml, read_text, read_yaml, validate

from . import index as _cache
from .paths import (  # noqa: F401 - re-exported: the names other modules import from here
    ENGINES_FILE,
    FORMATS_DIR,
    LOCK_FILE,
    META_FILE,
    NOT_FAMILIES,
    RULES_FILE,
    default_root,
    family_path,
)
from .schema import ChatFormat, Family, Rule, RulesFile


def load_one(root: Path, family_id: str) -> Family | None:
    """One family, validated, read from `<root>/<id>.yaml` alone (None when there is no such file).

    A lookup by id costs one file whatever the registry's size; the checks that span files (duplicate
    ids, claims, hub ids, the lock) run when the whole registry loads (`load`, `dayzero registry validate`).
    """
    path = family_path(root, family_id)
    if path is None or not path.is_file():
        return None
    family = read_family(path)
    _check_stem(path, family.id)
    return family


def read_family(path: Path) -> Family:
    """One family file, validated: from the cache when these exact bytes were validated before (`registry/index.py`)."""
    data = _cache.read_bytes(path)
    if data is None:  # missing, unreadable or too large: let the reader say which
        return _model(Family, path)
    family = _cache.cached_family(data)
    if family is None:
        family = _model(Family, path, decode_utf8(data, str(path), RegistryError))
        _cache.remember(data, family)
    return family


@dataclass
class Registry:
    """The loaded, validated registry. Plain data plus lookups; no torch anywhere."""

    root: Path
    version: str
    families: dict[str, Family]
    formats: dict[str, ChatFormat]
    rules: list[Rule]
    sources: dict[str, Path] = field(default_factory=dict)
    drafts: dict[str, Family] = field(default_factory=dict)
    """Entries drafted on the fly (`add_draft`): found by `get`, never listed in `families` nor matched by config."""

    def get(self, family_id: str) -> Family:
        from dayzero.errors import FamilyNotFoundError

        try:
            return self.families[family_id] if family_id in self.families else self.drafts[family_id]
        except KeyError:
            known = ", ".join(sorted(self.families))
            raise FamilyNotFoundError(
                f"no family with id {family_id!r}", hint=f"known ids: {known}; or use `dayzero registry resolve`"
            ) from None

    def add_draft(self, family: Family, fmt: ChatFormat | None = None) -> None:
        """Hold an unverified entry drafted on the fly (a model the registry does not know) for this process.

        Nothing is written: the entry lives in this Registry object only, so every stage of one run
        (compile, data, train, export) finds it by id like a bundled family.
        """
        taken = self.families.get(family.id) or self.drafts.get(family.id)
        if taken is not None and taken != family:
            raise RegistryError(f"family id {family.id!r} is already taken", where=Where(field="id"))
        if fmt is not None and fmt.id in self.formats and self.formats[fmt.id] != fmt:
            raise RegistryError(f"chat format id {fmt.id!r} is already taken", where=Where(field="id"))
        if fmt is not None:
            self.formats[fmt.id] = fmt
        if family.template.format not in self.formats:
            raise RegistryError(f"draft {family.id!r} uses unknown chat format {family.template.format!r}")
        self.drafts[family.id] = family

    def format_of(self, family: Family) -> ChatFormat:
        return self.formats[family.template.format]

    def content_hash(self, family_id: str) -> str:
        """sha256 of a family's canonical content, including the chat format it references.

        Comments and key order in the YAML do not count; any change of a fact does.
        """
        family = self.get(family_id)
        return family_hash(family, self.format_of(family))


def family_hash(family: Family, fmt: ChatFormat) -> str:
    """sha256 of one entry's canonical content and its chat format (also for entries no registry holds)."""
    payload = {
        "family": family.model_dump(mode="json", by_alias=True),
        "format": without_new_defaults(fmt, fmt.model_dump(mode="json", by_alias=True)),
    }
    return canonical_sha256(payload)


def without_new_defaults(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the fields marked `hash_omits_default` that hold their default: a field added to the
    schema later (`ChatFormat.final_tail`) changes no entry's hash, and so stales no report, until a file sets it."""
    for name, info in type(model).model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("hash_omits_default") and getattr(model, name) == info.default:
            data.pop(info.alias or name, None)
    return data


def canonical_sha256(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load(root: Path | None = None, extra_files: Iterable[Path] = ()) -> Registry:
    """Load and validate the registry under ``root`` (default: the bundled one).

    ``extra_files`` are family files validated together with the registry (``dayzero registry
    validate FILE``): a new file must not clash with the families already there.
    """
    root = root or default_root()
    meta = _read(root / META_FILE)
    if not isinstance(meta, dict) or not isinstance(meta.get("version"), str):
        raise RegistryError(
            "expected a mapping with a `version` string", where=Where(file=str(root / META_FILE), field="version")
        )
    formats: dict[str, ChatFormat] = {}
    for path in sorted((root / FORMATS_DIR).glob("*.yaml")):
        fmt = _model(ChatFormat, path)
        _check_stem(path, fmt.id)
        formats[fmt.id] = fmt

    families: dict[str, Family] = {}
    sources: dict[str, Path] = {}
    paths = sorted(p for p in root.glob("*.yaml") if p.name not in NOT_FAMILIES)
    for path in [*paths, *extra_files]:
        family = read_family(Path(path))
        if path.parent == root:
            _check_stem(path, family.id)
        if family.id in families:
            if sources[family.id].resolve() == Path(path).resolve():
                continue
            raise RegistryError(
                f"duplicate family id {family.id!r}, also defined in {sources[family.id]}",
                where=Where(file=str(path), field="id"),
            )
        if family.template.format not in formats:
            raise RegistryError(
                f"unknown chat format {family.template.format!r}; expected one of {sorted(formats)}",
                where=Where(file=str(path), field="template.format"),
                hint=f"add {FORMATS_DIR}/{family.template.format}.yaml or fix the reference",
            )
        for ckpt in family.checkpoints:
            if ckpt.overrides.template and ckpt.overrides.template not in formats:
                raise RegistryError(
                    f"checkpoint {ckpt.hf} overrides the template with unknown format {ckpt.overrides.template!r}",
                    where=Where(file=str(path), field="checkpoints.overrides.template"),
                )
        families[family.id] = family
        sources[family.id] = Path(path)

    rules_path = root / RULES_FILE
    rules = _model(RulesFile, rules_path).rules if rules_path.exists() else []
    _check_rule_ids(rules, rules_path)
    if (root / ENGINES_FILE).exists():  # validated with the families, so `registry validate` covers it
        from .engines import load_engines

        load_engines(root / ENGINES_FILE)
    _check_claims(families, sources)
    _check_hub_ids(families, sources)
    return Registry(
        root=root, version=meta["version"], families=families, formats=formats, rules=rules, sources=sources
    )


def _read(path: Path) -> object:
    return read_yaml(path, RegistryError)


def _model(model: type, path: Path, text: str | None = None):  # type: ignore[no-untyped-def]
    text = read_text(path, RegistryError) if text is None else text
    data = parse_yaml(text, str(path), RegistryError)
    if not isinstance(data, dict):
        raise RegistryError(f"expected a mapping at the top, got {type(data).__name__}", where=Where(file=str(path)))
    return validate(model, data, source=str(path), text=text, error=RegistryError)


def _check_stem(path: Path, ident: str) -> None:
    if path.stem != ident:
        raise RegistryError(
            f"id {ident!r} does not match the file name {path.name!r}",
            where=Where(file=str(path), field="id"),
            hint=f"rename the file to {ident}.yaml or change the id",
        )


def _check_rule_ids(rules: list[Rule], path: Path) -> None:
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.id in seen:
            raise RegistryError(f"duplicate rule id {rule.id!r}", where=Where(file=str(path), field=f"rules.{index}.id"))
        seen.add(rule.id)


def _check_claims(families: dict[str, Family], sources: dict[str, Path]) -> None:
    """Two families may share an architecture only if all but one say `when` they apply."""
    defaults: dict[str, str] = {}
    for family in families.values():
        if family.match.when:
            continue
        for arch in family.match.architectures:
            other = defaults.get(arch)
            if other is not None:
                raise RegistryError(
                    f"families {other!r} and {family.id!r} both claim architecture {arch!r} with no tie-break",
                    where=Where(file=str(sources[family.id]), field="match.when"),
                    hint="give one of them `match.when` conditions (e.g. `config.vocab_size: 128256`)",
                )
            defaults[arch] = family.id


def _check_hub_ids(families: dict[str, Family], sources: dict[str, Path]) -> None:
    owner: dict[str, str] = {}
    for family in families.values():
        for index, ckpt in enumerate(family.checkpoints):
            for hub_id in filter(None, (ckpt.hf, ckpt.modelscope)):
                key = hub_id.lower()
                if owner.get(key, family.id) != family.id:
                    raise RegistryError(
                        f"checkpoint {hub_id!r} is already listed by family {owner[key]!r}",
                        where=Where(file=str(sources[family.id]), field=f"checkpoints.{index}"),
                    )
                owner[key] = family.id
