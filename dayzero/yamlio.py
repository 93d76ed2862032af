"""YAML in, with line numbers out: the one loader for family files, formats, rules and recipes.

PyYAML silently keeps the last of two equal keys and pydantic reports errors as field paths with no
line. This module refuses duplicate keys and maps a pydantic error's field path back to the line it
came from, so every message can say ``families/qwen2.yaml:42, field `tokenizer.eos```.

Input files are untrusted too: a file past ``MAX_FILE_BYTES``, aliases that expand past
``MAX_EXPANDED_NODES`` nodes (a "billion laughs" file of a few KB needs gigabytes once validated or
hashed), non-scalar mapping keys, integers past Python's digit limit, invalid UTF-8 and JSON nested
past the parser's depth are each a one-line error naming the file (and line where known).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dayzero.errors import DayzeroError, Problem, Where

# The C parser is several times faster; fall back where libyaml is absent.
_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

M = TypeVar("M", bound=BaseModel)

MAX_FILE_BYTES = 8_000_000
"""Family files, formats, rules, recipes and catalogs are a few KB; refuse anything past this."""
MAX_EXPANDED_NODES = 1_000_000
"""Values a YAML document may hold once its aliases are expanded."""


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """A safe loader that refuses duplicate keys (PyYAML would keep the last one silently)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value, not a list or mapping", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


def _checked_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    try:
        return int(yaml.constructor.SafeConstructor.construct_yaml_int(loader, node))
    except ValueError as exc:  # past sys.get_int_max_str_digits()
        raise yaml.constructor.ConstructorError(
            None, None, f"integer not readable: {exc}", node.start_mark
        ) from None


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)
_Loader.add_constructor("tag:yaml.org,2002:int", _checked_int)


def _expanded_size(data: Any, limit: int) -> int:
    """How many values ``data`` holds with shared (aliased) parts counted each time they appear."""
    memo: dict[int, int] = {}
    busy: set[int] = set()

    def size(obj: Any) -> int:
        if not isinstance(obj, dict | list):
            return 1
        key = id(obj)
        if key in memo:
            return memo[key]
        if key in busy:
            raise ValueError("an alias refers to the node that contains it")
        busy.add(key)
        children = [*obj.keys(), *obj.values()] if isinstance(obj, dict) else obj
        total = 1
        for child in children:
            total += size(child)
            if total > limit:
                break
        busy.discard(key)
        memo[key] = total
        return total

    return size(data)


def read_text(path: Path, error: type[DayzeroError] = DayzeroError) -> str:
    """A UTF-8 file's text; an unreadable file is an `error` naming it (never a bare OSError)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise error(f"file too large ({path.stat().st_size} bytes; at most {MAX_FILE_BYTES})",
                        where=Where(file=str(path)))
        return decode_utf8(path.read_bytes(), str(path), error)
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", where=Where(file=str(path))) from None


def decode_utf8(data: bytes, source: str, error: type[DayzeroError] = DayzeroError) -> str:
    """UTF-8 text (a leading BOM dropped); invalid bytes are an `error` naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"not UTF-8 text: byte {data[exc.start]:#04x} at offset {exc.start}",
                    where=Where(file=source, line=line)) from None


def loads_json(text: str, source: str, error: type[DayzeroError] = DayzeroError) -> Any:
    """``json.loads`` whose failures (malformed, nested too deeply, a number too long) are one `error`."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"malformed JSON: {exc.msg}", where=Where(file=source, line=exc.lineno)) from None
    except RecursionError:
        raise error("JSON nested too deeply", where=Where(file=source)) from None
    except ValueError as exc:  # e.g. an integer past sys.get_int_max_str_digits()
        raise error(f"JSON not readable: {exc}", where=Where(file=source)) from None


def read_yaml(path: Path, error: type[DayzeroError] = DayzeroError) -> Any:
    """Parse a YAML file, refusing duplicate keys; errors name the file and line."""
    return parse_yaml(read_text(path, error), str(path), error)


def read_json(path: Path, error: type[DayzeroError] = DayzeroError) -> Any:
    """Parse a JSON file (any value); errors name the file and line."""
    return loads_json(read_text(path, error), str(path), error)


def read_json_object(path: Path, error: type[DayzeroError] = DayzeroError) -> dict[str, Any]:
    """Parse a JSON file that must hold an object; errors name the file and line."""
    data = read_json(path, error)
    if not isinstance(data, dict):
        raise error("expected a JSON object", where=Where(file=str(path)))
    return data


def parse_yaml(text: str, source: str, error: type[DayzeroError] = DayzeroError) -> Any:
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise error(f"malformed YAML: {exc.problem or exc}", where=Where(file=source, line=line)) from None
    except yaml.YAMLError as exc:
        raise error(f"malformed YAML: {exc}", where=Where(file=source)) from None
    except RecursionError:
        raise error("YAML nested too deeply", where=Where(file=source)) from None
    if "&" in text:  # only anchors make aliases
        try:
            expanded = _expanded_size(data, MAX_EXPANDED_NODES)
        except ValueError as exc:
            raise error(f"malformed YAML: {exc}", where=Where(file=source)) from None
        if expanded > MAX_EXPANDED_NODES:
            raise error(f"YAML aliases expand to more than {MAX_EXPANDED_NODES} values", where=Where(file=source),
                        hint="a family file or recipe needs no such nesting; this looks like an alias bomb")
    return data


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line where the node at pydantic location ``loc`` starts, or its nearest parent."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def validate(
    model: type[M], data: Any, *, source: str, text: str | None, error: type[DayzeroError] = DayzeroError
) -> M:
    """Validate ``data`` as ``model``; the error names the file, the line and the field of the first problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source=source, text=text, error=error) from None


def validation_error(
    exc: ValidationError, *, source: str, text: str | None, error: type[DayzeroError] = DayzeroError
) -> DayzeroError:
    found: list[Problem] = []
    for problem in exc.errors(include_url=False):
        loc = tuple(p for p in problem["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        field = ".".join(str(p) for p in loc) or None
        line = line_of(text, loc) if text is not None else None
        found.append(Problem(_describe(problem, error.schema_command), Where(file=source, line=line, field=field)))
    message = found[0].message
    if len(found) > 1:  # the first one located in full, the others by line and field
        rest = "; ".join(f"{_short(p.where)}: {p.message}" for p in found[1:])
        message += f" (and {len(found) - 1} more: {rest})"
    return error(message, where=found[0].where, problems=found)


def _short(where: Where | None) -> str:
    if where is None:
        return "?"
    return ", ".join(x for x in (f"line {where.line}" if where.line else "", f"field `{where.field}`" if where.field else "") if x)


def _describe(problem: Any, schema_command: str) -> str:
    kind = problem["type"]
    if kind == "extra_forbidden":
        return f"unknown field (check its spelling against `{schema_command}`)"
    if kind == "missing":
        return "required field is missing"
    got = problem.get("input")
    text = problem["msg"].removeprefix("Value error, ")
    if kind != "value_error" and not isinstance(got, dict | list):
        text += f", got {got!r}"
    return text
