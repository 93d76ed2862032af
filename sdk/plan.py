"""The Plan: what a recipe will do, resolved and checked, as plain data.

`sdk.compile(recipe)` produces it before any weights load; `dayzero plan RECIPE` prints it (`--json`
for tools). Everything the run needs is here, so a reader can check a run without running it: the
family and its revision, the template, the adapter's peft config, the trainer and its config
arguments, the export steps and the serve command, and the facts the rules were evaluated on.

`view` is the family as compile resolved it (checkpoint overrides applied, chat format included): the
stages after compile read it instead of the registry, so a run trains, exports and serves the facts it
was planned with.
"""

from __future__ import annotations

import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dayzero.registry.view import FamilyView

from .plan_rl import RLPlan


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelPlan(_Data):
    id: str = Field(description="As written in the recipe (hub id, path or `tiny:<family>`).")
    source: str = Field(description="hf | modelscope | local | tiny.")
    revision: str | None = None
    family: str
    family_revision: int
    family_hash: str = Field(description="`Registry.content_hash(family)`: what a recipe lock pins.")
    matched_by: str = Field(description="How the family was found: recipe | id | hub_id | config | tiny | draft.")
    checkpoint: str | None = Field(default=None, description="The registry checkpoint, when the id is a known one.")
    model_class: str
    loader: str = Field(description="The transformers auto class the base loads with (a classifier for reward models).")
    load_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra `from_pretrained` arguments.")
    trust_remote_code: bool
    use_safetensors: bool
    dtype: str
    unverified: list[str] = Field(
        default_factory=list,
        description="Empty for a registry family. Else the model runs as an entry drafted on the fly: why, "
        "what was drafted from where, and what was not checked.",
    )


class TemplatePlan(_Data):
    format: str = Field(description="Chat format id (families/formats/).")
    reasoning: str = Field(description="none | always | hybrid.")
    thinking: str | None
    end_of_turn: list[str]
    generation_eos: list[str] = Field(description="Tokens the exported generation_config must list as eos.")
    stop_strings: list[str] = Field(description="Text a server stops generation at (`FamilyView.stop_strings`).")
    stop_tokens: list[str] = Field(description="Tokens generation ends on (`FamilyView.stop_tokens`).")


class AdapterPlan(_Data):
    kind: str
    peft_config: str | None = Field(description="peft config class, or null for freeze/full.")
    peft_kwargs: dict[str, Any] = Field(default_factory=dict)
    target_modules: list[str] = Field(default_factory=list)
    trainable_layers: int | None = Field(default=None, description="`freeze`: how many of the last layers train.")
    layers: str | None = Field(default=None, description="`freeze`: the decoder layers' module path (`{}`: index).")
    quantization: dict[str, Any] | None = Field(default=None, description="BitsAndBytesConfig arguments.")
    frozen_parts: list[str] = Field(
        default_factory=list, description="Vision-language `full`: the parts kept frozen (`vision_tower`, `projector`)."
    )


class TrainerPlan(_Data):
    stage: str
    module: str = Field(description="Where the trainer lives (ORPO/CPO are in trl.experimental).")
    trainer: str
    config_class: str
    config: dict[str, Any] = Field(description="Arguments to the config class (paths filled in at run time).")
    lm_head: str = Field(default="trl", description="trl | chunked | model: what scores tokens (sdk.train.head_choice).")
    lm_head_reason: str = Field(default="", description="Why that head was chosen.")
    packing: bool = Field(default=False, description="Rows are packed (trained with TRL's padding-free collator).")
    pretokenized: bool = Field(
        default=False, description="The trainer takes dayzero's token ids as they are (its own row preparation is off)."
    )


class DistributedPlan(_Data):
    """How many processes train, which engine shards, and the command that starts them (`sdk.distributed`)."""

    strategy: str = Field(description="single | ddp | fsdp2 | deepspeed.")
    world_size: int
    nproc_per_node: int
    nnodes: int
    node_rank: int
    wrap_classes: list[str] = Field(default_factory=list, description="FSDP2 wrap units (the family's decoder layer).")
    leaf_modules: list[str] = Field(
        default_factory=list, description="ZeRO-3 leaf modules (the family's sparse-MoE block), set before training."
    )
    trainer_args: dict[str, Any] = Field(
        default_factory=dict, description="TrainingArguments the strategy adds (`fsdp`/`fsdp_config`, `deepspeed`)."
    )
    launch: list[str] | None = Field(
        default=None, description="The torchrun command `dayzero run` starts (None: one process, no launcher)."
    )


class ExportPlan(_Data):
    enabled: bool
    merge: bool
    out: str
    overwrite: bool = Field(default=False, description="Replace an earlier dayzero export at `out` (never other files).")
    max_shard_size: str
    tolerance: float | None = Field(description="Largest |logit| difference the merge check accepts (None: by dtype).")
    dtype: str = Field(default="auto", description="dtype a merged export is written in (`auto`: the base weights').")
    files: list[str] = Field(default_factory=list, description="Files a merged export must contain (`export.files`).")
    ollama: bool
    steps: list[str]


