"""The `train:` section: the usual TrainingArguments subset, with defaults that suit small runs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .common import Section

ReportTo = Literal["none", "tensorboard", "wandb", "mlflow"]


class TrainSection(Section):
    learning_rate: float = Field(default=2e-4, gt=0, description="Peak learning rate.")
    epochs: float = Field(default=1.0, gt=0, description="Passes over the data (ignored when `max_steps` is set).")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many optimizer steps.")
    batch_size: int = Field(default=4, ge=1, description="Examples per device per step.")
    grad_accum: int = Field(default=1, ge=1, description="Gradient accumulation steps.")
    warmup_ratio: float = Field(default=0.0, ge=0, le=1, description="Fraction of steps spent warming up.")
    scheduler: str = Field(default="linear", description="transformers lr scheduler name (linear, cosine, constant...).")
    weight_decay: float = Field(default=0.0, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    seed: int = Field(default=0, description="Seed for weights init, data order and dropout.")
    logging_steps: int = Field(default=1, ge=1)
    save_steps: int = Field(default=50, ge=1, description="Checkpoint every N steps (for `--resume`).")
    eval_steps: int | None = Field(
        default=None, ge=1,
        description="Eval loss on the held-out split (`data.val_size` > 0) every N steps; default `save_steps`.",
    )
    save_total_limit: int | None = Field(default=2, ge=1, description="Checkpoints kept; older ones are deleted.")
    gradient_checkpointing: bool = Field(default=False, description="Trade compute for memory.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto", description="Mixed precision; `auto`: bf16 on a GPU that has it, fp32 on CPU."
    )
    report_to: list[ReportTo] | ReportTo = Field(default="tensorboard", description="Where metrics go.")
    output_dir: str = Field(
        default="runs/{name}", description="Run directory, relative to the working directory; `{name}`: the recipe name."
    )
    @model_validator(mode="before")
    @classmethod
    def _moved_to_distributed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, where in (("fsdp", "`distributed: {strategy: fsdp2}`"), ("deepspeed", "`distributed: {strategy: deepspeed}`")):
                if key in data:
                    raise ValueError(f"`train.{key}` moved to the `distributed:` section: use {where}")
        return data

    @field_validator("output_dir")
    @classmethod
    def _only_name_placeholder(cls, value: str) -> str:
        try:
            value.format(name="x")
        except (KeyError, IndexError, ValueError, AttributeError):
            raise ValueError(
                f"{value!r}: the only placeholder allowed is `{{name}}` (write `{{{{`/`}}}}` for braces)"
            ) from None
        return value

    @model_validator(mode="after")
    def _none_alone(self) -> TrainSection:
        if isinstance(self.report_to, list) and "none" in self.report_to and len(self.report_to) > 1:
            raise ValueError("`report_to` lists `none` together with other targets")
        return self

    def report_list(self) -> list[str]:
        items = self.report_to if isinstance(self.report_to, list) else [self.report_to]
        return [] if items == ["none"] else list(items)
