"""Does a model's own files agree with the family its config matched?

Matching by config (architectures, model_type, `when`) picks a family from a handful of fields; the
model's `tokenizer_config.json` and `generation_config.json` say far more. A DeepSeek-R1 distill of
Llama has Llama's architecture but DeepSeek's special tokens and template: run with `llama3`'s facts
it would stop on the wrong token. So after a config match the model's own facts are compared with
the family's, and with every checkpoint override (a base checkpoint's eos, a 3.2 checkpoint's
template): a fact that matches none of them is a contradiction, and the resolution says so.

Checked: eos and bos (tokenizer_config), the generation eos ids (generation_config, named through
`added_tokens_decoder`), and the chat template (one fixed conversation rendered by the model's own
template and by the family's format; equal for at least one of the family's variants, its tools list too where both
write one).
"""

from __future__ import annotations

from typing import Any

from .schema import Family

# A short conversation every chat template renders; the system turn is dropped for templates that refuse it.
_CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi there"},
    {"role": "user", "content": "Who are you?"},
]


def _token(value: Any) -> str | None:
    if isinstance(value, dict):  # an AddedToken object
        value = value.get("content")
    return value if isinstance(value, str) else None


def _eos_variants(family: Family) -> set[str]:
    """Every eos the family or one of its checkpoints declares, plus the tokens that end its turns."""
    names = {family.tokenizer.eos, *family.tokenizer.end_of_turn, *family.serving.generation_eos}
    names.update(c.overrides.eos for c in family.checkpoints if c.overrides.eos)
    return names


def _generation_eos_names(docs: dict[str, Any]) -> list[str]:
    """generation_config.eos_token_id, named through the tokenizer's added tokens (unknown ids skipped)."""
    gen = (docs.get("generation_config") or {}).get("eos_token_id")
    ids = gen if isinstance(gen, list) else [gen] if isinstance(gen, int) else []
    added = (docs.get("tokenizer_config") or {}).get("added_tokens_decoder") or {}
    names = []
    for i in ids:
        entry = added.get(str(i))
        name = _token(entry)
        if name is not None:
            names.append(name)
    return names


def chat_template_of(docs: dict[str, Any]) -> str | None:
    """The default chat template of a model's files (tokenizer_config, or chat_template.jinja beside it)."""
    tpl = docs.get("chat_template_text") or (docs.get("tokenizer_config") or {}).get("chat_template")
    if isinstance(tpl, list):  # [{name, template}, ...]
        tpl = next(
            (t.get("template") for t in tpl if isinstance(t, dict) and t.get("name") == "default"), None
        )
    if isinstance(tpl, dict):
        tpl = tpl.get("default")
    return tpl if isinstance(tpl, str) and tpl else None


def template_agrees(family: Family, docs: dict[str, Any], source: str) -> bool | None:
    """True/False: the model's template renders like one of the family's variants; None: not comparable."""
    from dayzero.errors import DayzeroError
    from dayzero.sdk.templates import TEST_DATE, ChatTemplate

    tcfg = docs.get("tokenizer_config") or {}
    bos, eos = _token(tcfg.get("bos_token")) or "", _token(tcfg.get("eos_token")) or ""
    official = ChatTemplate.from_official(source, None, bos, eos, date=TEST_DATE)
    variants: list[str | None] = [None]
    mode = family.template.reasoning.mode
    seen = {(family.template.format, family.tokenizer.eos, str(getattr(mode, "value", mode)))}
    for ckpt in family.checkpoints:
        o = ckpt.overrides
        key = (o.template or family.template.format, o.eos or family.tokenizer.eos,
               o.reasoning or str(getattr(mode, "value", mode)))
        if key not in seen:
            seen.add(key)
            variants.append(ckpt.hf)
    # every conversation the model's template renders must come out the same: the one without a system turn
    # shows the default system prompt (Qwen1.5's differs from Qwen2.5's), the one with it the system layout
    expected: list[tuple[list[dict[str, Any]], str]] = []
    for conversation in (_CONVERSATION, _CONVERSATION[1:]):
        try:
            expected.append((conversation, official.render(conversation, add_generation_prompt=True)))
        except DayzeroError:
            continue
    if not expected:
        return None
    for ckpt in variants:
        tpl = ChatTemplate.for_family(family, ckpt, date=TEST_DATE)
        if all(_renders(tpl, conversation) == text for conversation, text in expected) and (
            _tools_agree(tpl, official, expected[0][0]) is not False
        ):
            return True
    return False


def _renders(tpl: Any, conversation: list[dict[str, Any]]) -> str | None:
    from dayzero.errors import DayzeroError

    try:
        return str(tpl.render(conversation, add_generation_prompt=True))
    except DayzeroError:
        return None


def _tools_agree(tpl: Any, official: Any, conversation: list[dict[str, Any]]) -> bool | None:
    """Whether the model's template writes a tools list as the family's variant does (Qwen3-Coder's XML tools block
    is not Qwen3's Hermes one, though their plain turns are the same). None: not comparable, because the model's
    template writes no tools list, or the family's format has none."""
    from dayzero.errors import DayzeroError
    from dayzero.sdk.templates.battery import TOOLS

    first_user = next(i for i, m in enumerate(conversation) if m["role"] == "user")
    prompt = conversation[: first_user + 1]  # the system message (when taken) and the first question
    try:
        with_tools = official.render(prompt, tools=TOOLS, add_generation_prompt=True)
        if with_tools == official.render(prompt, add_generation_prompt=True):
            return None
        ours = tpl.render(prompt, tools=TOOLS, add_generation_prompt=True)
    except DayzeroError:
        return None
    return ours == with_tools


def contradictions(family: Family, docs: dict[str, Any]) -> list[str]:
    """What in the model's own files contradicts the family and every one of its checkpoint overrides."""
    found: list[str] = []
    tcfg = docs.get("tokenizer_config") or {}
    eos_ok = _eos_variants(family)
    eos = _token(tcfg.get("eos_token"))
    if eos is not None and eos not in eos_ok:
        found.append(f"tokenizer_config.eos_token is {eos!r}; family {family.id} ends on {sorted(eos_ok)}")
    if "bos_token" in tcfg:
        bos = _token(tcfg.get("bos_token"))
        if bos != family.tokenizer.bos:
            found.append(
                f"tokenizer_config.bos_token is {bos!r}; family {family.id} has {family.tokenizer.bos!r}"
            )
    for name in _generation_eos_names(docs):
        if name not in eos_ok:
            found.append(
                f"generation_config.eos_token_id names {name!r}, which family {family.id} never stops on"
            )
    source = chat_template_of(docs)
    if source is not None and template_agrees(family, docs, source) is False:
        found.append(
            f"the model's chat template renders a conversation differently from family {family.id}'s format "
            "(and from every checkpoint override's)"
        )
    return found
