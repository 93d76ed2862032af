"""Rows in the layouts people bring (alpaca, sharegpt, OpenAI messages, plain text) -> dayzero's canonical rows.

Canonical rows are what every stage consumes, whatever the source layout was:

- sft:        ``{"messages": [...], "tools": [...] | None}``
- preference: ``{"prompt": [...], "chosen": [...], "rejected": [...], "tools": ...}`` (chosen/rejected: the
  assistant turns that complete the prompt)
- kto:        ``{"prompt": [...], "completion": [...], "label": bool, "tools": ...}``
- text:       ``{"text": str}``
- prompt:     ``{"prompt": [...], "reference": str | None, "tools": ...}`` (online RL and evaluation; the
  reference is a conversation's trailing assistant turn, or the response column)

Messages are OpenAI-style dicts: ``role`` (system/user/assistant/tool), ``content`` (always a string),
and where present ``tool_calls`` (``[{"type": "function", "function": {"name", "arguments": dict}}]``),
``reasoning_content`` and ``train``. A leading ``<think>...</think>`` in an assistant reply is moved to
``reasoning_content`` so that each family's template writes reasoning its own way.

Which column and which role tag means what comes from the dataset spec (`Columns`, `Tags`), with the
defaults below: the same layout conventions as LLaMA-Factory's ``dataset_info.json`` and TRL's datasets.
A row that does not fit raises `RowError(reason, detail)`; the caller adds file and row number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .problems import RowError
from .spec import Columns, DatasetSpec, Format, Kind, Tags

Row = dict[str, Any]
Message = dict[str, Any]

DEFAULT_COLUMNS: dict[str, dict[str, str]] = {
    "alpaca": {
        "prompt": "instruction", "query": "input", "response": "output", "system": "system", "history": "history",
        "tools": "tools", "chosen": "chosen", "rejected": "rejected", "kto_tag": "kto_tag",
    },
    "sharegpt": {
        "messages": "conversations", "system": "system", "tools": "tools", "chosen": "chosen",
        "rejected": "rejected", "kto_tag": "kto_tag",
    },
    "openai": {
        "messages": "messages", "prompt": "prompt", "response": "completion", "system": "system", "tools": "tools",
        "chosen": "chosen", "rejected": "rejected", "kto_tag": "label",
    },
    "text": {"text": "text"},
}

DEFAULT_TAGS: dict[str, dict[str, str | None]] = {
    "sharegpt": {
        "role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
        "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system",
    },
    "openai": {
        "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
        "observation_tag": "tool", "function_tag": None, "system_tag": "system",
    },
}

_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


def resolved_columns(fmt: str, columns: Columns) -> dict[str, str]:
    """The format's default columns overridden by the spec's."""
    merged = dict(DEFAULT_COLUMNS[fmt])
    merged.update({k: v for k, v in columns.model_dump().items() if v is not None})
    return merged


def resolved_tags(fmt: str, tags: Tags) -> dict[str, str | None]:
    merged = dict(DEFAULT_TAGS.get(fmt, {}))
    merged.update({k: v for k, v in tags.model_dump().items() if v is not None})
    return merged


def converter(spec: DatasetSpec) -> Callable[[Row], Row]:
    """A function turning one raw row of `spec`'s layout into a canonical row of its kind."""
    return _Converter(spec)


