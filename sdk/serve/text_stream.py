"""Turning a stream of token ids into the text a client may see, one safe piece at a time.

Three things make streaming harder than decoding at the end, and each has a small class here:
- a token can end in the middle of a UTF-8 character, so text is released only once it decodes
  cleanly (`TextStream`);
- a stop sequence can arrive split over several tokens, so the tail that could still become one is
  held back until it cannot (`TextStream`), and a matched stop sequence is cut off, never sent;
- reasoning and tool calls are delimited by markers that can also arrive in pieces
  (`ReasoningSplitter`, `HoldFrom`).
The marker strings all come from the registry (the family's reasoning delimiters, the tool dialect).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def held_tail(text: str, markers: Iterable[str]) -> int:
    """Length of the longest end of ``text`` that is a proper beginning of one of ``markers``."""
    best = 0
    for marker in markers:
        for k in range(min(len(marker) - 1, len(text)), best, -1):
            if text.endswith(marker[:k]):
                best = k
                break
    return best


class TextStream:
    """Token ids in, text out; stop sequences cut off and never emitted."""

    def __init__(self, tokenizer: Any, stop: Iterable[str] = (), skip_ids: Iterable[int] = ()) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.skip_ids = set(skip_ids)
        self.ids: list[int] = []
        self.text = ""  # everything emitted so far
        self.stopped = False  # a stop sequence was seen: the caller should end generation

    def _decoded(self) -> str:
        ids = [i for i in self.ids if i not in self.skip_ids]
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def push(self, token_id: int) -> str:
        """The new text this token makes safe to send (may be empty)."""
        if self.stopped:
            return ""
        self.ids.append(token_id)
        full = self._decoded()
        if full.endswith("\ufffd"):  # an unfinished multi-byte character
            return ""
        return self._release(full, final=False)

    def finish(self) -> str:
        """Whatever was held back, once generation is over."""
        if self.stopped:
            return ""
        return self._release(self._decoded().rstrip("\ufffd"), final=True)

    def _release(self, full: str, *, final: bool) -> str:
        hits = [i for i in (full.find(s, max(0, len(self.text) - len(s))) for s in self.stop) if i >= 0]
        if hits:
            self.stopped = True
            safe = min(hits)
        else:
            safe = len(full) if final else len(full) - held_tail(full, self.stop)
        if safe <= len(self.text):
            return ""
        # Decoding a longer sequence normally only appends; should a tokenizer rewrite earlier text,
        # what was sent stays sent and the stream goes on from the same length (nothing is lost).
        delta = full[len(self.text) : safe]
        self.text = full[:safe]
        return delta


class ReasoningSplitter:
    """Splits streamed text into reasoning and answer at the family's reasoning delimiters.

    ``in_reasoning`` is true when the prompt itself opened the reasoning block (templates whose
    generation prompt ends with ``<think>``): then the output starts inside it. Like the
    non-streaming split (`split_reasoning`), both parts lose their outer whitespace: leading
    whitespace is dropped, trailing whitespace is held until text follows it.
    """

    def __init__(self, open_: str, close: str, *, in_reasoning: bool = False, close_keyed: bool = False) -> None:
        self.open = open_
        self.close = close
        self.state = "reasoning" if in_reasoning else "start"
        # `close_keyed` (a model that always thinks): an answer that does not open with the tag may still
        # close one, and the non-streaming split keys on the close; until the close (or the end) shows
        # which it is, the text is held, so both paths split the same output the same way.
        self.close_keyed = close_keyed
        self.buffer = ""
        self.leading = True  # at the start of a part: drop whitespace
        self.trim = in_reasoning  # the answer is trimmed only when a reasoning block was seen

    def push(self, delta: str, *, final: bool = False) -> tuple[str, str]:
        """(reasoning delta, answer delta) for this piece of text."""
        self.buffer += delta
        reasoning, content = "", ""
        while True:
            if self.state == "start":
                head = self.buffer.lstrip()
                if head.startswith(self.open):
                    self.buffer = head[len(self.open) :]
                    self.state, self.leading, self.trim = "reasoning", True, True
                    continue
                if not final and (not head or self.open.startswith(head)):
                    return reasoning, content  # could still become the open marker
                if self.close_keyed:
                    at = self.buffer.find(self.close)
                    if at >= 0:  # reasoning without its opening tag, as the non-streaming split reads it
                        reasoning += self.buffer[:at].strip()
                        self.buffer = self.buffer[at + len(self.close) :]
                        self.state, self.leading, self.trim = "content", True, True
                        continue
                    if not final:
                        return reasoning, content
                self.state, self.leading = "content", False
                continue
            if self.leading:
                self.buffer = self.buffer.lstrip()
                if not self.buffer:
                    return reasoning, content
                self.leading = False
            if self.state == "reasoning":
                at = self.buffer.find(self.close)
                if at >= 0:
                    reasoning += self.buffer[:at].rstrip()
                    self.buffer = self.buffer[at + len(self.close) :]
                    self.state, self.leading = "content", True
                    continue
                reasoning += self._release(self.buffer, [self.close], final)
                return reasoning, content
            content += self._release(self.buffer, [], final) if self.trim else self.buffer
            if not self.trim:
                self.buffer = ""
            return reasoning, content

    def _release(self, text: str, markers: list[str], final: bool) -> str:
        """The part of ``text`` that can be sent: not a partial marker, not trailing whitespace."""
        if final:
            self.buffer = ""
            return text.rstrip()
        keep = held_tail(text, markers)
        rest = text[: len(text) - keep]
        keep += len(rest) - len(rest.rstrip())
        self.buffer = text[len(text) - keep :]
        return text[: len(text) - keep]


class HoldFrom:
    """Passes text through until a marker (a tool call's opening) appears; from there, holds it all."""

    def __init__(self, marker: str | None) -> None:
        self.marker = marker
        self.sent = ""
        self.held = ""
        self.holding = marker is None  # no marker known: hold everything until the end

    def push(self, delta: str, *, final: bool = False) -> str:
        if self.holding:
            self.held += delta
            return ""
        pending = self.held + delta
        assert self.marker is not None
        at = pending.find(self.marker)
        if at >= 0:
            self.holding = True
            self.held = pending[at:]
            out = pending[:at]
        else:
            keep = 0 if final else held_tail(pending, [self.marker])
            out = pending[: len(pending) - keep]
            self.held = pending[len(pending) - keep :]
        self.sent += out
        return out


class StripHeader:
    """Drops an assistant-turn header the model writes at the start of its answer.

    Some formats open the answer with a header of their own after the reasoning block (harmony's
    `<|start|>assistant<|channel|>final<|message|>`); the headers come from the chat format's
    assistant slot, so a format without one passes text through (after at most a short hold).
    """

    def __init__(self, headers: Iterable[str]) -> None:
        self.headers = sorted((h for h in headers if h.strip()), key=len, reverse=True)
        self.buffer = ""
        self.done = not self.headers

    def push(self, delta: str, *, final: bool = False) -> str:
        if self.done:
            return delta
        self.buffer += delta
        for header in self.headers:
            if self.buffer.startswith(header):
                self.done = True
                return self.buffer[len(header) :]
        if not final and any(h.startswith(self.buffer) for h in self.headers):
            return ""  # could still become a header
        self.done = True
        return self.buffer


def strip_header(text: str, headers: Iterable[str]) -> str:
    """The whole-text form of `StripHeader`."""
    out = StripHeader(headers)
    return out.push(text, final=True)
