"""Building the TRL trainer the plan names, with its config class and the plan's arguments.

The stage -> trainer table is in `sdk.compiler.TRAINERS` (ORPO and CPO/SimPO live in
`trl.experimental`); this module only imports what the plan says and fills in the run's paths.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

from ..plan import Plan


def trainer_classes(plan: Plan) -> tuple[type, type]:
    """The (trainer, config) classes the plan names."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # trl.experimental warns on import
        module = importlib.import_module(plan.trainer.module)
    return getattr(module, plan.trainer.trainer), getattr(module, plan.trainer.config_class)


# Columns that mark a dataset as already tokenized by dayzero.sdk.data (TRL 1.16's own names).
_TOKENIZED_MARKERS = ("input_ids", "prompt_ids", "chosen_ids", "prompt_input_ids", "completion_ids")


def is_tokenized(dataset: Any) -> bool:
    names = getattr(dataset, "column_names", None) or []
    return any(name in names for name in _TOKENIZED_MARKERS)


def _passthrough(trainer_cls: type) -> type:
    """The trainer with TRL's own dataset preparation turned off (the rows are already token ids).

    TRL's preference trainers re-render conversations with the tokenizer's template and append eos;
    dayzero's data module has already rendered them with the family template, so the trainer must
    take the ids as they are. DPO/KTO prepare in `_prepare_dataset`; ORPO/CPO in `tokenize_row`.
    """

    class Pretokenized(trainer_cls):  # type: ignore[misc, valid-type]
        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            if getattr(self, "calculate_KL", False) and "KL_completion_ids" not in dataset.column_names:
                # KTO's KL term pairs each prompt with another row's completion: TRL 1.16 rotates the
                # completions by one within each batch (kto_trainer._prepare_dataset); the same here.
                def rotate(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
                    ids = batch["completion_ids"]
                    batch["KL_completion_ids"] = [ids[-1], *ids[:-1]]
                    return batch

                dataset = dataset.map(rotate, batched=True, batch_size=args.per_device_train_batch_size)
            return dataset

        def tokenize_row(self, feature: Any, model: Any = None) -> Any:
            return feature

    Pretokenized.__name__ = Pretokenized.__qualname__ = f"Pretokenized{trainer_cls.__name__}"
    return Pretokenized


def build_config(plan: Plan, output_dir: Path, **extra: Any) -> Any:
    _, config_cls = trainer_classes(plan)
    kwargs = dict(plan.trainer.config)
    fields = getattr(config_cls, "__dataclass_fields__", {})
    kwargs = {k: v for k, v in kwargs.items() if k in fields}  # e.g. completion_only_loss is SFT-only
    kwargs.update(plan.distributed.trainer_args)  # fsdp / fsdp_config / deepspeed, decided by the plan
    kwargs.update(output_dir=str(output_dir), **extra)
    return config_cls(**kwargs)


def build_trainer(
    plan: Plan,
    model: Any,
    tokenizer: Any,
    train_dataset: Any,
    output_dir: Path,
    *,
    eval_dataset: Any = None,
    callbacks: list[Any] | None = None,
    **config_extra: Any,
) -> Any:
    """The trainer, ready for `.train()`."""
    if plan.rl is not None:  # the online stage: rollouts and rewards (sdk.train.rl)
        from .rl import build_grpo_trainer

        return build_grpo_trainer(
            plan, model, tokenizer, train_dataset, output_dir, eval_dataset=eval_dataset, callbacks=callbacks,
            **config_extra,
        )
    trainer_cls, _ = trainer_classes(plan)
    if plan.trainer.pretokenized and is_tokenized(train_dataset):  # a caller's own raw rows keep TRL's preparation
        trainer_cls = _passthrough(trainer_cls)
    collator: dict[str, Any] = {}
    if plan.view.family.vision is not None:  # rows with pixel arrays (sdk.data.images_rows)
        from .vision import VisionCollator, trainer_arguments

        config_extra = trainer_arguments() | config_extra
        collator["data_collator"] = VisionCollator(tokenizer.pad_token_id, tokenizer.padding_side)
    args = build_config(plan, output_dir, **config_extra)
    from .sharding import strategy_trainer

    trainer_cls = strategy_trainer(plan, trainer_cls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        trainer = trainer_cls(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
            callbacks=callbacks,
            **collator,
        )
    if plan.trainer.lm_head == "chunked":  # decided by the compiler (sdk.train.head_choice)
        from .head_choice import head_outputs
        from .lm_head import install_on_trainer

        weighting = bool(getattr(args, "use_weighting", False))
        install_on_trainer(trainer, head_outputs(plan.trainer.trainer, use_weighting=weighting))
    return trainer