class _Converter:
    def __init__(self, spec: DatasetSpec) -> None:
        self.fmt = str(spec.format)
        self.kind = str(spec.kind)
        self.cols = resolved_columns(self.fmt, spec.columns)
        self.tags = resolved_tags(self.fmt, spec.tags)
        roles = {
            self.tags.get("user_tag"): "user",
            self.tags.get("assistant_tag"): "assistant",
            self.tags.get("observation_tag"): "tool",
            self.tags.get("function_tag"): "function_call",
            self.tags.get("system_tag"): "system",
        }
        roles.pop(None, None)
        self.roles: dict[str, str] = roles  # type: ignore[assignment]
        # tags whose plain turn (role + text) needs nothing beyond the text: not a function call, not a tool result;
        # none when the role or content tag is itself a key `_message` reads
        read = {"tool_calls", "reasoning_content", "reasoning", "train", "weight", "tool_call_id", "name"}
        named = {self.tags.get("role_tag"), self.tags.get("content_tag")}
        self._plain = ({} if named & read or None in named else
                       {tag: role for tag, role in roles.items() if role in ("user", "assistant", "system")})

    def __call__(self, raw: Row) -> Row:
        if not isinstance(raw, dict):
            raise RowError("bad_type", f"a row must be an object, got {type(raw).__name__}")
        if self.kind == Kind.text:
            return {"text": _text(raw, self.cols["text"])}
        tools = self._tools(raw)
        if self.kind == Kind.sft:
            messages = self._conversation(raw, need_reply=True)
            return {"messages": messages, "tools": tools}
        if self.kind == Kind.preference:
            return {**self._preference(raw), "tools": tools}
        if self.kind == Kind.prompt:
            return {**self._prompt(raw), "tools": tools}
        return {**self._kto(raw), "tools": tools}

    # -- conversations -------------------------------------------------------------------------------

    def _conversation(self, raw: Row, *, need_reply: bool) -> list[Message]:
        """The row's messages: from alpaca columns, or a sharegpt/openai list (prompt column as fallback)."""
        if self.fmt == Format.alpaca:
            messages = self._alpaca(raw, with_reply=need_reply)
        else:
            key = self.cols["messages"]
            if key not in raw and self.cols.get("prompt") in raw:
                key = self.cols["prompt"]
            messages = self._turns(_column(raw, key), key)
            system = raw.get(self.cols.get("system", ""))
            if system and not (messages and messages[0]["role"] == "system"):
                messages.insert(0, {"role": "system", "content": _str(system, self.cols["system"])})
        _check_order(messages, need_reply=need_reply)
        return messages

    def _alpaca(self, raw: Row, *, with_reply: bool) -> list[Message]:
        messages: list[Message] = []
        system = raw.get(self.cols["system"])
        if system:
            messages.append({"role": "system", "content": _str(system, self.cols["system"])})
        history = raw.get(self.cols["history"]) or []
        if not isinstance(history, list):
            raise RowError("bad_type", f"column `{self.cols['history']}` must be a list of [prompt, reply] pairs")
        for i, pair in enumerate(history):
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                raise RowError("bad_type", f"`{self.cols['history']}[{i}]` must be a [prompt, reply] pair")
            messages.append({"role": "user", "content": _str(pair[0], f"{self.cols['history']}[{i}][0]")})
            messages.append(_assistant(_str(pair[1], f"{self.cols['history']}[{i}][1]")))
        prompt = _str(_column(raw, self.cols["prompt"]), self.cols["prompt"])
        query = raw.get(self.cols["query"])
        if query:
            prompt = f"{prompt}\n{_str(query, self.cols['query'])}" if prompt else _str(query, self.cols["query"])
        if not prompt.strip():
            raise RowError("empty", f"column `{self.cols['prompt']}` is empty")
        messages.append({"role": "user", "content": prompt})
        if with_reply:
            reply = _str(_column(raw, self.cols["response"]), self.cols["response"])
            messages.append(_assistant(reply))
        return messages

    def _turns(self, turns: Any, column: str) -> list[Message]:
        if isinstance(turns, str):
            turns = _json(turns, column)
        if not isinstance(turns, list) or not turns:
            raise RowError("bad_type", f"column `{column}` must be a non-empty list of turns")
        role_tag, content_tag = self.tags["role_tag"], self.tags["content_tag"]
        plain = self._plain
        messages: list[Message] = []
        for i, turn in enumerate(turns):
            if plain and type(turn) is dict and len(turn) == 2 and content_tag in turn:
                # The common turn (a role and a text, nothing else) converted in a few lookups, without the
                # error paths' strings, as `_message` converts it: that runs for every turn of every row (issue 15).
                role = plain.get(turn.get(role_tag))  # type: ignore[arg-type]
                content = turn[content_tag]
                if (role is not None and type(content) is str and (role == "system" or content.strip())
                        and not (role == "assistant" and "<think>" in content)):
                    messages.append({"role": role, "content": content})
                    continue
            where = f"{column}[{i}]"
            if not isinstance(turn, dict):
                raise RowError("bad_type", f"`{where}` must be an object, got {type(turn).__name__}")
            if role_tag not in turn:
                raise RowError("missing_field", f"`{where}` has no `{role_tag}`")
            role = self.roles.get(turn[role_tag])
            if role is None:
                known = ", ".join(repr(k) for k in self.roles)
                raise RowError("unknown_role", f"`{where}.{role_tag}` is {turn[role_tag]!r}; expected one of {known}")
            messages.append(self._message(turn, role, content_tag, where))
        return messages

    def _message(self, turn: Row, role: str, content_tag: str | None, where: str) -> Message:
        content = turn.get(content_tag) if content_tag else None
        if role == "function_call":  # sharegpt: the turn's value is the call (or calls) as JSON
            calls = _json(content, f"{where}.{content_tag}") if isinstance(content, str) else content
            return {"role": "assistant", "content": "", "tool_calls": _tool_calls(calls, where)}
        message: Message = {"role": role, "content": _content(content, f"{where}.{content_tag}")}
        if role == "assistant":
            if turn.get("tool_calls"):
                message["tool_calls"] = _tool_calls(turn["tool_calls"], f"{where}.tool_calls")
            reasoning = turn.get("reasoning_content") or turn.get("reasoning")
            if reasoning:
                message["reasoning_content"] = _str(reasoning, f"{where}.reasoning_content")
            else:
                message.update(_split_think(message["content"]))
            if not (message["content"].strip() or message.get("tool_calls") or message.get("reasoning_content")):
                raise RowError("empty", f"`{where}` is an empty assistant turn")
        elif not message["content"].strip() and role == "user":
            raise RowError("empty", f"`{where}` is an empty user turn")
        if role == "tool" and turn.get("tool_call_id"):
            message["tool_call_id"] = str(turn["tool_call_id"])
        if role == "tool" and turn.get("name"):
            message["name"] = str(turn["name"])
        if turn.get("train") is False or turn.get("weight") == 0:
            message["train"] = False
        return message

    def _tools(self, raw: Row) -> list[dict[str, Any]] | None:
        key = self.cols.get("tools")
        value = raw.get(key) if key else None
        if value in (None, "", []):
            return None
        if isinstance(value, str):
            value = _json(value, key or "tools")
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise RowError("bad_type", f"column `{key}` must be a list of tool definitions")
        tools = []
        for i, tool in enumerate(value):
            if not isinstance(tool, dict):
                raise RowError("bad_type", f"`{key}[{i}]` must be an object")
            if "function" not in tool:  # a bare {name, description, parameters}
                if "name" not in tool:
                    raise RowError("bad_tool", f"`{key}[{i}]` has neither `function` nor `name`")
                tool = {"type": "function", "function": tool}
            tools.append(tool)
        return tools

    # -- preference and kto --------------------------------------------------------------------------

    def _replies(self, raw: Row, column: str) -> list[Message]:
        value = _column(raw, column)
        if isinstance(value, str):  # a bare reply text, in any layout
            return [_assistant(value)]
        if isinstance(value, dict):
            value = [value]
        messages = self._turns(value, column)
        if messages[-1]["role"] != "assistant":
            raise RowError("bad_order", f"column `{column}` must end with an assistant turn")
        return messages

    def _preference(self, raw: Row) -> Row:
        chosen_col, rejected_col = self.cols["chosen"], self.cols["rejected"]
        has_prompt = self.fmt == Format.alpaca or self.cols["messages"] in raw or self.cols.get("prompt") in raw
        if not has_prompt:  # TRL's implicit prompt: chosen and rejected are whole conversations
            chosen_all = self._turns(_column(raw, chosen_col), chosen_col)
            rejected_all = self._turns(_column(raw, rejected_col), rejected_col)
            n = _common_prefix(chosen_all, rejected_all)
            while n and chosen_all[n - 1]["role"] == "assistant":
                n -= 1
            prompt, chosen, rejected = chosen_all[:n], chosen_all[n:], rejected_all[n:]
        else:
            prompt = self._conversation(raw, need_reply=False)
            chosen, rejected = self._replies(raw, chosen_col), self._replies(raw, rejected_col)
        _check_order(prompt, need_reply=False)
        for name, reply in (("chosen", chosen), ("rejected", rejected)):
            if not reply or reply[-1]["role"] != "assistant":
                raise RowError("bad_order", f"`{name}` must end with an assistant turn")
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected}

    def _prompt(self, raw: Row) -> Row:
        """A prompt and, when the row has one, its reference reply: trailing assistant turns of a
        conversation, else the response column (alpaca `output`, openai `completion`)."""
        if self.fmt == Format.alpaca:
            messages = self._alpaca(raw, with_reply=False)
        else:
            key = self.cols["messages"] if self.cols["messages"] in raw else self.cols.get("prompt", "")
            messages = self._turns(_column(raw, key), key)
            system = raw.get(self.cols.get("system", ""))
            if system and messages[0]["role"] != "system":
                messages.insert(0, {"role": "system", "content": _str(system, self.cols["system"])})
        cut = len(messages)
        while cut and messages[cut - 1]["role"] == "assistant":
            cut -= 1
        prompt, replies = messages[:cut], messages[cut:]
        _check_order(prompt, need_reply=False)
        reference = replies[-1]["content"] if replies else None
        response = self.cols.get("response")
        if reference is None and response and raw.get(response) is not None:
            reference = _str(raw[response], response)
        return {"prompt": prompt, "reference": reference}

    def _kto(self, raw: Row) -> Row:
        label = _label(_column(raw, self.cols["kto_tag"]), self.cols["kto_tag"])
        response_col = self.cols.get("response")
        if self.fmt != Format.alpaca and response_col and response_col in raw:
            prompt = self._conversation(raw, need_reply=False)
            completion = self._replies(raw, response_col)
        else:
            messages = self._conversation(raw, need_reply=True)
            cut = len(messages)
            while cut and messages[cut - 1]["role"] == "assistant":
                cut -= 1
            prompt, completion = messages[:cut], messages[cut:]
        _check_order(prompt, need_reply=False)
        return {"prompt": prompt, "completion": completion, "label": label}


