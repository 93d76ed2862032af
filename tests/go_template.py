"""A small evaluator of Go's text/template, the subset Ollama's chat templates use, for tests.

Written from Go's text/template documentation (pkg.go.dev/text/template): actions ``{{ }}`` with the
``{{-``/``-}}`` trim markers (all white space on that side is removed), comments, pipelines with ``|``,
``if``/``else if``/``else``/``end``, ``range`` (with ``$i, $x :=``, ``else``), variables declared with
``:=`` in the scope of their block and assigned with ``=`` (Go 1.11), ``$`` the data, fields
``.A.B`` / ``$x.A`` / ``(pipeline).A``, and the built-in functions ``and``/``or`` (short-circuit, returning
the deciding argument), ``not``, ``eq`` (any of several), ``ne``, ``lt``, ``le``, ``gt``, ``ge``, ``len``,
``index``, ``slice``, ``print``; plus Ollama's ``json`` (Go's encoding/json) and ``currentDate``.

Strict where Go errors: a missing struct field, an index out of range, comparing a string with a number.
Structs are `Struct` (always true, not printable); a value with a ``String`` method is `Stringer`.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any


class GoTemplateError(Exception):
    pass


class Struct(dict):
    """A Go struct: fields by name; `json` marshals ``json_value`` (the struct's JSON, in its tag order)."""

    def __init__(self, fields: dict[str, Any], json_value: Any = None) -> None:
        super().__init__(fields)
        self.json_value = json_value


class Stringer:
    """A value printed through its String method (Ollama's tool-call arguments)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return go_json(self.value)


def go_json(value: Any) -> str:
    """Go's json.Marshal: compact, keys in the given order, `<`, `>`, `&`, U+2028/9 escaped."""
    if isinstance(value, Struct):
        value = value.json_value
    if isinstance(value, Stringer):
        value = value.value
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text


# -- lexing ------------------------------------------------------------------------------------
_ACTION = re.compile(r'\{\{(-\s)?((?:"(?:[^"\\]|\\.)*"|`[^`]*`|[^"`])*?)(\s-)?\}\}', re.DOTALL)
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+)|(?P<decl>:=)|(?P<assign>=)'
    r"|(?P<var>\$\w*(?:\.\w+)*)|(?P<field>(?:\.\w+)+|\.)|(?P<ident>\w+)|(?P<punct>[(),|]))"
)


def _go_string(token: str) -> str:
    body = re.sub(r"\\U([0-9a-fA-F]{8})", lambda m: chr(int(m.group(1), 16)), token)
    return json.loads(body)


