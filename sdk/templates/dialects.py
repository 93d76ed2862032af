"""Tool-call dialects: how a family writes an assistant's tool calls, and how to read them back.

A dialect is a call layout (data: `CallLayout`, how the official template writes a turn's calls) and
an extractor (code). The layout is written once and both writers are generated from it: ``format``
(Python, for the structured renderer) and ``jinja_gen.call_jinja`` (the generated template), so training
text, served text and the exported template cannot drift apart. ``extract`` turns a completion back
into ``(content, tool_calls)`` with OpenAI-style calls, arguments as a JSON string, as servers return
them. The round trip ``extract(format(calls))`` gives the calls back (tests/test_template_dialects.py).

Arguments given as a dict are written with ``tojson``'s settings (non-ASCII kept, ``", "`` and
``": "`` separators); a JSON string is written as it is, where the official template does so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from dayzero.errors import NotSupportedError, TemplateError

from .types import dumps

ToolCalls = list[dict[str, Any]]


def _name_args(call: dict[str, Any]) -> tuple[str, Any]:
    fn = call.get("function", call)
    return fn["name"], fn.get("arguments", {})


def _args_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else dumps(arguments)


def _openai(name: str, arguments: Any, call_id: str | None = None) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": text}}
    if call_id is not None:
        call["id"] = call_id
    return call


def _json_at(text: str, start: int) -> tuple[Any, int]:
    try:
        return json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise TemplateError(f"tool call is not valid JSON at character {exc.pos}: {text[start:start + 60]!r}") from None


@dataclass(frozen=True)
class CallLayout:
    """How one turn's tool calls are written, as data: ``open`` + item (``sep`` item)* + ``close``.

    ``item`` holds ``{name}``, ``{args}`` and ``{id}`` (and ``{id_part}``: ``id_part`` filled in when
    the call has an id, else nothing). ``args``: ``keep`` writes a string argument as it is and
    anything else through ``tojson``; ``tojson`` always goes through ``tojson``. ``empty_args`` replaces
    an empty argument string; ``id_length`` is the exact id length the official template demands.
    """

    item: str
    sep: str = ""
    open: str = ""
    close: str = ""
    args: Literal["keep", "tojson"] = "keep"
    id_part: str = ""
    empty_args: str | None = None
    id_length: int | None = None
    id_error: str = ""


PLACEHOLDERS = ("name", "args", "id", "id_part")
_PLACEHOLDER = re.compile(r"(\{(?:" + "|".join(PLACEHOLDERS) + r")\})")


def fill(template: str, values: dict[str, str]) -> str:
    """``template`` with its placeholders replaced (in the template only: a value's own braces stay)."""
    return "".join(values[p[1:-1]] if _PLACEHOLDER.fullmatch(p) else p for p in _PLACEHOLDER.split(template))


@dataclass(frozen=True)
class Dialect:
    """Base: a call layout (``format`` is generated from it) and an ``extract`` subclasses implement.

    ``start`` is the text every tool call of the dialect begins with, so a server can stream an answer's
    text until it appears and hold only the call (``sdk/serve``); empty where no fixed text opens a call
    (GLM-4 starts with the function's name): the server then holds the whole answer.
    """

    name: str
    layout: CallLayout
    start: str = ""

    def format(self, tool_calls: ToolCalls) -> str:
        """The calls as the official template writes them (see `CallLayout`)."""
        lay = self.layout
        items = []
        for call in tool_calls:
            name, args = _name_args(call)
            call_id = call.get("id")
            if lay.id_length is not None and len(str(call_id or "")) != lay.id_length:
                raise TemplateError(lay.id_error)
            if lay.empty_args is not None and isinstance(args, str) and args == "":
                args = lay.empty_args
            text = _args_text(args) if lay.args == "keep" else dumps(args)
            id_text = "" if call_id is None else str(call_id)
            id_part = fill(lay.id_part, {"id": id_text}) if call_id is not None else ""
            items.append(fill(lay.item, {"name": name, "args": text, "id": id_text, "id_part": id_part}))
        return lay.open + lay.sep.join(items) + lay.close

    def extract(self, text: str) -> tuple[str, ToolCalls]:  # pragma: no cover - abstract
        raise NotImplementedError


class Hermes(Dialect):
    """Qwen2.5/Qwen3/Hermes: ``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>``, one per line."""

    _re = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)

    def extract(self, text: str) -> tuple[str, ToolCalls]:
        calls = []
        for match in self._re.finditer(text):
            obj, _ = _json_at(match.group(1), 0)
            calls.append(_openai(obj["name"], obj.get("arguments", {})))
        first = text.find("<tool_call>")
        content = text if first < 0 else text[:first]
        return content.strip() if calls else text, calls