# -- helpers --------------------------------------------------------------------------------------------


def _column(raw: Row, key: str) -> Any:
    if key not in raw or raw[key] is None:
        present = ", ".join(sorted(map(str, raw))) or "none"
        raise RowError("missing_column", f"no column `{key}` (columns: {present})")
    return raw[key]


def _str(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    raise RowError("bad_type", f"`{where}` must be text, got {type(value).__name__}")


def _content(value: Any, where: str) -> str:
    """A message's content as text; a list of text parts is joined, other parts are not supported."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise RowError("multimodal", f"`{where}` has a {kind!r} part; only text parts are supported")
        return "".join(parts)
    raise RowError("bad_type", f"`{where}` must be text, got {type(value).__name__}")


def _json(text: Any, where: str) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError("bad_json", f"`{where}` is not valid JSON: {exc.msg} at char {exc.pos}") from None


def _text(raw: Row, key: str) -> str:
    text = _str(_column(raw, key), key)
    if not text.strip():
        raise RowError("empty", f"column `{key}` is empty")
    return text


def _assistant(text: str) -> Message:
    return {"role": "assistant", "content": text, **_split_think(text)}


def _split_think(text: str) -> dict[str, str]:
    """Move a leading `<think>...</think>` block of a reply into `reasoning_content`."""
    match = _THINK.match(text)
    if not match:
        return {}
    return {"content": text[match.end():], "reasoning_content": match.group(1).strip()}


def _tool_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(calls, dict):
        calls = [calls]
    if not isinstance(calls, list) or not calls:
        raise RowError("bad_tool_call", f"`{where}` must be a tool call or a list of them")
    out = []
    for i, call in enumerate(calls):
        if not isinstance(call, dict):
            raise RowError("bad_tool_call", f"`{where}[{i}]` must be an object")
        fn = call.get("function", call)
        name, arguments = fn.get("name"), fn.get("arguments", fn.get("parameters", {}))
        if not isinstance(name, str) or not name:
            raise RowError("bad_tool_call", f"`{where}[{i}]` has no function `name`")
        arguments = _json(arguments, f"{where}[{i}].arguments")
        if not isinstance(arguments, dict):
            raise RowError("bad_tool_call", f"`{where}[{i}].arguments` must be an object")
        entry: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
        if call.get("id"):
            entry["id"] = str(call["id"])
        out.append(entry)
    return out


def _label(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise RowError("bad_label", f"`{where}` must be true or false, got {value!r}")


def _common_prefix(a: list[Message], b: list[Message]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _check_order(messages: list[Message], *, need_reply: bool) -> None:
    """System only first; a tool result only after an assistant tool call; a reply where one is needed."""
    if not messages:
        raise RowError("empty", "the conversation has no turns")
    roles = [m["role"] for m in messages]
    if "tool" in roles or "system" in roles[1:]:  # the turn-by-turn checks, only where they can fail
        for i, msg in enumerate(messages):
            if msg["role"] == "system" and i != 0:
                raise RowError("bad_order", f"turn {i} is a system turn; only the first turn may be")
            if msg["role"] == "tool":
                prev = next((m for m in reversed(messages[:i]) if m["role"] != "tool"), None)
                if prev is None or prev["role"] != "assistant" or not prev.get("tool_calls"):
                    raise RowError("bad_order", f"turn {i} is a tool result without an assistant tool call before it")
    if "user" not in roles and "tool" not in roles:
        raise RowError("bad_order", "the conversation has no user turn")
    last = roles[-1]
    if need_reply and last != "assistant":
        raise RowError("bad_order", f"the conversation ends with a {last} turn; it must end with an assistant reply")
    if not need_reply and last == "assistant":
        raise RowError("bad_order", "the prompt ends with an assistant turn; it must end with a user or tool turn")


def sniff_format(row: Any) -> Format:
    """The layout of a bare data file given without a spec, read from its first row's columns."""
    if isinstance(row, dict):
        if "conversations" in row:
            return Format.sharegpt
        if "instruction" in row:
            return Format.alpaca
        if "messages" in row or "prompt" in row or "chosen" in row:
            return Format.openai
        if "text" in row:
            return Format.text
    cols = ", ".join(map(str, row)) if isinstance(row, dict) else type(row).__name__
    raise RowError("unknown_format", f"cannot tell the format from the columns ({cols}); give a dataset spec")
