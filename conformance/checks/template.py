"""Templates: the official Jinja, the structured renderer and its generated Jinja agree (strings and
tokens), and the structured template has the properties training and serving rely on.

The parity battery and its string comparison are the template module's (`parity.check`); this
module adds the token level (through transformers' own `apply_chat_template`, which is what a server
runs on an exported tokenizer) and the properties: prefix preservation, end-of-turn trained, tool
calls that round-trip through the family's extractor, reasoning switched as declared.
"""

from __future__ import annotations

import json
from typing import Any

from dayzero.errors import DayzeroError

from ..context import Context
from ..result import NotApplicable, Outcome, Unavailable
from .base import check


def _official_source(ctx: Context) -> str:
    """The official Jinja. Without one parity cannot be shown, so the check is skipped, which blocks
    `supported`: a family earns it with `template.official` or with `--model` pointing at the release."""
    try:
        files = ctx.official_files()
    except NotApplicable:
        raise Unavailable("an official chat template (`template.official`, or --model with the release files)") \
            from None
    source = files.chat_template
    if not source:
        raise Unavailable(f"a chat template in {files.source}")
    return source


def _parity_results(ctx: Context) -> list[Any]:
    from dayzero.sdk.templates import parity
    source = _official_source(ctx)
    return ctx.once("parity", lambda: parity.check(ctx.chat_template(), source))


@check("template.parity", "official template = structured renderer = generated Jinja over the battery (strings)")
def string_parity(ctx: Context) -> Outcome:
    results = _parity_results(ctx)
    bad = [r for r in results if not r.ok]
    evidence = {"cases": {r.case: r.status for r in results},
                "first_mismatch": (bad[0].detail[:2000] if bad else None)}
    summary = (f"{len(results) - len(bad)}/{len(results)} battery cases agree"
               + (f"; mismatched: {', '.join(r.case for r in bad)}" if bad else ""))
    return Outcome(not bad, summary, evidence)


def _ids(out: Any) -> list[int]:
    """`apply_chat_template(tokenize=True)` returns ids or a BatchEncoding depending on the version."""
    if isinstance(out, dict) or hasattr(out, "keys"):
        out = out["input_ids"]
    return list(out)


@check("template.token-parity", "the same conversations give the same token ids (encode vs apply_chat_template)")
def token_parity(ctx: Context) -> Outcome:
    from dayzero.sdk.templates import battery
    results = {r.case: r.status for r in _parity_results(ctx)}
    tpl, tok = ctx.chat_template(), ctx.tiny_tokenizer()
    official = _official_source(ctx)
    generated = tpl.to_jinja()
    compared, problems, none_dropped = 0, [], []
    for case in battery.cases():
        if results.get(case.id) != "match":
            continue  # deviations and skips have no equal string to tokenize
        kw: dict[str, Any] = {"tools": case.tools, "add_generation_prompt": case.add_generation_prompt}
        try:
            ours = tpl.encode(case.messages, tok, tools=case.tools, thinking=case.thinking).input_ids \
                if not case.add_generation_prompt else \
                tok(tpl.render(case.messages, thinking=case.thinking, **kw), add_special_tokens=False)["input_ids"]
        except DayzeroError:
            continue  # a `match` where both renderers raise: nothing to tokenize
        extra = dict(ctx.family.template.official_kwargs)
        sw = ctx.family.template.reasoning.switch
        if case.thinking and sw:
            extra[sw] = case.thinking == "on"
        try:
            by_generated = _ids(tok.apply_chat_template(case.messages, chat_template=generated, tokenize=True, **kw,
                                                        **({"thinking": case.thinking} if case.thinking else {})))
        except Exception as exc:  # a template transformers cannot render is a finding, not a crash
            problems.append(f"{case.id}: transformers could not render ({type(exc).__name__}: {exc})"[:300])
            continue
        try:
            by_official = _ids(tok.apply_chat_template(case.messages, chat_template=official, tokenize=True, **kw,
                                                       **extra))
        except Exception as exc:
            by_official = _official_without_none_drop(tpl, tok, official, case, kw, extra)
            if by_official is None:
                problems.append(f"{case.id}: transformers could not render ({type(exc).__name__}: {exc})"[:300])
                continue
            none_dropped.append(case.id)
        compared += 1
        if not (list(ours) == by_official == by_generated):
            problems.append(f"{case.id}: ids differ (ours {len(ours)}, official {len(by_official)}, "
                            f"generated {len(by_generated)} tokens)")
    if compared == 0 and not problems:
        raise NotApplicable("no battery case rendered equal strings to compare at token level")
    note = (f" ({', '.join(none_dropped)}: the official ids are the tokenized official render, because transformers "
            "drops `None`-valued message keys before rendering and this official template then fails)"
            if none_dropped else "")
    return Outcome(not problems, "; ".join(problems) or f"{compared} cases give identical ids three ways{note}",
                   {"compared": compared, "problems": problems, "official_fails_on_dropped_none": none_dropped})


