"""`dayzero plan`'s token counts: rows, tokens and trained tokens after the cutoff rule, when the data is local.

The counts come from the run's own data step (``training_data.prepare``: the same template, tokenizer, stage,
cutoff and truncation rule), not from a second counting path that could disagree with it. With the recipe's
``data.cache_dir`` set, that step stores its result in the tokenized cache, so the run that follows reads the
rows back instead of tokenizing them again; without it the counts cost one tokenization (about half a millisecond
a conversation here). Nothing is downloaded: the counts are computed only when every dataset is a local
file and the tokenizer is on this machine (a local model directory, or the tiny model dayzero builds).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .plan import Plan
from .recipe.load import LoadedRecipe


def not_local(plan: Plan, loaded: LoadedRecipe) -> str | None:
    """Why the counts would need something not on this machine, or None when they can be computed here."""
    from dayzero.sdk.data.pipeline import resolve_specs

    if plan.rl is not None:
        return "an online stage: its rows are generated while training"
    if plan.model.source not in ("local", "tiny"):
        return f"the tokenizer of {plan.model.id} is not a local directory"
    config = loaded.recipe.data
    if config.streaming:
        return "streaming data is read while training"
    remote = [s.label for s in resolve_specs(config, plan.trainer.stage, loaded.base_dir) if not s.path]
    if remote:
        return f"{', '.join(remote)} not local"
    return None


def data_counts(plan: Plan, loaded: LoadedRecipe) -> dict[str, Any]:
    """The rows the run will train on and their tokens, or ``{"skipped": reason}`` when the data is not local."""
    reason = not_local(plan, loaded)
    if reason is not None:
        return {"skipped": reason}
    from .loading import load_tokenizer, model_dir
    from .training_data import prepare, training_template

    with tempfile.TemporaryDirectory(prefix="dayzero-plan-") as work:  # where a tiny model is built, if any
        try:
            tokenizer = load_tokenizer(model_dir(plan, Path(work), loaded.base_dir), plan)
        except (OSError, ValueError) as exc:  # no tokenizer files in the model directory: the run will say so
            return {"skipped": f"cannot load the tokenizer: {type(exc).__name__}: {str(exc).splitlines()[0]}"}
        template, _ = training_template(plan, tokenizer)
        _, _, info = prepare(plan, loaded, tokenizer, template)
    stats = info["stats"]
    return {
        "rows": info["rows"],
        "eval_rows": info["eval_rows"],
        "tokens": stats["tokens"],
        "trained_tokens": stats["trained_tokens"],
        "cutoff_len": loaded.recipe.data.cutoff_len,
        "truncated": stats["truncated"],
        "too_long": stats["too_long"],
        "no_labels": stats["no_labels"],
        "bad_rows": sum(stats["problems"].values()),
        "cached": bool(stats["cached"]),
    }


def render_counts(counts: dict[str, Any]) -> str:
    """One plan line: `  tokens    1,769 rows (+20 held out), 905,216 tokens, 412,331 trained ...`."""
    if "skipped" in counts:
        return f"  tokens    not counted: {counts['skipped']}"
    held = f" (+{counts['eval_rows']:,} held out)" if counts["eval_rows"] else ""
    dropped = counts["too_long"] + counts["no_labels"] + counts["bad_rows"]
    return (
        f"  tokens    {counts['rows']:,} rows{held}, {counts['tokens']:,} tokens, {counts['trained_tokens']:,} "
        f"trained, after cutoff_len {counts['cutoff_len']}: {counts['truncated']:,} rows cut, {dropped:,} "
        f"dropped" + (" (from the tokenized cache)" if counts["cached"] else "")
    )
