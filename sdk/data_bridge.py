"""Between a plan and `dayzero.sdk.data`: the training chat template, and the recipe's data prepared for the stage.

The template rule that keeps train == serve: when the base tokenizer ships a chat template, training
renders with that template (run in the sandbox, exactly as transformers would at serving time); when it
ships none, training renders with the family's structured template and the export saves its generated
Jinja, so the exported tokenizer renders what training saw either way.
"""

from __future__ import annotations

from typing import Any

from .plan import Plan
from .recipe.load import LoadedRecipe


def training_template(plan: Plan, tokenizer: Any) -> tuple[Any, bool]:
    """(ChatTemplate, generated): the tokenizer's own template, or the family's when it has none."""
    from dayzero import registry
    from dayzero.sdk.templates import ChatTemplate

    family = registry.get(plan.model.family)
    official = getattr(tokenizer, "chat_template", None)
    if isinstance(official, str) and official:
        template = ChatTemplate.from_official(
            official, family=family, bos_token=tokenizer.bos_token or "", eos_token=tokenizer.eos_token or ""
        )
        return template, False
    return ChatTemplate.for_family(family, plan.model.checkpoint), True


def prepare(plan: Plan, loaded: LoadedRecipe, tokenizer: Any, template: Any) -> tuple[Any, dict[str, Any]]:
    """The recipe's datasets tokenized for the plan's stage, and what run.json records about them."""
    from dayzero.sdk.data.pipeline import prepare as prepare_rows

    config = loaded.recipe.data
    if plan.template.thinking is not None and config.thinking is None:
        config = config.model_copy(update={"thinking": plan.template.thinking})  # on | off | keep, as templates take it
    prepared = prepare_rows(
        config, stage=plan.trainer.stage, template=template, tokenizer=tokenizer, base_dir=loaded.base_dir
    )
    stats = prepared.stats.to_json()  # skipped rows per reason keyed by the reason (`asdict` garbles a Counter)
    stats.pop("lengths", None)
    info = {
        "fingerprint": getattr(prepared.train, "_fingerprint", None),
        "rows": prepared.stats.train_rows,
        "eval_rows": prepared.stats.eval_rows,
        "columns": list(prepared.columns),
        "stats": stats,
    }
    return prepared.train, info
