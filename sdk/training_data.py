"""Between a plan and `dayzero.sdk.data`: the chat template training renders with, and the recipe's data prepared for the stage.

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
    from dayzero.sdk.templates import ChatTemplate

    official = getattr(tokenizer, "chat_template", None)
    if isinstance(official, str) and official:
        template = ChatTemplate.from_official(
            official, family=plan.view, bos_token=tokenizer.bos_token or "", eos_token=tokenizer.eos_token or ""
        )
        return template, False
    return ChatTemplate.for_view(plan.view), True


def prepare(plan: Plan, loaded: LoadedRecipe, tokenizer: Any, template: Any) -> tuple[Any, Any, dict[str, Any]]:
    """The recipe's datasets tokenized for the plan's stage (train, held-out or None), and what run.json
    records about them."""
    from dayzero.sdk.data.pipeline import prepare as prepare_rows

    if plan.rl is not None:
        return prepare_prompts(plan, loaded, template)
    if plan.view.family.vision is not None:  # rows with images (sdk.data.images_rows)
        return prepare_images(plan, loaded, tokenizer, template)

    config = loaded.recipe.data.model_copy(update={"packing": plan.trainer.packing})  # compile decided it
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
    return prepared.train, prepared.eval, info


def prepare_prompts(plan: Plan, loaded: LoadedRecipe, template: Any) -> tuple[Any, Any, dict[str, Any]]:
    """The online stage's prompts, rendered by the training template (generation prompt, tools, thinking)."""
    import datasets

    from dayzero.errors import DataError
    from dayzero.sdk.data.prompts import read_prompts, render, trainer_rows

    assert plan.rl is not None
    config = loaded.recipe.data
    prompts = read_prompts(config, base_dir=loaded.base_dir, columns=plan.rl.columns)
    thinking = plan.template.thinking or config.thinking
    rendered = render(prompts.train, template, thinking=thinking, on_unsupported=config.on_unsupported,
                      stats=prompts.stats)
    if not rendered:
        raise DataError(f"no prompts left of {prompts.stats.rows_read} rows read", hint="check `dayzero data stats`")
    held = render(prompts.held_out, template, thinking=thinking, on_unsupported=config.on_unsupported)
    stats = prompts.stats.to_json()
    stats.pop("lengths", None)
    train = datasets.Dataset.from_dict(trainer_rows(rendered))
    info = {
        "fingerprint": getattr(train, "_fingerprint", None), "rows": len(rendered), "eval_rows": len(held),
        "columns": list(train.column_names), "stats": stats,
    }
    return train, None, info  # GRPO's own eval generates: the held-out prompts are scored by `dayzero eval`


def prepare_images(plan: Plan, loaded: LoadedRecipe, tokenizer: Any, template: Any) -> tuple[Any, Any, dict[str, Any]]:
    """A vision-language family's SFT rows: images loaded and checked, image tokens expanded, pixel arrays."""
    import datasets
    import transformers

    from dayzero.sdk.data.images_rows import prepare_vision

    family = plan.view.family
    assert family.vision is not None
    # the base's own pixel budget (preprocessor_config.json), read by the PIL class the family names
    processor_cls = getattr(transformers, family.vision.processor.image_processor_class)
    processor = processor_cls.from_pretrained(tokenizer.name_or_path)
    model_config = transformers.AutoConfig.from_pretrained(tokenizer.name_or_path)  # tokens per image (fixed kinds)
    rows, stats = prepare_vision(loaded.recipe.data, family, template=template, tokenizer=tokenizer,
                                 processor=processor, base_dir=loaded.base_dir, model_config=model_config)
    train = datasets.Dataset.from_list(rows)
    info = {
        "fingerprint": getattr(train, "_fingerprint", None), "rows": len(rows), "eval_rows": 0,
        "columns": list(train.column_names), "stats": stats.to_json() | {"lengths": None},
        "images": sum(len(r.get("image_grid_thw") or r.get("pixel_values") or []) for r in rows),
    }
    info["stats"].pop("lengths", None)
    return train, None, info
