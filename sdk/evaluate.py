"""`dayzero eval RUN|MODEL`: generate on held-out prompts through the serving path, score, compare with the base.

What is generated is what `dayzero serve` would answer: the model is loaded by `serve.load_service`, each
prompt goes through an OpenAI chat request (family template, tools, end-of-turn stops, reasoning split
off), greedy. Scores, over the rows that have a reference reply:

- `exact_match`: the answer (reasoning removed) equals the reference after stripping whitespace;
- `rougeL`: ROUGE-L F1 of Google's `rouge-score` package (the reference implementation of Lin 2004);
- `bleu`: corpus BLEU of `sacrebleu` (0-100, its default 13a tokenizer);

and, over every row, the mean of each rule reward asked for (`rewards`; a GRPO run's own rewards by
default), the same functions that scored its rollouts. With a base model (`--base`), both are scored on
the same prompts and the table shows the change. Results go to `eval.json` and, for a run, into its run.json.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dayzero.atomic import atomic_write_text
from dayzero.errors import DataError, ServeError

from .recipe.rl import RewardSpec

METRICS = ("exact_match", "rougeL", "bleu")
SHOWN_ROWS = 50  # rows written out with their completions


@dataclass
class Scored:
    """One model's scores on the prompts: the averages and each row."""

    model: str
    metrics: dict[str, float | None]
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EvalReport:
    data: str
    prompts: int
    model: Scored
    base: Scored | None = None
    path: Path | None = None

    def delta(self) -> dict[str, float | None]:
        if self.base is None:
            return {}
        out: dict[str, float | None] = {}
        for name, value in self.model.metrics.items():
            before = self.base.metrics.get(name)
            out[name] = None if value is None or before is None else value - before
        return out

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "data": self.data,
            "prompts": self.prompts,
            "model": self.model.model,
            "metrics": self.model.metrics,
            "rows": self.model.rows[:SHOWN_ROWS],
        }
        if self.base is not None:
            out["base"] = {
                "model": self.base.model,
                "metrics": self.base.metrics,
                "rows": self.base.rows[:SHOWN_ROWS],
            }
            out["delta"] = self.delta()
        return out


@dataclass
class Target:
    """What to evaluate: a served model spec, its family, and (for a run) the run's facts."""

    spec: Path
    family: str | None
    run_dir: Path | None
    run: dict[str, Any]


def resolve_target(spec: str | Path) -> Target:
    path = Path(spec).expanduser()
    if (path / "run.json").is_file():
        from .runinfo import read_run_json

        run = read_run_json(path)
        return Target(spec=path, family=run.get("family"), run_dir=path, run=run)
    if not path.is_dir():
        raise ServeError(f"{spec} is neither a run directory nor a model directory")
    return Target(spec=path, family=None, run_dir=None, run={})


def load_prompts(target: Target, data: str | None, limit: int | None) -> tuple[list[Any], str]:
    """The prompts to score: `data` (a catalog name or file; all its rows), else the run's held-out split."""
    from .data import DataConfig
    from .data.prompts import read_prompts

    recipe = target.run.get("recipe") or {}
    base_dir = Path(target.run["recipe_base_dir"]) if target.run.get("recipe_base_dir") else Path.cwd()
    run_data = dict(recipe.get("data") or {})
    if data is not None:
        config = DataConfig(
            datasets=[data],
            catalog=run_data.get("catalog"),
            placeholders=run_data.get("placeholders") or {},
            on_error="skip",
        )
        prompts = read_prompts(config, base_dir=base_dir if run_data.get("catalog") else Path.cwd())
        rows, label = prompts.train + prompts.held_out, data
    else:
        if not run_data or not run_data.get("val_size"):
            raise DataError(
                "no data to evaluate on: pass --data DATASET"
                + (" (the run held out no rows: data.val_size is 0)" if run_data else ""),
                hint="a catalog name (`dayzero data list`) or a file of prompt, sft, preference or kto rows",
            )
        rows, label = (
            read_prompts(DataConfig(**run_data), base_dir=base_dir).held_out,
            "held-out split of the run",
        )
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise DataError(f"no prompts to evaluate in {label}")
    return rows, label


