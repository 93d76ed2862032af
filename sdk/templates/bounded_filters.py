"""jinja's filters with the bounds of ``bounds.py``: checked before they allocate, charged after.

Filters are called directly by the compiled template (not through the sandbox's ``call``), so each
is wrapped: a pre-check for those that grow their input (``center``, ``indent``, ``replace``,
``format``, ``wordwrap``, ``batch``), a cap on the input of those that loop item by item in one
uninterruptible call (``sort``, ``urlize``, ``select``...), and the result charged to the render.
``join`` and ``sum`` are replaced by versions that count as they go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jinja2.filters
import jinja2.utils

from dayzero.errors import TemplateError

from . import bounds
from .bounds import Ticking, tilde


def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    """The ``join`` filter, counting as it goes (a list of one big string repeated is a join bomb)."""
    if attribute is not None:
        value = map(jinja2.filters.make_attrgetter(eval_ctx.environment, attribute), value)
    texts, total = [], 0
    sep = str(d)
    limit = bounds.current().max_value if bounds.current() else bounds.MAX_VALUE
    for item in value:
        text = str(item)
        total += len(text) + len(sep)
        if total > limit:
            bounds.allow(total, "a joined string")  # raises
        texts.append(text)
    bounds.allow(total, "a joined string")
    return sep.join(texts)


_join.jinja_pass_arg = jinja2.utils._PassArg.eval_context  # type: ignore[attr-defined]


def _sum(
    environment: Any, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0
) -> Any:
    """The ``sum`` filter; summing lists copies the running total each step, so each step is charged."""
    if attribute is not None:
        iterable = map(jinja2.filters.make_attrgetter(environment, attribute), iterable)
    total = start
    for item in iterable:
        if isinstance(total, str | list | tuple) and isinstance(item, str | list | tuple):
            bounds.allow(len(total) + len(item), f"a {type(total).__name__}")
        total = total + item
    return total


_sum.jinja_pass_arg = jinja2.utils._PassArg.environment  # type: ignore[attr-defined]


def _pre_center(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    s = str(args[0]) if args else ""
    return max(len(s), bounds.width_arg(args[1:], kwargs, "width", 80))


def _pre_indent(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    s = str(args[0]) if args else ""
    width = args[1] if len(args) > 1 else kwargs.get("width", 4)
    per_line = len(width) if isinstance(width, str) else (width if isinstance(width, int) else 0)
    return len(s) + (s.count("\n") + 1) * max(per_line, 0)


def _pre_replace(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    if len(args) < 3:
        return None
    s, old, new = str(args[0]), str(args[1]), str(args[2])
    return bounds.estimate_str_method(s, "replace", (old, new, *args[3:4]), kwargs)


def _pre_format(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    if args and isinstance(args[0], str):
        bounds.check_percent(args[0], bounds.current().max_value if bounds.current() else bounds.MAX_VALUE)
    return None


def _pre_wordwrap(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    s = str(args[0]) if args else ""
    width = bounds.width_arg(args[1:], kwargs, "width", 79)
    wrap = args[3] if len(args) > 3 else kwargs.get("wrapstring")
    return len(s) + (len(s) // max(width, 1) + 1) * (len(wrap) if isinstance(wrap, str) else 1)


def _pre_batch(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    count = bounds.width_arg(args[1:], kwargs, "linecount", 0)
    return count if count > 0 else None


_PRE: dict[str, Callable[[tuple[Any, ...], dict[str, Any]], int | None]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "replace": _pre_replace,
    "format": _pre_format,
    "wordwrap": _pre_wordwrap,
    "batch": _pre_batch,
}


SLOW_FILTER_INPUT = 200_000
"""Items a filter that works item by item in one uninterruptible call (``sort``, ``urlize``, ``select``...) may take."""
_SLOW = frozenset(
    {
        "sort",
        "unique",
        "groupby",
        "dictsort",
        "min",
        "max",
        "select",
        "reject",
        "selectattr",
        "rejectattr",
        "urlize",
        "wordwrap",
        "wordcount",
        "pprint",
        "xmlattr",
        "truncate",
        "title",
        "striptags",
        "batch",
        "slice",
    }
)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    pass_arg = getattr(func, "jinja_pass_arg", None)
    skip = 1 if pass_arg is not None else 0
    pre = _PRE.get(name)
    slow = name in _SLOW

    def bounded(*args: Any, **kwargs: Any) -> Any:
        bounds.tick()
        if slow and len(args) > skip and bounds.size_of(args[skip]) > SLOW_FILTER_INPUT:
            raise TemplateError(
                f"chat template applies `{name}` to {bounds.size_of(args[skip])} items "
                f"(at most {SLOW_FILTER_INPUT})",
                hint="it is untrusted code and was stopped",
            )
        if pre is not None:
            estimate = pre(args[skip:], kwargs)
            if estimate is not None:
                bounds.allow(estimate, f"the `{name}` filter's result")
        return bounds.charge(func(*args, **kwargs))

    if pass_arg is not None:
        bounded.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return bounded


def bounded_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """jinja's filters, each checked (``join`` and ``sum`` replaced by counting versions)."""
    out = {name: _bounded_filter(name, f) for name, f in filters.items()}
    out["join"], out["sum"] = _join, _sum
    out["dz_iterate"], out["dz_tilde"] = Ticking, tilde
    return out


def bounded_lipsum(lipsum: Callable[..., str]) -> Callable[..., str]:
    """jinja's ``lipsum(n)`` global writes ``n`` paragraphs in one loop no check sees: at most 100."""

    def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        if not all(isinstance(v, int) and v <= 1000 for v in (n, min, max)) or n > 100:
            raise TemplateError(f"chat template asks `lipsum` for {n} paragraphs of up to {max} words")
        return lipsum(n, html, min, max)

    return _lipsum