class Llama3Json(Dialect):
    """Llama 3.1+: the whole answer is ``{"name": ..., "parameters": {...}}``; one call per turn."""

    def extract(self, text: str) -> tuple[str, ToolCalls]:
        stripped = text.strip().removeprefix("<|python_tag|>")
        calls: ToolCalls = []
        pos = 0
        while stripped.startswith("{", pos):
            try:
                obj, end = json.JSONDecoder().raw_decode(stripped, pos)
            except json.JSONDecodeError:
                return text, []
            if not (isinstance(obj, dict) and "name" in obj and ("parameters" in obj or "arguments" in obj)):
                return text, []
            calls.append(_openai(obj["name"], obj.get("parameters", obj.get("arguments"))))
            pos = end
            while pos < len(stripped) and stripped[pos] in "; \n":
                pos += 1
        if pos != len(stripped):
            return text, []
        return "", calls


class Mistral(Dialect):
    """Mistral v3+: ``[TOOL_CALLS][{"name": ..., "arguments": ..., "id": "abcdefghi"}, ...]``."""

    def extract(self, text: str) -> tuple[str, ToolCalls]:
        at = text.find("[TOOL_CALLS]")
        if at < 0:
            return text, []
        start = at + len("[TOOL_CALLS]")
        while start < len(text) and text[start].isspace():  # the SentencePiece variant writes `[TOOL_CALLS] [`
            start += 1
        obj, _ = _json_at(text, start)
        items = obj if isinstance(obj, list) else [obj]
        return text[:at].strip(), [_openai(o["name"], o.get("arguments", {}), o.get("id")) for o in items]


class MistralSpm(Mistral):
    """Mistral v3 SentencePiece (7B v0.3, Mixtral): ``[TOOL_CALLS] [{...}, ...]``; a call id of 9 characters is required."""


class MistralV11(Dialect):
    """Mistral v11+ (Small 3.2, Magistral): ``[TOOL_CALLS]NAME[CALL_ID]abcdefghi[ARGS]{...}`` per call."""

    _re = re.compile(r"\[TOOL_CALLS\]([^\[]+?)(?:\[CALL_ID\]([^\[]*?))?\[ARGS\]")

    def extract(self, text: str) -> tuple[str, ToolCalls]:
        calls: ToolCalls = []
        first = self._re.search(text)
        if first is None:
            return text, []
        pos = first.start()
        while (m := self._re.match(text, pos)) is not None:
            args, end = _json_at(text, m.end())
            if isinstance(args, str):  # the template tojson-s a string argument: unwrap it
                args = json.loads(args)
            calls.append(_openai(m.group(1), args, m.group(2) or None))
            pos = end
        return text[: first.start()].strip(), calls


class Glm4(Dialect):
    """GLM-4: the function name, a newline, the arguments as JSON; each call an assistant message of its own.

    In GLM-4's messages a call is ``{"role": "assistant", "metadata": NAME, "content": ARGS}``, which the template
    writes ``<|assistant|>NAME\nARGS``: a second call of the turn follows as ``<|assistant|>NAME\nARGS``.
    """

    _sep = "<|assistant|>"

    def extract(self, text: str) -> tuple[str, ToolCalls]:
        calls: ToolCalls = []
        for part in text.strip().split(self._sep):
            lines = part.strip().split("\n", 1)
            if len(lines) != 2 or not re.fullmatch(r"[A-Za-z_][\w.-]*", lines[0]):
                return text, []
            try:
                obj, end = json.JSONDecoder().raw_decode(lines[1].strip())
            except json.JSONDecodeError:
                return text, []
            if lines[1].strip()[end:].strip():
                return text, []
            calls.append(_openai(lines[0], obj))
        return "", calls


class DeepSeek(Dialect):
    """DeepSeek-R1 / V3: ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\\n```json\\n...```"""

    begin, end = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
    _re = re.compile(r"<｜tool▁call▁begin｜>function<｜tool▁sep｜>(.*?)\n```json\n(.*?)\n```<｜tool▁call▁end｜>", re.DOTALL)

    def extract(self, text: str) -> tuple[str, ToolCalls]:
        at = text.find(self.begin)
        if at < 0:
            return text, []
        calls = [_openai(m.group(1), json.loads(m.group(2))) for m in self._re.finditer(text, at)]
        return text[:at].strip(), calls


class DeepSeekV31(DeepSeek):
    """DeepSeek-V3.1: ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>``.

    No ``function`` type word, no code fence, calls chained with no separator (the official template).
    """

    _re = re.compile(r"<｜tool▁call▁begin｜>(.*?)<｜tool▁sep｜>(.*?)<｜tool▁call▁end｜>", re.DOTALL)  # `extract` is DeepSeek's


