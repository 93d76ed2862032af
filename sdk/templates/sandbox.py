"""Official chat templates, rendered exactly as transformers renders them, and safely.

Official templates are Jinja code from a model repository: untrusted. This module mirrors
``transformers.utils.chat_template_utils`` (``ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True, extensions=[loopcontrols])``, its ``tojson`` filter, the ``raise_exception`` and
``strftime_now`` globals, the ``{% generation %}`` tag, the underscore-proof ``namespace``, and the
``reasoning_content``/``thinking`` aliasing of messages) so a string rendered here is the string a
transformers-based server renders. Two things are added, because a template is code we run:

- bounds (``bounds.py``): rendering stops with a ``TemplateError`` past a deadline (checked on every
  call, attribute access, loop step and output chunk), past an output size, and before any operator,
  string method or filter builds a value past ``max_chars`` or the render allocates too much in all;
- a fixed date: ``strftime_now`` returns a given date (tests use minja's TEST_DATE, 2024-07-26).

A template reaching for ``__class__``/``__globals__`` hits the sandbox's ``SecurityError``, reported
as a ``TemplateError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dayzero.errors import TemplateError

from . import bounded_filters, bounds

TEST_DATE = datetime(2024, 7, 26)
"""minja's frozen date for rendering goldens; pass ``date=TEST_DATE`` for reproducible renders."""

MAX_OUTPUT_CHARS = bounds.MAX_VALUE
DEFAULT_TIMEOUT_S = 5.0
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
_STATE = bounds.STATE


class _GenerationTag(jinja2.ext.Extension):
    """``{% generation %}...{% endgeneration %}``: records the character spans of trained text.

    Same tag as transformers' AssistantTracker, so the Jinja dayzero generates works with
    ``return_assistant_tokens_mask`` there and gives exact spans here.
    """

    tags = {"generation"}  # noqa: RUF012 - jinja's Extension API

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_mark"), [], [], body).set_lineno(lineno)

    def _mark(self, caller: Any) -> str:
        text = caller()
        spans = _STATE.spans
        if spans is not None:
            start = sum(len(b) for b in _STATE.blocks)
            spans.append((start, start + len(text)))
        return text


class _Namespace(jinja2.utils.Namespace):
    """transformers' TemplateNamespace: underscore-prefixed names are refused."""

    def __init__(*args: Any, **kwargs: Any) -> None:
        self, rest = args[0], args[1:]
        attrs = dict(*rest, **kwargs)
        for name in attrs:
            _Namespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _Namespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name: object) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(f"namespace attribute {name!r} is not allowed")


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The transformers sandbox plus the time and memory bounds of ``bounds.py``."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(bounds.concat)

    def _parse(self, source: str, name: str | None, filename: str | None) -> jinja2.nodes.Template:
        tree = bounds.Rewriter().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        bounds.tick()
        args, estimate = bounds.call(__obj, args, kwargs)
        if estimate is not None:
            bounds.allow(estimate, f"the result of `{getattr(__obj, '__name__', 'a call')}`")
        return bounds.charge(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget = _STATE.budget
        if budget is not None:
            budget.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = _STATE.budget
        if budget is not None:
            budget.tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Any:
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            bounds.check_format(value.__self__, bounds.MAX_VALUE)
        return wrapper

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise jinja2.exceptions.SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is unsafe")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator != "+" or not (type(left) is int and type(right) is int):  # the hot case: loop.index0 + 1
            bounds.binop(operator, left, right)
        return self.binop_table[operator](left, right)


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    too_deep = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if too_deep > bounds.MAX_INDENT:
        raise TemplateError(f"chat template asks `tojson` for an indent of {indent!r}", hint="it was stopped")
    return bounds.charge(json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                                    sort_keys=sort_keys))


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


@lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    env = _BoundedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters = bounded_filters.bounded_filters(env.filters)
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["namespace"] = _Namespace
    env.globals["dict"] = dict
    env.globals["lipsum"] = bounded_filters.bounded_lipsum(env.globals["lipsum"])
    # jinja folds constant filter calls at compile time (`'x'|center(4000000000)`): under a budget,
    # the bounded filters refuse, and jinja leaves the call to run time, where the render's budget stops it.
    previous = _STATE.budget
    _STATE.budget = bounds.Budget(DEFAULT_TIMEOUT_S, MAX_OUTPUT_CHARS)
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"chat template does not parse: {exc.message}", hint=f"line {exc.lineno}") from None
    except (RecursionError, MemoryError):
        raise TemplateError("chat template is too deeply nested to compile") from None
    finally:
        _STATE.budget = previous


def _plain(value: Any) -> Any:
    """Rebuild inputs from plain JSON types (as transformers does), so no rich object reaches the sandbox."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return f"<{type(value).__name__}>"


def _alias_reasoning(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """transformers fills ``reasoning_content`` and ``thinking`` from each other (gpt-oss reads ``thinking``)."""
    out = []
    for message in messages:
        reasoning = next((message[k] for k in _REASONING_FIELDS if message.get(k) is not None), None)
        if reasoning is not None:
            message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
        out.append(message)
    return out


def render_official(
    source: str,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    add_generation_prompt: bool = False,
    bos_token: str = "",
    eos_token: str = "",
    date: datetime | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_chars: int = MAX_OUTPUT_CHARS,
    spans: list[tuple[int, int]] | None = None,
    **kwargs: Any,
) -> str:
    """Render a chat template as transformers' ``apply_chat_template(tokenize=False)`` does.

    ``spans``, when a list is given, receives the character spans of ``{% generation %}`` blocks.
    Any failure of the template (``raise_exception``, an undefined name, a sandbox violation, the
    budget) is a ``TemplateError`` carrying the template's message.
    """
    template = _compile(source)
    budget = bounds.Budget(timeout_s, max_chars)
    context = _plain(kwargs)
    stamp = date

    def strftime_now(fmt: str) -> str:
        return (stamp or datetime.now()).strftime(fmt)

    blocks: list[str] = []
    previous = (_STATE.budget, _STATE.spans, _STATE.blocks)
    _STATE.budget, _STATE.spans, _STATE.blocks = budget, spans, blocks
    size = 0
    try:
        for block in template.generate(
            messages=_alias_reasoning(_plain(messages)),
            tools=_plain(tools),
            documents=None,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
            strftime_now=strftime_now,
            range=bounds.bounded_range(budget),
            **context,
        ):
            blocks.append(block)
            size += len(block)
            if size > max_chars:
                raise TemplateError(f"chat template output passed {max_chars} characters", hint="it was stopped")
            budget.tick()
    except TemplateError:
        raise
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"chat template broke the sandbox rules: {exc}") from None
    except jinja2.exceptions.TemplateError as exc:
        raise TemplateError(f"chat template raised: {exc.message or exc}") from None
    except RecursionError:
        raise TemplateError("chat template recursed too deeply") from None
    except MemoryError:
        raise TemplateError("chat template ran out of memory", hint="it is untrusted code and was stopped") from None
    except OverflowError as exc:
        raise TemplateError(f"chat template failed: OverflowError: {exc}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError) as exc:
        raise TemplateError(f"chat template failed: {type(exc).__name__}: {exc}") from None
    finally:
        _STATE.budget, _STATE.spans, _STATE.blocks = previous
    return "".join(blocks)