def _tokens(src: str) -> list[tuple[str, str, bool]]:
    """(kind, text, glued): ``glued`` when the token follows the previous one with no space (``(x).Role``)."""
    out, pos = [], 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if m is None:
            raise GoTemplateError(f"cannot read {src[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind) == pos))
        pos = m.end()
    return out


# -- parsing -----------------------------------------------------------------------------------
def parse(src: str) -> list[Any]:
    """The template as a node list: str (text), ("out", pipe), ("if", [(pipe, nodes)...], else), ("range", ...)."""
    items: list[Any] = []
    pos = 0
    for m in _ACTION.finditer(src):
        text = src[pos : m.start()]
        if m.group(1):
            text = text.rstrip(" \t\r\n")
        if items and isinstance(items[-1], tuple) and items[-1][0] == "trim_next":
            items.pop()
            text = text.lstrip(" \t\r\n")
        if text:
            items.append(text)
        inner = m.group(2).strip()
        if not inner.startswith("/*"):
            items.append(("action", inner))
        if m.group(3):
            items.append(("trim_next",))
        pos = m.end()
    text = src[pos:]
    if items and isinstance(items[-1], tuple) and items[-1][0] == "trim_next":
        items.pop()
        text = text.lstrip(" \t\r\n")
    if text:
        items.append(text)
    nodes, _, end = _block(items, 0)
    if end is not None:
        raise GoTemplateError(f"unexpected {{{{ {end} }}}}")
    return nodes


def _block(items: list[Any], i: int) -> tuple[list[Any], int, str | None]:
    """Nodes until an ``else``/``end``; returns (nodes, index after it, the keyword text) or (.., None) at EOF."""
    nodes: list[Any] = []
    while i < len(items):
        item = items[i]
        i += 1
        if isinstance(item, str):
            nodes.append(item)
            continue
        text = item[1]
        word = text.split(None, 1)[0] if text else ""
        if word in ("end", "else"):
            return nodes, i, text
        if word == "if":
            branches, els = [], None
            cond = _pipe(_tokens(text[2:]))
            while True:
                body, i, stop = _block(items, i)
                if stop is None:
                    raise GoTemplateError("unclosed if")
                branches.append((cond, body))
                if stop == "end":
                    break
                if stop.startswith("else if"):
                    cond = _pipe(_tokens(stop[len("else if") :]))
                    continue
                body, i, stop = _block(items, i)
                if stop != "end":
                    raise GoTemplateError("if: expected end after else")
                els = body
                break
            nodes.append(("if", branches, els))
        elif word == "range":
            toks = _tokens(text[5:])
            names: list[str] = []
            if any(k == "decl" for k, _, _ in toks):
                at = next(j for j, t in enumerate(toks) if t[0] == "decl")
                names = [t[1] for t in toks[:at] if t[0] == "var"]
                toks = toks[at + 1 :]
            body, i, stop = _block(items, i)
            els = None
            if stop == "else":
                els, i, stop = _block(items, i)
            if stop != "end":
                raise GoTemplateError("unclosed range")
            nodes.append(("range", names, _pipe(toks), body, els))
        else:
            toks = _tokens(text)
            if len(toks) >= 2 and toks[0][0] == "var" and toks[1][0] in ("decl", "assign"):
                nodes.append((toks[1][0], toks[0][1], _pipe(toks[2:])))
            else:
                nodes.append(("out", _pipe(toks)))
    return nodes, i, None


def _pipe(toks: list[tuple[str, str, bool]]) -> list[list[Any]]:
    """A pipeline: commands separated by ``|``; a command is a list of operands."""
    cmds: list[list[Any]] = [[]]
    j = 0
    while j < len(toks):
        kind, text, _ = toks[j]
        if kind == "punct" and text == "|":
            cmds.append([])
            j += 1
            continue
        operand, j = _operand(toks, j)
        cmds[-1].append(operand)
    if not cmds[0]:
        raise GoTemplateError("empty pipeline")
    return cmds


def _operand(toks: list[tuple[str, str, bool]], j: int) -> tuple[Any, int]:
    kind, text, _ = toks[j]
    if kind == "punct" and text == "(":
        depth, k = 0, j
        while True:
            if toks[k][1] == "(" and toks[k][0] == "punct":
                depth += 1
            elif toks[k][1] == ")" and toks[k][0] == "punct":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        node: Any = ("sub", _pipe(toks[j + 1 : k]))
        j = k + 1
        if j < len(toks) and toks[j][0] == "field" and toks[j][2] and toks[j][1] != ".":
            node = ("chain", node, toks[j][1].split(".")[1:])
            j += 1
        return node, j
    if kind == "str":
        return ("lit", _go_string(text)), j + 1
    if kind == "raw":
        return ("lit", text[1:-1]), j + 1
    if kind == "num":
        return ("lit", int(text)), j + 1
    if kind == "var":
        name, *fields = text.split(".")
        return ("var", name, fields), j + 1
    if kind == "field":
        return ("field", [] if text == "." else text.split(".")[1:]), j + 1
    if kind == "ident":
        if text in ("true", "false"):
            return ("lit", text == "true"), j + 1
        if text == "nil":
            return ("lit", None), j + 1
        return ("fn", text), j + 1
    raise GoTemplateError(f"unexpected {text!r}")


# -- evaluation --------------------------------------------------------------------------------
def truth(value: Any) -> bool:
    if isinstance(value, Struct | Stringer):
        return True
    if value is None:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        return bool(value)
    return True


def _field(value: Any, names: list[str]) -> Any:
    for name in names:
        if isinstance(value, Struct):
            if name not in value:
                raise GoTemplateError(f"can't evaluate field {name} in a struct with {sorted(value)}")
            value = value[name]
        elif isinstance(value, dict):  # a map: missingkey=zero
            value = value.get(name)
        else:
            raise GoTemplateError(f"can't evaluate field {name} of {type(value).__name__}")
    return value


def _basic(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "string"
    raise GoTemplateError(f"incomparable value {value!r}")


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if _basic(a) != _basic(b):
        raise GoTemplateError(f"incompatible types for comparison: {a!r} and {b!r}")
    return bool(a == b)


def _cmp(a: Any, b: Any) -> int:
    if _basic(a) != _basic(b) or _basic(a) == "bool":
        raise GoTemplateError(f"incompatible types for comparison: {a!r} and {b!r}")
    return (a > b) - (a < b)


def _print(*args: Any) -> str:
    out = ""
    for k, a in enumerate(args):
        if k and not isinstance(a, str) and not isinstance(args[k - 1], str):
            out += " "
        out += _text(a)
    return out


def _text(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str | Stringer):
        return str(value)
    raise GoTemplateError(f"refusing to print a {type(value).__name__} (not what Ollama's templates print)")


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, list | tuple | str):
            if not isinstance(key, int) or not 0 <= key < len(value):
                raise GoTemplateError(f"index out of range: {key}")
            value = value[key]
        elif isinstance(value, dict):
            value = value.get(key)
        else:
            raise GoTemplateError(f"can't index item of type {type(value).__name__}")
    return value


def _slice(value: Any, *bounds: int) -> Any:
    if not isinstance(value, list | tuple | str):
        raise GoTemplateError(f"can't slice item of type {type(value).__name__}")
    lo = bounds[0] if bounds else 0
    hi = bounds[1] if len(bounds) > 1 else len(value)
    if not 0 <= lo <= hi <= len(value):
        raise GoTemplateError(f"slice indices out of range: {lo}:{hi} of {len(value)}")
    return value[lo:hi]


_FUNCS = {
    "not": lambda a: not truth(a),
    "eq": lambda a, *bs: any(_eq(a, b) for b in bs),
    "ne": lambda a, b: not _eq(a, b),
    "lt": lambda a, b: _cmp(a, b) < 0,
    "le": lambda a, b: _cmp(a, b) <= 0,
    "gt": lambda a, b: _cmp(a, b) > 0,
    "ge": lambda a, b: _cmp(a, b) >= 0,
    "len": lambda a: len(a),
    "index": _index,
    "slice": _slice,
    "print": _print,
    "json": go_json,
    "currentDate": lambda *a: date.today().strftime("%Y-%m-%d"),
}


class _Scopes:
    def __init__(self, root: Any) -> None:
        self.stack: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        for scope in reversed(self.stack):
            if name in scope:
                return scope[name]
        raise GoTemplateError(f"undefined variable: {name}")

    def set(self, name: str, value: Any) -> None:
        for scope in reversed(self.stack):
            if name in scope:
                scope[name] = value
                return
        raise GoTemplateError(f"undefined variable: {name}")


def render(src: str, data: Any) -> str:
    """Execute the template ``src`` on ``data``."""
    out: list[str] = []
    scopes = _Scopes(data)
    _run(parse(src), data, scopes, out)
    return "".join(out)


def _run(nodes: list[Any], dot: Any, scopes: _Scopes, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "out":
            out.append(_text(_eval_pipe(node[1], dot, scopes)))
        elif node[0] == "decl":
            scopes.stack[-1][node[1]] = _eval_pipe(node[2], dot, scopes)
        elif node[0] == "assign":
            scopes.set(node[1], _eval_pipe(node[2], dot, scopes))
        elif node[0] == "if":
            for cond, body in node[1]:
                if truth(_eval_pipe(cond, dot, scopes)):
                    _scoped(body, dot, scopes, out, {})
                    break
            else:
                if node[2] is not None:
                    _scoped(node[2], dot, scopes, out, {})
        elif node[0] == "range":
            names, pipe, body, els = node[1], node[2], node[3], node[4]
            seq = _eval_pipe(pipe, dot, scopes)
            if isinstance(seq, dict):
                pairs = sorted(seq.items())
            elif isinstance(seq, list | tuple):
                pairs = list(enumerate(seq))
            elif seq is None:
                pairs = []
            else:
                raise GoTemplateError(f"range can't iterate over {seq!r}")
            if not pairs and els is not None:
                _scoped(els, dot, scopes, out, {})
            for key, item in pairs:
                names_map = {}
                if len(names) == 1:
                    names_map = {names[0]: item}
                elif len(names) == 2:
                    names_map = {names[0]: key, names[1]: item}
                _scoped(body, item, scopes, out, names_map)


def _scoped(nodes: list[Any], dot: Any, scopes: _Scopes, out: list[str], names: dict[str, Any]) -> None:
    scopes.stack.append(dict(names))
    try:
        _run(nodes, dot, scopes, out)
    finally:
        scopes.stack.pop()


def _eval_pipe(pipe: list[list[Any]], dot: Any, scopes: _Scopes) -> Any:
    value: Any = _NONE
    for cmd in pipe:
        value = _eval_cmd(cmd, dot, scopes, value)
    return value


_NONE = object()


def _eval_cmd(cmd: list[Any], dot: Any, scopes: _Scopes, piped: Any) -> Any:
    head = cmd[0]
    if head[0] == "fn":
        name = head[1]
        if name in ("and", "or"):
            args = cmd[1:]
            value: Any = None
            for k, a in enumerate(args):
                value = _eval_arg(a, dot, scopes)
                if (name == "and") != truth(value) or k == len(args) - 1:
                    break
            if piped is not _NONE:
                raise GoTemplateError(f"a pipe into {name} (not used by Ollama's templates)")
            return value
        if name not in _FUNCS:
            raise GoTemplateError(f'function "{name}" not defined')
        args = [_eval_arg(a, dot, scopes) for a in cmd[1:]]
        if piped is not _NONE:
            args.append(piped)
        try:
            return _FUNCS[name](*args)
        except TypeError as exc:
            raise GoTemplateError(f"wrong arguments for {name}: {exc}") from None
    if len(cmd) != 1 or piped is not _NONE:
        raise GoTemplateError(f"can't give arguments to a non-function {head!r}")
    return _eval_arg(head, dot, scopes)


def _eval_arg(node: Any, dot: Any, scopes: _Scopes) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "field":
        return _field(dot, node[1])
    if kind == "var":
        return _field(scopes.get(node[1]), node[2])
    if kind == "sub":
        return _eval_pipe(node[1], dot, scopes)
    if kind == "chain":
        return _field(_eval_arg(node[1], dot, scopes), node[2])
    if kind == "fn":
        return _eval_cmd([node], dot, scopes, _NONE)
    raise GoTemplateError(f"bad node {node!r}")
