"""Time and memory bounds for rendering an untrusted chat template in jinja2's sandbox.

A template is code. jinja2's sandbox stops it reaching Python internals, but not from looping for
hours over a plain list or asking for ``'x'.center(4000000000)``. Checking only the output (as a
first version did) misses both: loops over a list never call back into the environment, and one
C-level allocation can take gigabytes before any check runs. So every construct that repeats or
allocates is routed through a check here, in process (a subprocess per render would cost more than
the render itself on the data-preprocessing hot path; ``benchmarks/template_bounds.py`` measures
what these checks cost):

- time: the deadline is checked on every call, attribute and item access, every 1024 items of every
  ``{% for %}`` loop (the parser wraps each loop's iterable) and every output chunk;
- memory, before allocating: string methods and filters that grow their input (``center``,
  ``ljust``/``rjust``/``zfill``, ``replace``, ``expandtabs``, ``translate``, ``join``, ``indent``,
  ``wordwrap``, ``batch``, ``%`` and ``format`` widths), ``*``/``+``/``~`` on strings and lists,
  ``**`` and ``*`` on integers, ``sum`` of lists, and the joining of captured blocks and macro
  bodies are refused past ``max_value`` characters (or items) per value;
- memory, overall: the sizes of all those results are charged to the render, which stops past
  ``max_alloc``: many values each under the cap cannot add up to gigabytes either;
- time, in one call: filters that loop item by item inside one call no check can interrupt
  (``sort``, ``urlize``, ``select``, ``wordwrap``...) take at most ``SLOW_FILTER_INPUT`` items, and
  jinja's ``lipsum`` global at most 100 paragraphs.

Filters are wrapped in ``bounded_filters.py``. Whatever stops a render is a ``TemplateError``; ``MemoryError`` and ``RecursionError`` become one too.
"""

from __future__ import annotations

import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jinja2.nodes as nodes
from jinja2.visitor import NodeTransformer

from dayzero.errors import TemplateError

MAX_VALUE = 4_000_000
"""Characters (or items) one value of a render may hold: the output limit."""
MAX_ALLOC_FACTOR = 32
"""The characters and items all checked operations of one render may allocate, in units of ``max_value``."""
MAX_INT_BITS = 100_000
MAX_INDENT = 64