def _official_without_none_drop(tpl: Any, tok: Any, official: str, case: Any, kw: dict[str, Any],
                                extra: dict[str, Any]) -> list[int] | None:
    """The official template's ids for a case transformers cannot render only because it drops `None` values.

    transformers' `apply_chat_template` removes every `None`-valued message key first (OpenAI's `content: None`
    next to tool calls); templates written before that test `message['content'] is none` and then fail on the
    missing key (DeepSeek's). That is the official template's problem under this transformers, not a fact of the
    family: proven here case by case (the sandbox renders the messages as given, and fails on them with the `None`
    keys dropped), the official ids are the sandbox's render tokenized the way `apply_chat_template` tokenizes
    (no special tokens added). Any other failure: None, and the case fails.
    """
    from dayzero.sdk.templates.sandbox import render_official

    if not any(v is None for m in case.messages for v in m.values()):
        return None
    dropped = [{k: v for k, v in m.items() if v is not None} for m in case.messages]
    common = {"bos_token": tpl.bos_token, "eos_token": tpl.eos_token, "date": tpl.date, **kw, **extra}
    try:
        render_official(official, dropped, **common)
        return None  # renders without the None keys too: the failure has another cause
    except DayzeroError:
        pass
    try:
        text = render_official(official, case.messages, **common)
    except DayzeroError:
        return None
    return list(tok(text, add_special_tokens=False)["input_ids"])


@check("template.prefix-preserving", "earlier turns render the same whatever follows, as declared")
def prefix_preserving(ctx: Context) -> Outcome:
    from dayzero.sdk.templates import battery
    tpl = ctx.chat_template()
    ids = ["multi_turn", "reasoning_history"] if ctx.family.template.reasoning.mode != "none" else ["multi_turn"]
    broken = []
    rejects_system = ctx.format.system_support == "reject"
    for cid in ids:
        msgs = [m for m in battery.case(cid).messages if not (rejects_system and m["role"] == "system")]
        full = tpl.render(msgs)
        for k in range(1, len(msgs)):
            if msgs[k - 1]["role"] != "assistant":
                continue
            part = tpl.render(msgs[:k])
            eot = tpl.end_of_turn
            if eot and eot in part:  # what closes a whole conversation (Phi-3's final eos) is not the turn's
                part = part[: part.rindex(eot) + len(eot)]
            if not full.startswith(part):
                broken.append(f"{cid}[:{k}]")
    observed = not broken
    caps = ctx.family.template.capabilities
    # Without a record: only dropping reasoning before the last user turn (Qwen3) rewrites a prefix;
    # keeping it, or stripping it from every turn, renders earlier turns the same either way.
    expected = caps.prefix_preserving if caps else ctx.family.template.reasoning.history != "strip_before_last_user"
    basis = "template.capabilities" if caps else "reasoning.history"
    return Outcome(observed == expected,
                   f"prefix-preserving={observed}, {basis} implies {expected}"
                   + (f" (breaks at {', '.join(broken)})" if broken else ""),
                   {"observed": observed, "expected": expected, "basis": basis, "breaks": broken})


@check("template.end-of-turn-trained", "the end-of-turn token of an answer is inside the trained labels")
def end_of_turn_trained(ctx: Context) -> Outcome:
    from dayzero.sdk.templates import IGNORE_INDEX as ignore
    from dayzero.sdk.templates import battery
    tpl, tok = ctx.chat_template(), ctx.tiny_tokenizer()
    # Any token that ends a turn counts: harmony ends a final answer with <|return|>, earlier ones with <|end|>.
    candidates = list(dict.fromkeys([tpl.end_of_turn, getattr(ctx.format, "final_end_of_turn", None),
                                     *ctx.family.tokenizer.end_of_turn]))
    enc = tpl.encode(battery.case("single").messages, tok)
    trained = [i for i, label in enumerate(enc.labels) if label != ignore]
    if not trained:
        return Outcome(False, "nothing is trained in a one-turn conversation", {"candidates": candidates})
    found: dict[str, int] = {}
    for eot in filter(None, candidates):
        ids = tok.encode(eot, add_special_tokens=False)
        n = len(ids)
        hits = [i for i in range(trained[0], len(enc.input_ids) - n + 1) if enc.input_ids[i:i + n] == ids
                and all(enc.labels[j] != ignore for j in range(i, i + n))]
        found[eot] = len(hits)
    ok = any(found.values())
    trained_eot = [t for t, n in found.items() if n]
    summary = (f"end-of-turn {trained_eot[0]!r} is trained after the answer" if ok
               else f"none of the end-of-turn tokens {[t for t in candidates if t]} is inside the trained labels: "
                    "a model trained on one-turn data would not learn to stop")
    return Outcome(ok, summary, {"trained_occurrences": found, "trained_tokens": len(trained)})


