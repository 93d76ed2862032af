"""Infer a chat format's slots from an official Jinja template by rendering marker conversations.

Method: render a few conversations whose message contents are unique marker strings, then cut the
text between markers. Each stretch between two contents is "tail of one slot + head of the next";
the split point comes from conversations where only one side is present (the generation prompt is
the assistant head; the text before the first user marker is bos + the user head). This works for
templates whose turns are plain concatenations (ChatML, Llama 3, DeepSeek, Gemma, Phi...), which is
what the structured `ChatFormat` can express anyway; anything else is reported, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dayzero.errors import NotSupportedError, TemplateError

SYS, U1, A1, U2, A2 = "SYSMARK7", "USERMARK1", "ASSTMARK1", "USERMARK2", "ASSTMARK2"
# Text that looks like a special token in a template literal: <|x|>, <｜x｜>, <x_y> tags, [INST]-style.
_SPECIAL = re.compile(r"<[|｜][^<>\s'\"]{1,40}?[|｜]>|</?(?:think|tool_call|tool_response|tools)>|\[/?[A-Z_]{3,20}\]")


@dataclass
class ProbedFormat:
    """What the probe found; `slots()` gives the fields of a `ChatFormat`."""

    bos: bool
    system: str | None
    user: str
    assistant: str
    generation_prompt: str
    end_of_turn: str
    system_support: str
    fold: str | None = None
    final_eos: bool = False
    final_tail: str | None = None
    system_preamble: str = ""
    prefix: str = ""
    system_always: bool = False
    end_of_turn_in_slot: bool = True
    date_format: str | None = None
    fixed_date: str | None = None
    default_system: str | None = None
    specials: list[str] = field(default_factory=list)
    reasoning: dict[str, Any] = field(default_factory=dict)

    def slots(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bos": self.bos, "user": self.user, "assistant": self.assistant,
                               "generation_prompt": self.generation_prompt, "end_of_turn": self.end_of_turn,
                               "system_support": self.system_support}
        if self.system is not None:
            out["system"] = self.system
        if self.fold is not None:
            out["fold"] = self.fold
        if self.prefix:
            out["prefix"] = self.prefix
        if self.final_eos:
            out["final_eos"] = True
        if self.final_tail is not None:
            out["final_tail"] = self.final_tail
        if self.system_preamble:
            out["system_preamble"] = self.system_preamble
        if self.system_always:
            out["system_always"] = True
        if not self.end_of_turn_in_slot:
            out["end_of_turn_in_slot"] = False
        if self.date_format:
            out["date_format"] = self.date_format
        if self.fixed_date:
            out["fixed_date"] = self.fixed_date
        return out


def _between(text: str, a: str | None, b: str) -> str:
    start = 0 if a is None else text.index(a) + len(a)
    return text[start:text.index(b, start)]


def _strip_suffix(text: str, suffix: str, what: str) -> str:
    if suffix and not text.endswith(suffix):
        raise NotSupportedError(f"probing {what}: {text!r} does not end with {suffix!r} (turns are not plain slots)")
    return text[: len(text) - len(suffix)] if suffix else text


def probe_format(source: str, *, bos_token: str = "", eos_token: str = "") -> ProbedFormat:
    """Slots of the official template ``source`` (see the module docstring)."""
    from dayzero.sdk.templates import TEST_DATE, render_official

    def render(msgs: list[dict[str, str]], gp: bool = False) -> str:
        return render_official(source, msgs, add_generation_prompt=gp, bos_token=bos_token, eos_token=eos_token,
                               date=TEST_DATE)

    u, a = {"role": "user", "content": U1}, {"role": "assistant", "content": A1}
    two = render([u, a])
    four = render([u, a, {"role": "user", "content": U2}, {"role": "assistant", "content": A2}])
    prompt_only = render([u], gp=True)
    no_prompt = render([u])
    final_eos = (bool(eos_token) and no_prompt.endswith(eos_token) and not prompt_only.startswith(no_prompt)
                 and prompt_only.startswith(no_prompt[: -len(eos_token)]))
    if final_eos:  # Phi-3 appends eos when no generation prompt follows
        no_prompt, two = no_prompt[: -len(eos_token)], two.removesuffix(eos_token)
    if not prompt_only.startswith(no_prompt):  # equal is fine: Mistral's [/INST] already opens the answer
        raise NotSupportedError("probing the generation prompt: the prompt render does not extend the plain one")
    gen_prompt = prompt_only[len(no_prompt):]
    # bos opening the conversation, not a token that opens every turn (Seed-OSS: `<seed:bos>user\n`)
    bos = bool(bos_token) and two.startswith(bos_token) and four.count(bos_token) == 1
    lead = two[len(bos_token):] if bos else two
    before_user = _between(lead, None, U1)
    assistant_tail_user_head = _between(four, A1, U2)
    user_tail_assistant_head = _between(four, U1, A1)  # the first turn of four: no `loop.last` special case
    final_tail = two[two.index(A1) + len(A1):]
    closing: str | None = None  # a final answer's closing text, when shorter than an earlier answer's
    if final_tail and assistant_tail_user_head.startswith(final_tail) and \
            before_user.endswith(assistant_tail_user_head[len(final_tail):]):
        # the template closes a final answer the same way as an earlier one: that text is the assistant's tail
        assistant_tail, user_head = final_tail, assistant_tail_user_head[len(final_tail):]
    elif final_tail and assistant_tail_user_head.startswith(final_tail):
        # Falcon3: `eos + '\n'` after an earlier answer, `eos` alone after the last (`loop.last`): the user head is
        # what precedes the first question too, the rest closes an earlier answer; the final one's is checked below
        user_head = _common_suffix(before_user, assistant_tail_user_head)
        assistant_tail = _strip_suffix(assistant_tail_user_head, user_head, "the assistant turn's end")
        closing = final_tail
    else:  # no closing text at the end (GLM-4: the next turn's opening ends the answer)
        user_head = _common_suffix(before_user, assistant_tail_user_head)
        assistant_tail = _strip_suffix(assistant_tail_user_head, user_head, "the assistant turn's end")
    if not before_user.endswith(user_head):
        raise NotSupportedError(f"probing the user turn: {before_user!r} does not end with {user_head!r}")
    reasoning = _probe_reasoning(source, gen_prompt, prompt_only)
    opened = reasoning.get("on_prompt")
    if opened and gen_prompt.endswith(opened) and not user_tail_assistant_head.endswith(gen_prompt):
        # the prompt opens a reasoning block a written answer does not have (DeepSeek-R1: `<｜Assistant｜><think>\n`):
        # that part is the reasoning section's `on_prompt`, the rest the answer's head (not doubled into the user turn)
        gen_prompt = gen_prompt[: -len(opened)]
    assistant_head = gen_prompt if user_tail_assistant_head.endswith(gen_prompt) else ""
    at = user_tail_assistant_head.rfind(gen_prompt) if gen_prompt else -1
    if not assistant_head and at >= 0 and not user_tail_assistant_head[at + len(gen_prompt):].strip():
        # DeepSeek-LLM / V2: the prompt is `Assistant:`, a written answer `Assistant: ` (one more space)
        assistant_head = user_tail_assistant_head[at:]
    last_tail = no_prompt[no_prompt.rindex(U1) + len(U1):] if U1 in no_prompt else ""
    if not assistant_head and not gen_prompt and last_tail and user_tail_assistant_head.startswith(last_tail):
        # no generation prompt, but a written answer starts with more than the last question ends with (Mistral
        # v0.1: ` [/INST]` ends the prompt, ` [/INST] ` precedes an answer): that space is the answer's head
        assistant_head = user_tail_assistant_head[len(last_tail):]
    user_tail = _strip_suffix(user_tail_assistant_head, assistant_head, "the user turn's end")
    preamble = before_user[: len(before_user) - len(user_head)]  # default system turn, if any
    end_of_turn = _first_special(assistant_tail) or assistant_tail.strip() or eos_token
    final_rest = None
    if closing is not None:  # the final answer must close with the same end-of-turn, only the text after it differs
        cut = assistant_tail.index(end_of_turn) + len(end_of_turn) if end_of_turn in assistant_tail else -1
        if cut < 0 or not closing.startswith(assistant_tail[:cut]):
            raise NotSupportedError(f"probing the assistant turn's end: the final answer ends with {closing!r}, "
                                    f"an earlier one with {assistant_tail!r} (not the same end-of-turn)")
        final_rest = closing[cut:]
    # No closing text at all (GLM-4): the next turn's opening token ends an answer and is trained with it.
    opener = _first_special(user_head) if not assistant_tail else None
    probed = ProbedFormat(bos=bos, system=None, user=f"{user_head}{{content}}{user_tail}",
                          assistant=f"{assistant_head}{{content}}{assistant_tail}", generation_prompt=gen_prompt,
                          end_of_turn=opener or end_of_turn, system_support="none", final_eos=final_eos,
                          end_of_turn_in_slot=opener is None, final_tail=final_rest)
    _probe_system(probed, render, bos_token if bos else "", user_head, preamble, source)
    if preamble and probed.default_system is None and not probed.system_always and (
            probed.system is None or probed.system.startswith(preamble)):
        # text every conversation starts with, system turn or not (GLM-4: `[gMASK]<sop>`)
        probed.prefix = preamble
        if probed.system is not None:
            probed.system = probed.system[len(preamble):]
        if probed.fold is not None:
            probed.fold = probed.fold.removeprefix(preamble)
    probed.specials = sorted(set(_SPECIAL.findall(source)) | set(_SPECIAL.findall(four)))
    probed.reasoning = reasoning
    return probed


def _probe_system(probed: ProbedFormat, render: Any, bos: str, user_head: str, preamble: str, source: str) -> None:
    try:
        text = render([{"role": "system", "content": SYS}, {"role": "user", "content": U1}])
    except TemplateError:
        probed.system_support = "reject"
        return
    if SYS not in text:
        probed.system_support = "none"
        return
    body = text[len(bos):]
    head = body[: body.index(SYS)]
    after = _between(body, SYS, U1)
    if after.endswith(user_head) and user_head and not head.endswith(user_head):
        probed.system = f"{head}{{content}}{after[: len(after) - len(user_head)]}"
        probed.system_support = "native"
    elif head.endswith(user_head):  # system text inside the first user message
        probed.system_support = "fold_first_user"
        probed.fold = f"{{system}}{after}{{content}}"
        return
    else:
        probed.system = f"{head}{{content}}{after}" if not user_head else f"{head}{{content}}{after[: len(after) - len(user_head)]}"
        probed.system_support = "native"
    _split_preamble(probed, user_head, bool(preamble), source)
    if preamble and probed.system:
        shead, stail = probed.system.split("{content}")
        if preamble.startswith(shead) and preamble.endswith(stail):
            content = preamble[len(shead): len(preamble) - len(stail)]
            from dayzero.sdk.templates import TEST_DATE

            written = probed.system_preamble.replace("{date}", TEST_DATE.strftime(probed.date_format or "%d %b %Y"))
            content = content.removeprefix(written)  # the preamble is the format's, not a default prompt
            probed.default_system = _undate(probed, content, source) or None


# How templates write today's date (strftime_now): Llama 3.1 "26 Jul 2024", SmolLM3 "26 July 2024", Granite
# "July 26, 2024". Longest first, so "July" is not read as "Jul".
DATE_FORMATS = ("%d %B %Y", "%B %d, %Y", "%d %b %Y", "%Y-%m-%d")


def _undate(probed: ProbedFormat, text: str, source: str) -> str:
    """A default system prompt with the probe's date turned back into `{date}` (Apertus writes today's date into
    its default system turn), the format's `date_format` / `fixed_date` recorded as for a preamble."""
    from dayzero.sdk.templates import TEST_DATE

    for fmt in DATE_FORMATS:
        stamp = TEST_DATE.strftime(fmt)
        if stamp not in text:
            continue
        if "{date}" not in probed.system_preamble:
            probed.date_format = fmt if fmt != "%d %b %Y" else None
            probed.fixed_date = stamp if stamp in source else None
        elif (probed.date_format or "%d %b %Y") != fmt:
            return text  # a second date format in one template: left as the literal text, for the review
        return text.replace(stamp, "{date}")
    return text