class CostPlan(_Data):
    """What the run will cost, estimated from the model's config (sdk.cost): no weights load."""

    parameters: int
    trainable: int | None = Field(description="Parameters the adapter trains (None: not estimated, e.g. OFT).")
    weights_bytes: int
    gradients_bytes: int
    optimizer_bytes: int = Field(description="AdamW's two moments.")
    activations_bytes: int = Field(description="Saved for the backward at batch x cutoff (rows padded to cutoff).")
    workspace_bytes: int = Field(default=0, description="The backward's working set (gradients through the "
                                 "layers, allocator blocks), as large as the activations.")
    lm_head_bytes: int = Field(description="Logits memory of the chosen LM head.")
    runtime_bytes: int = Field(default=0, description="Python and the libraries (CPU), or the CUDA context.")
    total_bytes: int = Field(description="Estimated peak: runtime + weights + optimizer + the larger of "
                             "(activations + workspace + LM head) and (gradients + the optimizer step's buffer).")
    tokens_per_step: int
    dtype: str = Field(description="What the weights train in.")


class Plan(_Data):
    """A compiled recipe."""

    name: str
    registry_version: str
    run_dir: str
    model: ModelPlan
    template: TemplatePlan
    adapter: AdapterPlan
    trainer: TrainerPlan
    data: dict[str, Any] = Field(description="The recipe's data section, as given.")
    export: ExportPlan
    distributed: DistributedPlan
    view: FamilyView = Field(
        description="The family as the checkpoint sees it (overrides applied) and its chat format: what every "
        "stage after compile reads instead of the registry."
    )
    serve_command: list[str] | None
    rl: RLPlan | None = Field(default=None, description="Online stages: rollouts, rewards, code that runs.")
    runtime: dict[str, Any]
    facts: dict[str, Any] = Field(description="What families/rules.yaml is evaluated against.")
    warnings: list[str] = Field(default_factory=list, description="Rules with severity warning that fired.")
    cost: CostPlan | None = Field(default=None, description="Estimated cost; None when no config is at hand.")

    def render(self) -> str:
        """A short human-readable summary (the `--json` form is `model_dump_json`)."""
        m, t, a, tr, e = self.model, self.template, self.adapter, self.trainer, self.export
        lines = [
            f"plan {self.name}  (registry {self.registry_version})",
            f"  model     {m.id} [{m.source}] -> family {m.family} r{m.family_revision} ({m.model_class}),"
            f" matched by {m.matched_by}",
            f"  template  {t.format}, reasoning {t.reasoning}, end of turn {t.end_of_turn}",
            f"  adapter   {a.kind}" + (f" ({a.peft_config})" if a.peft_config else "")
            + (f" on {', '.join(a.target_modules)}" if a.target_modules else "")
            + (f" training the last {a.trainable_layers} layer(s)" if a.trainable_layers else "")
            + (f", quantized {a.quantization.get('method')}" if a.quantization else ""),
            f"  trainer   {tr.module}.{tr.trainer} with {tr.config_class} (stage {tr.stage})",
            f"  lm head   {tr.lm_head}: {tr.lm_head_reason}",
            f"  run dir   {self.run_dir}",
            f"  processes {self.distributed.world_size} ({self.distributed.strategy})"
            + (f", launched as: {shlex.join(self.distributed.launch)}" if self.distributed.launch else ""),
            f"  export    {'; '.join(e.steps) if e.enabled else 'off'}",
        ]
        if self.rl is not None:
            lines.extend(self.rl.render_lines())
        if self.serve_command:
            lines.append(f"  serve     {' '.join(self.serve_command)}")
        lines.extend(f"  UNVERIFIED {note}" for note in m.unverified)
        if self.cost is not None:
            lines.extend(_cost_lines(self.cost, self.adapter.kind))
        lines.extend(f"  warning   {w}" for w in self.warnings)
        return "\n".join(lines)


def _cost_lines(c: CostPlan, kind: str) -> list[str]:
    from .cost import human

    trained = "not estimated" if c.trainable is None else f"{c.trainable:,} ({100 * c.trainable / max(1, c.parameters):.2f}%)"
    return [
        f"  cost      {c.parameters:,} parameters, {trained} trained by {kind}",
        f"            peak memory ~{human(c.total_bytes)} (an estimate, not a measurement): runtime "
        f"{human(c.runtime_bytes)}, weights {human(c.weights_bytes)} ({c.dtype}), gradients "
        f"{human(c.gradients_bytes)}, optimizer {human(c.optimizer_bytes)}, activations {human(c.activations_bytes)}"
        f" + backward {human(c.workspace_bytes)} + LM head {human(c.lm_head_bytes)} at {c.tokens_per_step:,} "
        "tokens a step",
    ]
