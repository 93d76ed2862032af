"""``ChatTemplate``: one object that renders a conversation for training and for serving.

Two backends behind one interface:

- ``ChatTemplate.for_family(family)``: the structured renderer, driven by the family's format data
  (``structured.py``); its Jinja twin (``to_jinja``) renders the same strings for tokenizers that
  ship no template and for exports.
- ``ChatTemplate.from_official(source)``: a checkpoint's own Jinja template in the sandbox
  (``sandbox.py``); spans from ``{% generation %}`` markers or a render diff (``official.py``).

Either way ``encode`` labels the tokens of the very string ``render`` returns, which is the string
a server renders, so the model is trained on the format it is served with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dayzero.errors import NotSupportedError, TemplateError
from dayzero.registry.schema import ChatFormat, Family, FamilyTemplate, Reasoning
from dayzero.registry.view import FamilyView

from .encode import encode_text, select_trained, trained_ranges
from .official import official_segments
from .sandbox import render_official
from .structured import Spec, render_segments, thinking_state
from .types import Encoded, Segment, normalize


class ChatTemplate:
    """Render, segment and encode conversations in one family's chat format."""

    def __init__(
        self,
        *,
        spec: Spec | None = None,
        source: str | None = None,
        family: FamilyTemplate | None = None,
        end_of_turn: str = "",
        stop_strings: list[str] | None = None,
        bos_token: str = "",
        eos_token: str = "",
        date: datetime | None = None,
    ) -> None:
        if (spec is None) == (source is None):
            raise TemplateError("a ChatTemplate needs exactly one of a format spec or an official source")
        self.spec = spec
        self.source = source
        self.family_template = family if family is not None else (spec.family if spec else None)
        self._end_of_turn = end_of_turn
        self._stop = stop_strings or ([end_of_turn] if end_of_turn else [])
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.date = date
        self.fallback: Spec | None = None  # structured spans for an official template that is not prefix-preserving

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def for_view(cls, view: FamilyView, *, date: datetime | None = None) -> ChatTemplate:
        """The structured renderer for a resolved family view (a Plan's `view`): no registry lookup."""
        fam, fmt = view.family, view.format
        eos = fam.tokenizer.eos
        spec = Spec(fmt=fmt, family=fam.template, bos_token=fam.tokenizer.bos or "", eos_token=eos, date=date)
        return cls(spec=spec, family=fam.template, end_of_turn=fmt.end_of_turn, stop_strings=view.stop_strings,
                   bos_token=spec.bos_token, eos_token=eos, date=date)

    @classmethod
    def for_family(
        cls,
        family: Family | str,
        checkpoint: str | None = None,
        *,
        date: datetime | None = None,
        registry: Any = None,
    ) -> ChatTemplate:
        """The structured renderer for a family (an id or a Family), with a checkpoint's overrides applied.

        A convenience for code that holds no Plan: it resolves the view in ``registry`` (default: the
        bundled one); a run's stages use `for_view(plan.view)`.
        """
        from dayzero import registry as _registry
        from dayzero.registry.view import view_of

        reg = registry or _registry.default()
        fam = reg.get(family) if isinstance(family, str) else family
        if checkpoint is not None and fam.checkpoint(checkpoint) is None:
            raise TemplateError(f"family {fam.id!r} lists no checkpoint {checkpoint!r}")
        return cls.for_view(view_of(reg, fam, checkpoint), date=date)

    @classmethod
    def from_format(
        cls, fmt: ChatFormat, family: FamilyTemplate | None = None, *, bos_token: str = "", eos_token: str = "",
        date: datetime | None = None,
    ) -> ChatTemplate:
        """A structured renderer from a format alone (tests, tokenizers with no family)."""
        tpl = family or FamilyTemplate(format=fmt.id)
        spec = Spec(fmt=fmt, family=tpl, bos_token=bos_token, eos_token=eos_token, date=date)
        return cls(spec=spec, family=tpl, end_of_turn=fmt.end_of_turn, bos_token=bos_token, eos_token=eos_token, date=date)

    @classmethod
    def from_official(
        cls,
        jinja_source: str,
        family: FamilyView | Family | FamilyTemplate | str | None = None,
        bos_token: str = "",
        eos_token: str = "",
        *,
        end_of_turn: str | None = None,
        date: datetime | None = None,
    ) -> ChatTemplate:
        """A checkpoint's own Jinja template, rendered in the sandbox exactly as transformers does.

        ``family``: a resolved view (what a run's stages pass), or a Family / id (resolved in the bundled
        registry), or just a FamilyTemplate (no stop set, no structured fallback).
        """
        if isinstance(family, str | Family):
            from dayzero import registry as _registry
            from dayzero.registry.view import view_of

            family = view_of(_registry.default(), family)
        tpl: FamilyTemplate | None = None
        eot = end_of_turn
        stops: list[str] = []
        if isinstance(family, FamilyView):
            tpl = family.family.template
            eot = eot or family.format.end_of_turn
            stops = family.stop_strings
        elif isinstance(family, FamilyTemplate):
            tpl = family
        eot = eot or eos_token
        made = cls(source=jinja_source, family=tpl, end_of_turn=eot,
                   stop_strings=stops or [s for s in dict.fromkeys([eot, eos_token]) if s],
                   bos_token=bos_token, eos_token=eos_token, date=date)
        if isinstance(family, FamilyView):
            made.fallback = Spec(fmt=family.format, family=tpl, bos_token=bos_token, eos_token=eos_token, date=date)
        return made

    @classmethod
    def for_tokenizer(
        cls, tokenizer: Any, family: FamilyView | Family | str | None = None, *, checkpoint: str | None = None,
        date: datetime | None = None,
    ) -> ChatTemplate:
        """The template training must use with this tokenizer: its own ``chat_template`` when it ships one
        (so training renders exactly what a server renders), else the family's structured renderer."""
        source = getattr(tokenizer, "chat_template", None)
        if isinstance(source, dict):  # named templates: the default one
            source = source.get("default")
        if isinstance(source, str) and source:
            return cls.from_official(source, family, getattr(tokenizer, "bos_token", None) or "",
                                     getattr(tokenizer, "eos_token", None) or "", date=date)
        if family is None:
            raise TemplateError("the tokenizer ships no chat template and no family was given",
                                hint="pass the family, e.g. ChatTemplate.for_tokenizer(tok, 'qwen2')")
        if isinstance(family, FamilyView):
            return cls.for_view(family, date=date)
        return cls.for_family(family, checkpoint, date=date)

    def install(self, tokenizer: Any, *, overwrite: bool = False) -> Any:
        """Give a tokenizer this template (the generated Jinja) when it has none; returns the tokenizer."""
        if overwrite or not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = self.to_jinja()
        return tokenizer

    # -- facts --------------------------------------------------------------------------------
    @property
    def end_of_turn(self) -> str:
        """The text that ends an assistant turn; it is trained with the turn."""
        return self._end_of_turn

    @property
    def stop_strings(self) -> list[str]:
        """Strings a server stops generation at."""
        return list(self._stop)

    @property
    def reasoning(self) -> Reasoning:
        return self.family_template.reasoning if self.family_template else Reasoning()

    # -- rendering ----------------------------------------------------------------------------
    def _official_kwargs(self, thinking: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(self.family_template.official_kwargs) if self.family_template else {}
        r = self.reasoning
        if thinking is not None and thinking not in ("on", "off", "keep"):
            raise TemplateError(f"thinking must be one of ['on', 'off', 'keep'] or None, got {thinking!r}")
        if thinking == "keep":
            raise NotSupportedError("thinking='keep' with an official template", hint="use ChatTemplate.for_family")
        if thinking is not None and r.mode == "hybrid" and r.switch:
            kwargs[r.switch] = thinking == "on"
        return kwargs

    def segments(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = False,
        thinking: str | None = None,
    ) -> list[Segment]:
        """The rendered conversation as segments; ``"".join(s.text for s in ...) == render(...)``."""
        if self.spec is not None:
            return render_segments(self.spec, messages, tools=tools, add_generation_prompt=add_generation_prompt,
                                   thinking=thinking)
        assert self.source is not None
        try:
            return official_segments(
                self.source, messages, end_of_turn=self._end_of_turn or None, tools=tools,
                add_generation_prompt=add_generation_prompt, bos_token=self.bos_token, eos_token=self.eos_token,
                date=self.date, **self._official_kwargs(thinking),
            )
        except TemplateError as exc:
            if self.fallback is None or "prefix-preserving" not in str(exc):
                raise
        # The official template rewrites earlier turns (Qwen3), so no render diff gives the spans. The family's
        # structured renderer does, and is used when, and only when, its text is the official text exactly.
        segs = render_segments(self.fallback, messages, tools=tools, add_generation_prompt=add_generation_prompt,
                               thinking=thinking)
        official = self.render(messages, tools=tools, add_generation_prompt=add_generation_prompt, thinking=thinking)
        if "".join(s.text for s in segs) != official:
            raise TemplateError(
                "the official template is not prefix-preserving here and the family's format renders this "
                "conversation differently, so no exact mask exists",
                hint="train with ChatTemplate.for_family, or check parity with `dayzero template check`",
            )
        return segs

    def render(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = False,
        thinking: str | None = None,
    ) -> str:
        """The conversation as text, exactly as a server renders it."""
        if self.spec is not None:
            return "".join(s.text for s in self.segments(
                messages, tools=tools, add_generation_prompt=add_generation_prompt, thinking=thinking))
        assert self.source is not None
        return render_official(
            self.source, messages, tools=tools, add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token, eos_token=self.eos_token, date=self.date, **self._official_kwargs(thinking),
        )

    def encode(
        self,
        messages: list[dict[str, Any]],
        tokenizer: Any,
        *,
        tools: list[dict[str, Any]] | None = None,
        thinking: str | None = None,
        train_on_prompt: bool = False,
        mask_history: bool = False,
    ) -> Encoded:
        """Token ids of ``render(messages)`` and labels: -100 except on trained text (see encode.py)."""
        segs = self.segments(messages, tools=tools, thinking=thinking)
        untrained = frozenset(m.index for m in normalize(messages) if not m.train)
        flags = select_trained(segs, train_on_prompt=train_on_prompt, mask_history=mask_history,
                               untrained_messages=untrained)
        text = "".join(s.text for s in segs)
        return encode_text(text, trained_ranges(segs, flags), tokenizer)

    def to_jinja(self) -> str:
        """A Jinja chat template rendering like ``render``, with ``{% generation %}`` around trained text."""
        if self.spec is None:
            assert self.source is not None
            return self.source
        from .jinja_gen import generate_jinja

        return generate_jinja(self.spec)

    def thinking_on(self, thinking: str | None = None) -> bool:
        """Whether the model thinks under a ``thinking`` option (the family default when None)."""
        if self.spec is None:
            r = self.reasoning
            return r.mode == "always" or (r.mode == "hybrid" and (r.default_on if thinking is None else thinking != "off"))
        return thinking_state(self.spec, thinking)[0]