def _calls(calls: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    out = []
    for c in calls:
        fn = c.get("function", c)
        args = fn.get("arguments")
        out.append((fn["name"], json.loads(args) if isinstance(args, str) else args))
    return out


@check("template.tool-call-roundtrip", "a rendered tool call reads back through the family's extractor")
def tool_call_roundtrip(ctx: Context) -> Outcome:
    dialect_name = ctx.family.template.tool_dialect
    if not dialect_name or ctx.format.tools is None:
        raise NotApplicable("the family declares no tool-call dialect, or its format no tools layout")
    from dayzero.sdk.templates import battery, get_dialect

    dialect = get_dialect(dialect_name)
    tpl = ctx.chat_template()
    problems, checked = [], []
    for cid in ("tool_call", "parallel_calls"):
        case = battery.case(cid)
        if cid == "parallel_calls" and ctx.format.tool_calls.single:
            continue
        idx = next(i for i, m in enumerate(case.messages) if m.get("tool_calls"))
        segs = tpl.segments(case.messages, tools=case.tools)
        text = "".join(s.text for s in segs if s.message_index == idx and s.trained)  # what the model writes
        _, got = dialect.extract(text)  # as the model writes it (harmony's calls end with their stop, <|call|>)
        if not got:  # as a server hands it over: the stop string already cut off
            for stop in tpl.stop_strings:
                text = text.replace(stop, "")
            _, got = dialect.extract(text)
        want = _calls(case.messages[idx]["tool_calls"])
        checked.append(cid)
        if _calls(got) != want:
            problems.append(f"{cid}: extracted {_calls(got)} from {text[:120]!r}, expected {want}")
    return Outcome(not problems, "; ".join(problems) or f"{dialect_name}: {', '.join(checked)} round-trip",
                   {"dialect": dialect_name, "cases": checked, "problems": problems})


@check("template.reasoning", "thinking turns on and off as `template.reasoning` declares")
def reasoning(ctx: Context) -> Outcome:
    r = ctx.family.template.reasoning
    from dayzero.sdk.templates import battery
    from dayzero.sdk.templates import split_reasoning as split
    tpl = ctx.chat_template()
    msgs = battery.case("single_prompt").messages
    problems: list[str] = []
    on = tpl.render(msgs, add_generation_prompt=True, thinking="on" if r.mode != "none" else None)
    off = tpl.render(msgs, add_generation_prompt=True, thinking="off" if r.mode == "hybrid" else None)
    evidence: dict[str, Any] = {"mode": r.mode, "on_tail": on[-40:], "off_tail": off[-40:]}
    if r.mode == "none":
        if r.open and r.open in on:
            problems.append(f"mode none, but the prompt holds {r.open!r}")
        return Outcome(not problems, "; ".join(problems) or "no reasoning, none rendered", evidence)
    if r.on_prompt and not on.endswith(r.on_prompt):
        problems.append(f"thinking on: prompt does not end with on_prompt {r.on_prompt!r}")
    if r.mode == "hybrid":
        if on == off:
            problems.append("thinking on and off render the same prompt")
        if r.off_prompt and not off.endswith(r.off_prompt):
            problems.append(f"thinking off: prompt does not end with off_prompt {r.off_prompt!r}")
    completion = f"{r.open}\nWeigh it.\n{r.close}\n\nThe answer."
    got = split(completion, ctx.family)
    evidence["split"] = list(got)
    if got != ("Weigh it.", "The answer."):
        problems.append(f"split_reasoning gave {got!r}")
    return Outcome(not problems, "; ".join(problems) or f"{r.mode}: switch and split behave as declared", evidence)


@check("template.capabilities", "the probed capabilities equal the recorded `template.capabilities`")
def capabilities(ctx: Context) -> Outcome:
    from dayzero.sdk.templates.capabilities import probe

    recorded = ctx.family.template.capabilities
    if recorded is None:
        raise Unavailable("a recorded `template.capabilities` (run `dayzero template caps`)")
    found = probe(ctx.chat_template())
    found_d = found.model_dump(mode="json") if hasattr(found, "model_dump") else dict(found)
    rec_d = recorded.model_dump(mode="json")
    diff = {k: {"recorded": rec_d.get(k), "probed": v} for k, v in found_d.items() if rec_d.get(k) != v}
    return Outcome(not diff, f"differs on {sorted(diff)}" if diff else "probe matches the record",
                   {"probed": found_d, "differences": diff})


@check("template.capabilities-official", "the official template has the recorded capabilities too", severity="warning")
def capabilities_official(ctx: Context) -> Outcome:
    """Where the structured renderer deliberately does better than the official template (arguments as
    a JSON string, an end-of-turn that is trained), the two differ: reported, never gating."""
    from dayzero.sdk.templates import ChatTemplate
    from dayzero.sdk.templates.capabilities import probe

    recorded = ctx.family.template.capabilities
    if recorded is None:
        raise Unavailable("a recorded `template.capabilities` (run `dayzero template caps`)")
    tpl = ctx.chat_template()
    official = ChatTemplate.from_official(_official_source(ctx), ctx.view(), tpl.bos_token, tpl.eos_token,
                                 end_of_turn=tpl.end_of_turn, date=tpl.date)
    found = probe(official).model_dump(mode="json")
    rec = recorded.model_dump(mode="json")
    diff = {k: {"recorded": rec.get(k), "official": v} for k, v in found.items() if rec.get(k) != v}
    return Outcome(not diff, f"official template differs on {sorted(diff)}" if diff else "official template agrees",
                   {"official": found, "differences": diff})
