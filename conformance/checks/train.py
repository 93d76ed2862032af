"""Train smoke: LoRA, full fine-tuning and QLoRA (where the family's 4-bit facts say it applies) run a
few steps on the tiny instance through the SDK (`dayzero.sdk.run`, the same path as `dayzero run`), the
loss is finite and falls, and the first step's loss equals the one pinned in the previous committed
report (same seed, same data). The QLoRA run also exports: the SDK verifies its two-step merge.

The LoRA run's directory (adapter in `final/`, merged export in `export/`) is kept in the context
for the export, serve and serving checks.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from typing import Any

from ..context import Context
from ..result import NotApplicable, Outcome
from .base import check

STEPS = 8
PIN_TOLERANCE = 2e-3  # absolute; fp32 on CPU reproduces to ~1e-6, libraries may move it a little
_METHODS = {
    "lora": ({"stage": "sft", "adapter": "lora", "r": 8, "alpha": 16, "target": "all-linear"}, 5e-3),
    "full": ({"stage": "sft", "adapter": "full"}, 1e-3),
    "qlora": ({"stage": "sft", "adapter": "qlora", "r": 8, "alpha": 16, "target": "all-linear"}, 5e-3),
}
_EXPORTED = ("lora", "qlora")  # the QLoRA run exports too: the two-step merge is verified by the SDK


def recipe_for(ctx: Context, kind: str) -> dict[str, Any]:
    """The smoke recipe: tiny model of the family, the bundled identity set (plain user/assistant pairs,
    which every chat format can render), a few steps, merged export. The cutoff is long because some
    default system prompts are (Mistral Small 3.x: ~1.6k ids of the tiny tokenizer; the tiny models hold 2048)."""
    method, lr = _METHODS[kind]
    return {
        "name": f"conformance-{ctx.family.id}-{kind}",
        "model": {"id": f"tiny:{ctx.family.id}"},
        "data": {"datasets": ["identity"], "cutoff_len": 2048},  # no system, no tools: every format
        "method": method,
        "train": {"learning_rate": lr, "max_steps": STEPS, "batch_size": 2, "logging_steps": 1, "seed": 0,
                  "report_to": "none", "save_steps": 1000, "output_dir": str(ctx.workdir / kind)},
        "export": {"enabled": kind in _EXPORTED, "merge": True, "ollama": False},
        "sample": {"prompt": None},
    }


def sdk_run(ctx: Context, kind: str) -> Any:
    """Run (once per context) the smoke recipe ``kind`` quietly; its result is cached for later checks."""
    from dayzero.sdk.runner import run

    ctx.require_class()

    def go() -> Any:
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            try:
                return run(recipe_for(ctx, kind), registry=ctx.registry)
            except StopIteration:  # TRL peeks at the first row of an empty dataset
                raise RuntimeError("the training set is empty after preprocessing: every row was longer than "
                                   "cutoff_len or the tiny model's context (a long default system prompt?)") from None

    return ctx.once(f"run:{kind}", go)


def _smoke(ctx: Context, kind: str) -> Outcome:
    result = sdk_run(ctx, kind)
    losses = [float(x) for x in result.losses]
    problems = []
    if len(losses) < 2:
        problems.append(f"only {len(losses)} losses logged")
    if not all(math.isfinite(x) for x in losses):
        problems.append(f"non-finite loss in {losses}")
    elif len(losses) >= 2 and not min(losses[-3:]) < losses[0]:
        problems.append(f"loss did not fall: first {losses[0]:.4f}, last {losses[-3:]}")
    first = round(losses[0], 4) if losses else None
    from ..report import family_sha256

    # The pin holds for the same facts only: a changed template or tokenizer changes the tokens trained on.
    same_facts = (ctx.previous or {}).get("family_sha256") == family_sha256(ctx.registry, ctx.family)
    prev = ctx.previous_check(f"train.{kind}") if same_facts else None
    pinned = (prev or {}).get("evidence", {}).get("first_loss")
    if pinned is not None and first is not None and abs(first - pinned) > PIN_TOLERANCE:
        problems.append(f"first-step loss {first} differs from the pinned {pinned} (seed 0)")
    # Whether a pin was compared is left out of the report, so a re-run reproduces it byte for byte.
    evidence = {"steps": len(losses), "first_loss": first, "last_loss": round(losses[-1], 4) if losses else None,
                "trainable": result.metrics.get("trainable"), "total": result.metrics.get("total")}
    summary = "; ".join(problems) or (f"{len(losses)} steps, loss {losses[0]:.4f} -> {losses[-1]:.4f}, "
                                      f"first-step loss {first} pinned")
    return Outcome(not problems, summary, evidence)


@check("train.lora", "LoRA SFT on the tiny instance: finite, falling loss; first-step loss pinned")
def lora(ctx: Context) -> Outcome:
    return _smoke(ctx, "lora")


@check("train.full", "full SFT on the tiny instance: finite, falling loss; first-step loss pinned")
def full(ctx: Context) -> Outcome:
    return _smoke(ctx, "full")


@check("train.qlora", "QLoRA SFT (bitsandbytes NF4 base) on the tiny instance: finite, falling loss; first-step loss "
       "pinned; the two-step merge verified")
def qlora(ctx: Context) -> Outcome:
    facts = ctx.family.quantization
    if "bnb-4bit" not in facts.on_the_fly:
        raise NotApplicable(f"4-bit does not apply to {ctx.family.id}: {facts.note or 'no bnb-4bit in quantization.on_the_fly'}")
    import bitsandbytes  # noqa: F401  (a declared dependency; an ImportError here is the finding)
    outcome = _smoke(ctx, "qlora")
    export = sdk_run(ctx, "qlora").export_dir
    record = json.loads((export / "dayzero_export.json").read_text(encoding="utf-8"))
    diff, tol = record.get("quantized_relative_error"), record.get("quantized_tolerance")
    evidence = dict(outcome.evidence)
    evidence["merge_exact"] = record.get("max_logit_diff") is not None and record["max_logit_diff"] <= record["tolerance"]
    evidence["merge_vs_quantized_within_tolerance"] = diff is not None and diff <= tol
    if facts.not_quantized:
        evidence["full_precision"] = list(facts.not_quantized)
    summary = outcome.summary + (f"; merged export vs the 4-bit model: relative L2 error {diff:.3f} <= {tol:g}"
                                if diff is not None else "")
    return Outcome(outcome.passed and evidence["merge_vs_quantized_within_tolerance"], summary, evidence)