def generate(
    service: Any, rows: Sequence[Any], *, max_new_tokens: int, thinking: str | None = None
) -> list[str]:
    """Greedy answers through the service's chat path; a reasoning block comes back in the family's delimiters."""
    from .serve.api_errors import ApiError
    from .serve.schemas import ChatCompletionRequest

    fmt = service.formatting
    kwargs = (
        {fmt.reasoning_switch: thinking == "on"}
        if thinking in ("on", "off") and fmt.reasoning_switch
        else None
    )
    out = []
    for row in rows:
        req = ChatCompletionRequest(
            model=service.model_name,
            messages=_openai_messages(row.messages),
            tools=row.tools or None,
            max_tokens=max_new_tokens,
            temperature=0,
            chat_template_kwargs=kwargs,
        )
        try:
            message = asyncio.run(service.chat(req)).choices[0].message
        except ApiError as exc:  # e.g. a prompt longer than the model's context
            raise DataError(f"{row.origin}: the model cannot answer this prompt: {exc.message}") from None
        text = message.content or ""
        if message.reasoning_content is not None and fmt.reasoning_open and fmt.reasoning_close:
            text = f"{fmt.reasoning_open}{message.reasoning_content}{fmt.reasoning_close}{text}"
        out.append(text)
    return out


def _openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical rows as OpenAI messages: call arguments as JSON text, tool results tied to a call id."""
    out, last_ids = [], []
    for i, m in enumerate(messages):
        msg = {k: v for k, v in m.items() if k in ("role", "content", "reasoning_content", "name")}
        if m.get("tool_calls"):
            calls = []
            for j, call in enumerate(m["tool_calls"]):
                fn = call["function"]
                args = fn["arguments"] if isinstance(fn["arguments"], str) else json.dumps(fn["arguments"])
                calls.append(
                    {
                        "id": call.get("id") or f"call_{i}_{j}",
                        "type": "function",
                        "function": {"name": fn["name"], "arguments": args},
                    }
                )
            msg["tool_calls"], last_ids = calls, [c["id"] for c in calls]
        if m["role"] == "tool":
            msg["tool_call_id"] = m.get("tool_call_id") or (last_ids.pop(0) if last_ids else f"call_{i}")
        out.append(msg)
    return out


def score(
    completions: Sequence[str],
    rows: Sequence[Any],
    *,
    family: Any,
    rewards: Sequence[RewardSpec] = (),
    tokenizer: Any = None,
    prompts: Sequence[str] | None = None,
    model: str = "",
) -> Scored:
    """Reference metrics over the rows with a reference, reward means over all rows."""
    from .rewards import answer_of, build_rewards

    refs = [row.reference for row in rows]
    pairs = [
        (answer_of(c, family), r.strip()) for c, r in zip(completions, refs, strict=True) if r and r.strip()
    ]
    metrics: dict[str, float | None] = dict.fromkeys(METRICS)
    per_row: list[dict[str, Any]] = [
        {"prompt": row.messages, "reference": row.reference, "completion": c}
        for row, c in zip(rows, completions, strict=True)
    ]
    if pairs:
        from rouge_score import rouge_scorer
        from sacrebleu.metrics import BLEU

        scorer = rouge_scorer.RougeScorer(["rougeL"])
        hyps, targets = [h for h, _ in pairs], [t for _, t in pairs]
        rouge = [scorer.score(t, h)["rougeL"].fmeasure for h, t in pairs]
        metrics["exact_match"] = sum(h == t for h, t in pairs) / len(pairs)
        metrics["rougeL"] = sum(rouge) / len(rouge)
        metrics["bleu"] = float(BLEU().corpus_score(hyps, [targets]).score)
        it = iter(rouge)
        for entry in per_row:
            ref = entry["reference"]
            if ref and ref.strip():
                answer = answer_of(entry["completion"], family)
                entry |= {"exact_match": float(answer == ref.strip()), "rougeL": next(it)}
    if rewards:
        fns = build_rewards(rewards, family=family, tokenizer=tokenizer)
        columns = {"reference": refs, "messages": [json.dumps(r.messages) for r in rows]}
        for name in {s.column for s in rewards if s.column and s.column != "reference"}:
            columns[name] = [r.extra.get(name) for r in rows]
        ids = (
            [tokenizer(c, add_special_tokens=False)["input_ids"] for c in completions] if tokenizer else None
        )
        for spec, fn in zip(rewards, fns, strict=True):
            values = fn(
                prompts=list(prompts or [""] * len(rows)),
                completions=list(completions),
                completion_ids=ids,
                **columns,
            )
            kept = [v for v in values if v is not None]
            metrics[f"reward/{spec.label}"] = sum(kept) / len(kept) if kept else None
            for entry, v in zip(per_row, values, strict=True):
                entry[f"reward/{spec.label}"] = v
    return Scored(model=model, metrics=metrics, rows=per_row)


def evaluate(
    spec: str | Path,
    *,
    data: str | None = None,
    base: bool | str | Path = False,
    rewards: Sequence[RewardSpec] | None = None,
    max_new_tokens: int = 64,
    limit: int | None = None,
    out: Path | None = None,
) -> EvalReport:
    """Score a run or model on prompts, optionally against its base (`base=True`: a run's base; a path: that model)."""
    from .serve import find_target

    target = resolve_target(spec)
    rows, label = load_prompts(target, data, limit)
    served = find_target(target.spec, family=target.family)
    family = served.family
    thinking = ((target.run.get("plan") or {}).get("template") or {}).get("thinking")
    if rewards is None:
        rewards = _run_rewards(target)
    report = EvalReport(
        data=label,
        prompts=len(rows),
        model=_score_model(served, rows, family, rewards, max_new_tokens, thinking),
    )
    if base:
        base_dir = _base_dir(target) if base is True else Path(base)
        base_target = find_target(base_dir, family=family.id, name="base")
        report.base = _score_model(base_target, rows, family, rewards, max_new_tokens, thinking)
    out_dir = out or ((target.run_dir / "eval") if target.run_dir else Path.cwd() / f"eval-{served.name}")
    report.path = out_dir / "eval.json"
    body = report.as_dict() | {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "family": family.id,
    }
    atomic_write_text(report.path, json.dumps(body, indent=2, default=str) + "\n")
    if target.run_dir is not None:
        from .runinfo import read_run_json, write_run_json

        info = read_run_json(target.run_dir)
        summary = {k: v for k, v in body.items() if k not in ("rows",)}
        if "base" in summary:
            summary["base"] = {k: v for k, v in summary["base"].items() if k != "rows"}
        info["eval"] = summary | {"file": str(report.path)}
        write_run_json(target.run_dir, info)
    return report


def _score_model(
    target: Any,
    rows: Sequence[Any],
    family: Any,
    rewards: Sequence[RewardSpec],
    max_new_tokens: int,
    thinking: str | None,
) -> Scored:
    from .serve import service_for

    service = service_for(target, default_max_tokens=max_new_tokens)
    try:
        completions = generate(service, rows, max_new_tokens=max_new_tokens, thinking=thinking)
        return score(
            completions,
            rows,
            family=family,
            rewards=rewards,
            tokenizer=service.tokenizer,
            model=str(target.adapter_dir or target.model_dir),
        )
    finally:
        service.backend.close()


def _run_rewards(target: Target) -> list[RewardSpec]:
    """A GRPO run's own rule rewards (reward models and python code are left to an explicit `rewards`)."""
    rl = (target.run.get("recipe") or {}).get("rl") or {}
    specs = [RewardSpec(**r) for r in rl.get("rewards") or []]
    return [s for s in specs if s.kind not in ("reward_model", "python")]


def _base_dir(target: Target) -> Path:
    if target.run_dir is None:
        raise ServeError(
            "`--base` compares a run with the model it started from; for a model directory pass "
            "`--base-model DIR`"
        )
    from .loading import model_dir
    from .plan import Plan

    plan = Plan.model_validate(target.run["plan"])
    return model_dir(plan, target.run_dir, Path(target.run.get("recipe_base_dir") or "."))


def render_table(report: EvalReport) -> Any:
    """A rich table: metric, model, and with a base, base and change."""
    from rich.table import Table

    table = Table(title=f"eval on {report.data} ({report.prompts} prompts)")
    table.add_column("metric")
    table.add_column("model", justify="right")
    if report.base is not None:
        table.add_column("base", justify="right")
        table.add_column("change", justify="right")
    delta = report.delta()
    for name, value in report.model.metrics.items():
        cells = [name, _fmt(value)]
        if report.base is not None:
            cells += [_fmt(report.base.metrics.get(name)), _fmt(delta.get(name), sign=True)]
        table.add_row(*cells)
    return table


def _fmt(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if sign else f"{value:.4f}"
