"""`dayzero eval RUN|MODEL`: score generations on held-out prompts (and lm-eval tasks), before and after.

Nothing heavy is imported here: the model, the metrics and lm-eval load inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dayzero.cli import app
from dayzero.cli.output import print_json
from dayzero.errors import RecipeError, Where

REWARD_HELP = (
    "A rule reward to average, KIND or KIND=ARG: regex=PATTERN, length=MIN-MAX (tokens), contains[=COLUMN], "
    "exact_match[=COLUMN], json_valid, think_format. Repeat for several. Default: a GRPO run's own rule rewards."
)


@app.command("eval")
def eval_(
    target: Annotated[str, typer.Argument(help="A RUN_DIR (with run.json) or a MODEL_DIR.")],
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Dataset: a catalog name or a file (prompt, sft, preference or kto rows). "
            "Default: the run's held-out split (data.val_size).",
        ),
    ] = None,
    base: Annotated[
        bool, typer.Option("--base", help="Also score the run's base model on the same prompts.")
    ] = False,
    base_model: Annotated[
        Path | None,
        typer.Option("--base-model", help="Also score this model directory (instead of the run's base)."),
    ] = None,
    reward: Annotated[list[str] | None, typer.Option("--reward", help=REWARD_HELP)] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Longest answer.")] = 64,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Score only the first N prompts.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for eval.json (default: RUN/eval).")
    ] = None,
    lm_eval: Annotated[
        str | None,
        typer.Option("--lm-eval", help="Comma-separated lm-evaluation-harness tasks (needs lm-eval)."),
    ] = None,
    lm_eval_include: Annotated[
        Path | None,
        typer.Option("--lm-eval-include", help="A folder of lm-eval task YAML files (local tasks)."),
    ] = None,
    lm_eval_limit: Annotated[
        int | None, typer.Option("--lm-eval-limit", min=1, help="Examples per task.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Generate with the family template on held-out prompts and score them (exact match, ROUGE-L, BLEU, rule
    rewards), optionally against the base; or run lm-eval tasks with the registry's chat template and stops."""
    if lm_eval:
        from dayzero.sdk.lm_eval_run import run_lm_eval

        results = run_lm_eval(
            target,
            [t.strip() for t in lm_eval.split(",") if t.strip()],
            include=lm_eval_include,
            limit=lm_eval_limit,
            out=out,
        )
        if as_json:
            print_json(results.as_dict())
        else:
            from rich.console import Console

            Console().print(results.table())
            print(f"results: {results.path}")
        return
    from dayzero.sdk.evaluate import evaluate, render_table

    specs = [parse_reward(text) for text in reward] if reward else None
    report = evaluate(
        target,
        data=data,
        base=base_model if base_model else base,
        rewards=specs,
        max_new_tokens=max_new_tokens,
        limit=limit,
        out=out,
    )
    if as_json:
        print_json(report.as_dict())
        return
    from rich.console import Console

    Console().print(render_table(report))
    print(f"results: {report.path}")


def parse_reward(text: str):  # -> RewardSpec (pydantic; imported lazily)
    """`KIND` or `KIND=ARG` as a reward spec; a bad one is a RecipeError naming the option."""
    from pydantic import ValidationError

    from dayzero.sdk.recipe.rl import RewardSpec

    kind, _, arg = text.partition("=")
    fields: dict[str, object] = {"kind": kind.strip()}
    if arg:
        if kind == "regex":
            fields["pattern"] = arg
        elif kind == "length":
            low, sep, high = arg.partition("-")
            if not sep or not (low.strip().isdigit() or high.strip().isdigit()):
                raise RecipeError(
                    f"`--reward {text}`: a length is MIN-MAX tokens, e.g. length=1-32",
                    where=Where(field="--reward"),
                )
            fields |= {
                "min_tokens": int(low) if low.strip() else None,
                "max_tokens": int(high) if high.strip() else None,
            }
        elif kind in ("contains", "exact_match"):
            fields["column"] = arg
        else:
            raise RecipeError(f"`--reward {text}`: `{kind}` takes no argument", where=Where(field="--reward"))
    try:
        return RewardSpec(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RecipeError(
            f"`--reward {text}`: {first['msg']}",
            where=Where(field="--reward"),
            hint="kinds: exact_match, contains, regex, json_valid, length, think_format",
        ) from None