class Budget:
    """Deadline and allocation budget of one render; the environment consults the active one."""

    def __init__(self, timeout_s: float, max_value: int, max_alloc: int | None = None) -> None:
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.max_value = max_value
        self.alloc_left = max_alloc if max_alloc is not None else max_value * MAX_ALLOC_FACTOR
        self._steps = 0

    def tick(self) -> None:
        """Check the clock every 16th step: a step is a call or an access, each bounded."""
        self._steps += 1
        if not self._steps & 15 and time.monotonic() > self.deadline:
            self.expired()

    def expired(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateError(
                f"chat template did not finish within {self.timeout_s:g} s",
                hint="the template loops too long; it is untrusted code and was stopped",
            )

    def allow(self, size: int, what: str) -> None:
        """Refuse a value of ``size`` characters/items before it is built, and charge it."""
        if size > self.max_value:
            raise TemplateError(
                f"chat template builds {what} of size {size} (at most {self.max_value})",
                hint="it is untrusted code and was stopped",
            )
        self.alloc_left -= size
        if self.alloc_left < 0:
            raise TemplateError(
                "chat template allocated too much memory", hint="it is untrusted code and was stopped"
            )


class _State(threading.local):
    """The budget, output blocks and generation spans of the render running in this thread."""

    budget: Budget | None = None
    spans: list[tuple[int, int]] | None = None
    blocks: list[str] | None = None


STATE = _State()


def current() -> Budget | None:
    return STATE.budget


def tick() -> None:
    budget = STATE.budget
    if budget is not None:
        budget.tick()


def allow(size: int, what: str = "a value") -> None:
    budget = STATE.budget
    if budget is not None:
        budget.allow(size, what)


def size_of(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict | set | frozenset) else 0


def charge(value: Any) -> Any:
    """Charge a result just built (its size was bounded by a pre-check or by its inputs)."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        allow(len(value), f"a {type(value).__name__}")
    return value


# ---- iteration and concatenation: rewritten in the parsed template -------------------------------------


class Ticking:
    """A loop's iterable with a deadline check every 1024 items; ``len`` is kept for ``loop.length``."""

    __slots__ = ("_items",)

    def __init__(self, items: Any) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        budget = current()
        if budget is None:
            yield from self._items
            return
        for n, item in enumerate(self._items, 1):
            if not n & 1023:
                budget.expired()
            yield item


def concat(parts: Iterable[str]) -> str:
    """``environment.concat``: joins captured blocks and macro bodies, which no output check sees."""
    parts = parts if isinstance(parts, list) else list(parts)
    allow(sum(map(len, parts)), "a block")
    return "".join(parts)


def tilde(parts: list[Any]) -> str:
    """The ``~`` operator."""
    texts = [str(p) for p in parts]
    allow(sum(map(len, texts)), "a string")
    return "".join(texts)


class Rewriter(NodeTransformer):
    """Routes every ``{% for %}`` iterable and every ``~`` through the checks above.

    As filters (``dz_iterate``, ``dz_tilde``), which jinja calls directly: routing them through the
    sandbox's ``call`` would cost more than the checks themselves.
    """

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "dz_iterate", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(
            nodes.List(node.nodes, lineno=node.lineno), "dz_tilde", [], [], None, None, lineno=node.lineno
        )


# ---- operators --------------------------------------------------------------------------------------

_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_percent(fmt: str, budget_size: int) -> None:
    """``'%9999999999s' % x`` allocates its width: refuse widths past the cap and ``*`` widths."""
    for match in _PERCENT.finditer(fmt):
        for width in match.groups():
            if width == "*" or (width and int(width) > budget_size):
                raise TemplateError(f"chat template formats with width {width}", hint="it was stopped")


def check_format(fmt: str, budget_size: int) -> None:
    """``'{:>9999999999}'.format(x)`` likewise; nested ``{:{w}}`` widths are refused outright."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error, reported as a template failure
    for _, _, spec, _ in fields:
        if spec and ("{" in spec or any(int(d) > budget_size for d in re.findall(r"\d+", spec))):
            raise TemplateError(f"chat template formats with the spec {spec!r}", hint="it was stopped")


def binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operator whose result would pass the caps; charge it."""
    if operator == "*":
        if isinstance(left, int) and isinstance(right, str | list | tuple):
            left, right = right, left
        if isinstance(left, str | list | tuple) and isinstance(right, int):
            allow(len(left) * max(right, 0), "a sequence")
        elif (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > MAX_INT_BITS
        ):
            raise TemplateError("chat template multiplies integers past 100000 bits", hint="it was stopped")
    elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        allow(len(left) + len(right), f"a {type(left).__name__}")
    elif operator == "**" and isinstance(right, int | float) and abs(right) > 64:
        raise TemplateError(f"chat template raises to the power {right}")
    elif operator == "%" and isinstance(left, str):
        check_percent(left, current().max_value if current() else MAX_VALUE)


# ---- str methods called from the template ------------------------------------------------------------


def width_arg(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, default: int = 0) -> int:
    value = args[0] if args else kwargs.get(name, default)
    return value if isinstance(value, int) else 0


def estimate_str_method(s: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    if name in ("center", "ljust", "rjust", "zfill"):
        return max(len(s), width_arg(args, kwargs, "width"))
    if name == "expandtabs":
        return len(s) + s.count("\t") * max(width_arg(args, kwargs, "tabsize", 8), 0)
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        n = s.count(args[0]) if args[0] else len(s) + 1
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if isinstance(count, int) and count >= 0:
            n = min(n, count)
        return len(s) + n * len(args[1])
    if name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        return len(s) * max(longest, 1)
    if name in ("format", "format_map"):
        check_format(s, current().max_value if current() else MAX_VALUE)
    return None


def call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], int | None]:
    """Before a call: the size its result may reach when ``obj`` is a growing str method (``join``'s
    argument is materialised here, so it is read once)."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str):
        return args, None
    name = getattr(obj, "__name__", "")
    if name == "join" and args:
        items = list(args[0])
        total = sum(len(x) for x in items if isinstance(x, str)) + len(owner) * max(len(items) - 1, 0)
        return (items, *args[1:]), total
    return args, estimate_str_method(owner, name, args, kwargs)


def bounded_range(budget: Budget) -> Callable[..., Iterator[int]]:
    def _range(*args: int) -> Iterator[int]:
        r = range(*args)
        if len(r) > 100_000:  # jinja's sandbox MAX_RANGE
            raise TemplateError(f"chat template asks for a range of {len(r)} items")
        for i, value in enumerate(r):
            if not i & 1023:
                budget.expired()
            yield value

    return _range