def _split_preamble(probed: ProbedFormat, user_head: str, turn_without_system: bool, source: str) -> None:
    """Llama 3.1 writes fixed text (a knowledge cutoff, today's date) at the start of every system turn.

    The system turn's role header is taken to be the user's with the role renamed; text between that
    header and the content is the preamble, with the probe's fixed date turned back into `{date}`.
    """
    from dayzero.sdk.templates import TEST_DATE

    if probed.system is None or "user" not in user_head:
        return
    header = user_head.replace("user", "system", 1)
    head, tail = probed.system.split("{content}")
    if not head.startswith(header) or head == header:
        return
    preamble = head[len(header):]
    probed.system = f"{header}{{content}}{tail}"
    probed.system_preamble = preamble
    for fmt in DATE_FORMATS:  # the probe's date, in whichever way the template writes it, back to `{date}`
        stamp = TEST_DATE.strftime(fmt)
        if stamp in preamble:
            probed.system_preamble = preamble.replace(stamp, "{date}")
            probed.date_format = fmt if fmt != "%d %b %Y" else None  # the schema's default
            probed.fixed_date = stamp if stamp in source else None  # a literal in the template: pinned
            break
    probed.system_always = turn_without_system


def _probe_reasoning(source: str, gen_prompt: str, prompt_text: str) -> dict[str, Any]:
    if "</think>" not in source:
        return {"mode": "none"}
    out: dict[str, Any] = {"open": "<think>", "close": "</think>", "history": "strip"}
    if "enable_thinking" in source:
        out.update(mode="hybrid", switch="enable_thinking")
    else:
        out["mode"] = "always"
    tail = prompt_text[len(prompt_text) - len(gen_prompt):] if gen_prompt else ""
    if "<think>" in tail:
        out["on_prompt"] = tail[tail.index("<think>"):]
    return out


def _common_suffix(a: str, b: str) -> str:
    """The longest common suffix, never starting inside a special-looking token of either text (Apertus:
    `<|developer_end|><|user_start|>` and `<|assistant_end|><|user_start|>` share `_end|><|user_start|>`)."""
    n = 0
    while n < min(len(a), len(b)) and a[len(a) - 1 - n] == b[len(b) - 1 - n]:
        n += 1
    moved = True
    while n and moved:
        moved = False
        for text in (a, b):
            cut = len(text) - n
            for match in _SPECIAL.finditer(text):
                if match.start() < cut < match.end():
                    n, moved = len(text) - match.end(), True
                    break
    return a[len(a) - n:] if n else ""


def _first_special(text: str) -> str | None:
    match = _SPECIAL.search(text)
    return match.group(0) if match else None