class Harmony(Dialect):
    """gpt-oss harmony: `` to=functions.NAME<|channel|>commentary json<|message|>ARGS<|call|>`` after ``<|start|>assistant``."""

    # The recipient goes in the header (` to=functions.X<|channel|>commentary json`, as the template writes it)
    # or after the channel (`<|channel|>commentary to=functions.X <|constrain|>json`, as the model often writes it).
    _re = re.compile(
        r"(?:<\|start\|>assistant)?\s*(?:to=functions\.(?P<a>[\w.-]+)\s*<\|channel\|>commentary"
        r"|<\|channel\|>commentary\s+to=functions\.(?P<b>[\w.-]+))"
        r"\s*(?:<\|constrain\|>)?\s*(?:json)?<\|message\|>(?P<args>.*?)<\|call\|>",
        re.DOTALL,
    )

    def extract(self, text: str) -> tuple[str, ToolCalls]:
        calls = [_openai(m.group("a") or m.group("b"), json.loads(m.group("args"))) for m in self._re.finditer(text)]
        if not calls:
            return text, []
        first = self._re.search(text)
        return (text[: first.start()].strip() if first else ""), calls


# The call layouts, one line each, as the official templates write them.
_MISTRAL_ITEM = '{"name": "{name}", "arguments": {args}{id_part}}'
LAYOUTS: dict[str, CallLayout] = {
    "hermes": CallLayout('<tool_call>\n{"name": "{name}", "arguments": {args}}\n</tool_call>', sep="\n"),
    "llama3_json": CallLayout('{"name": "{name}", "parameters": {args}}', sep="; ", args="tojson"),
    "mistral": CallLayout(_MISTRAL_ITEM, sep=", ", open="[TOOL_CALLS][", close="]", id_part=', "id": "{id}"',
                          empty_args="{}"),
    "mistral_spm": CallLayout(_MISTRAL_ITEM, sep=", ", open="[TOOL_CALLS] [", close="]", id_part=', "id": "{id}"',
                              empty_args="{}", id_length=9,
                              id_error="Tool call must have an id of 9 characters or numbers."),
    "mistral_v11": CallLayout("[TOOL_CALLS]{name}[CALL_ID]{id}[ARGS]{args}", args="tojson"),
    # GLM-4: each call is an assistant message of its own
    "glm4": CallLayout("{name}\n{args}", sep="<|assistant|>"),
    "deepseek": CallLayout("<｜tool▁call▁begin｜>function<｜tool▁sep｜>{name}\n```json\n{args}\n```<｜tool▁call▁end｜>",
                           sep="\n", open="<｜tool▁calls▁begin｜>", close="<｜tool▁calls▁end｜>"),
    "deepseek_v31": CallLayout("<｜tool▁call▁begin｜>{name}<｜tool▁sep｜>{args}<｜tool▁call▁end｜>",
                               open="<｜tool▁calls▁begin｜>", close="<｜tool▁calls▁end｜>"),
    # harmony: what the model writes after `<|start|>assistant`; arguments always go through tojson
    "harmony": CallLayout(" to=functions.{name}<|channel|>commentary json<|message|>{args}<|call|>",
                          sep="<|start|>assistant", args="tojson"),
}

_DIALECTS: dict[str, Dialect] = {  # name, layout, then the text a call starts with (for streaming)
    "hermes": Hermes("hermes", LAYOUTS["hermes"], "<tool_call>"),
    # Llama 3: a call is the whole answer, so it is known only from the answer's start; a `{` marker would stream
    # prose before a JSON object and then parse the object as a call, which the whole-text parse does not
    "llama3_json": Llama3Json("llama3_json", LAYOUTS["llama3_json"]),
    "mistral": Mistral("mistral", LAYOUTS["mistral"], "[TOOL_CALLS]"),
    "mistral_spm": MistralSpm("mistral_spm", LAYOUTS["mistral_spm"], "[TOOL_CALLS]"),
    "mistral_v11": MistralV11("mistral_v11", LAYOUTS["mistral_v11"], "[TOOL_CALLS]"),
    "glm4": Glm4("glm4", LAYOUTS["glm4"]),  # a call starts with the function's name: no fixed marker
    "deepseek": DeepSeek("deepseek", LAYOUTS["deepseek"], "<｜tool▁calls▁begin｜>"),
    "deepseek_v31": DeepSeekV31("deepseek_v31", LAYOUTS["deepseek_v31"], "<｜tool▁calls▁begin｜>"),
    # harmony: a call opens with ` to=functions.` as the turn's first message but with `<|start|>assistant to=...`
    # after an analysis message; one marker cannot tell both from an answer, so the answer is held whole
    "harmony": Harmony("harmony", LAYOUTS["harmony"]),
}


def dialect_names() -> list[str]:
    return sorted(_DIALECTS)


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name``; ``NotSupportedError`` lists the known ones otherwise."""
    try:
        return _DIALECTS[name]
    except KeyError:
        raise NotSupportedError(f"tool-call dialect {name!r}", hint=f"known dialects: {dialect_names()}") from None
