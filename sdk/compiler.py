"""`compile(recipe) -> Plan`: resolve the family, check every combination, decide every library call.

Nothing here loads weights or touches the network. Every problem found is collected and raised
together in one `RecipeError`, each with its rule id (from families/rules.yaml) or the recipe field,
so a user fixes a recipe in one pass rather than one error per run.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

from dayzero import registry as _registry
from dayzero.errors import FamilyNotFoundError, RecipeError, Where
from dayzero.registry.ruleset import fired
from dayzero.registry.schema import Family
from dayzero.registry.store import Registry
from dayzero.registry.view import view_of

from .artifacts import unsafe_output_dirs
from .compile_checks import check_prequantized, check_sample_image, local_cuda, problem_of
from .compile_rl import GRPO_TRAINER, grpo_config, rl_plan
from .distributed import distributed_plan
from .distributed import facts as distributed_facts
from .plan import AdapterPlan, CostPlan, ExportPlan, ModelPlan, Plan, TemplatePlan, TrainerPlan
from .recipe.load import LoadedRecipe, load_recipe
from .recipe.method import MethodSection
from .recipe.schema import Recipe
from .train.head_choice import choose_head

# Stage -> (module, trainer class, config class, fixed config arguments). SimPO is CPO with its loss.
TRAINERS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "pt": ("trl", "SFTTrainer", "SFTConfig", {"completion_only_loss": False}),
    "sft": ("trl", "SFTTrainer", "SFTConfig", {}),
    "rm": ("trl", "RewardTrainer", "RewardConfig", {}),
    "dpo": ("trl", "DPOTrainer", "DPOConfig", {}),
    "kto": ("trl", "KTOTrainer", "KTOConfig", {}),
    "orpo": ("trl.experimental.orpo", "ORPOTrainer", "ORPOConfig", {}),
    "simpo": ("trl.experimental.cpo", "CPOTrainer", "CPOConfig", {"loss_type": "simpo", "cpo_alpha": 0.0}),
    "grpo": GRPO_TRAINER,
    "ppo": GRPO_TRAINER,  # never built: `compile_rl.rl_plan` refuses ppo (TRL 1.16 has no PPOTrainer)
}

# Stages whose config takes `beta`, and the name it goes by.
_BETA_FIELD = {"dpo": "beta", "kto": "beta", "orpo": "beta", "simpo": "beta"}

_PEFT_FLAGS: dict[str, dict[str, Any]] = {
    "lora": {},
    "qlora": {},
    "dora": {"use_dora": True},
    "rslora": {"use_rslora": True},
    "pissa": {"init_lora_weights": "pissa"},
}


def compile(
    recipe: Recipe | LoadedRecipe | str | Path | dict[str, Any],
    *,
    overrides: list[str] | tuple[str, ...] = (),
    cuda: bool | None = None,
    ignore_lock: bool = False,
    registry: Registry | None = None,
    strict: bool = False,
) -> Plan:
    """Compile a recipe (object, file, bundled name or dict) into a Plan; raise every problem at once.

    ``registry``: the registry to resolve the family in (default: the bundled one). This is the one
    place a run looks the family up: the Plan carries the resolved view (`Plan.view`) to every stage.
    A model the registry does not know (or whose files contradict the family its config matched) is
    planned as an unverified draft, listed in `model.unverified`; `strict` refuses it instead.
    """
    loaded = load_recipe(recipe, overrides)
    r = loaded.recipe
    reg = registry or _registry.default()
    problems: list[str] = []
    _check_registry_version(r, reg.version, problems)

    family, matched_by, checkpoint, unverified = _resolve_family(r, loaded, reg, strict=strict)
    lock = None
    if loaded.path is not None and not ignore_lock:
        from .recipe.lock import check_lock

        lock = check_lock(loaded.path, reg, family)

    view = view_of(reg, family, checkpoint.hf if checkpoint else None)
    seen = view.family  # the checkpoint's overrides applied
    template = TemplatePlan(
        format=view.format.id,
        reasoning=str(getattr(seen.template.reasoning.mode, "value", seen.template.reasoning.mode)),
        thinking=r.method.thinking,
        end_of_turn=list(seen.tokenizer.end_of_turn),
        generation_eos=list(seen.serving.generation_eos),
        stop_strings=view.stop_strings,
        stop_tokens=view.stop_tokens,
    )

    bf16 = True  # planning for a CUDA machine (`cuda=True`) assumes one with bf16 (Ampere or later)
    if cuda is None:
        cuda, bf16 = local_cuda()
    adapter = _adapter_plan(r.method, family, problems, cuda)
    source = r.model.inferred_source(loaded.base_dir)
    config = _local_config(r, loaded, family) if source in ("tiny", "local") else None
    if adapter.target_modules and config is not None:
        _check_instantiated_targets(r, config, family, adapter.target_modules, problems)
    if source == "local":
        check_prequantized(r, loaded, family, problems)
    model = ModelPlan(
        id=r.model.id,
        source=source,
        revision=_locked_revision(r, lock, problems),
        family=family.id,
        family_revision=family.revision,
        family_hash=view.family_hash,
        matched_by=matched_by,
        checkpoint=view.checkpoint,
        model_class="AutoModelForSequenceClassification" if r.method.stage == "rm" else family.architecture.model_class,
        loader="AutoModelForSequenceClassification" if r.method.stage == "rm" else (
            family.vision.processor.auto_class if family.vision else "AutoModelForCausalLM"  # a VLM's own auto class
        ),
        load_kwargs={"num_labels": 1} if r.method.stage == "rm" else {},  # a reward model scores with one label
        trust_remote_code=r.model.trust_remote_code,
        use_safetensors=not r.model.allow_pickle,
        dtype=r.model.dtype,
        unverified=unverified,
    )
    run_dir = str(Path(r.train.output_dir.format(name=r.name)))
    problems.extend(unsafe_output_dirs(r, run_dir, loaded.base_dir))
    check_sample_image(r, loaded, family, problems)
    rl = rl_plan(r, loaded, family, cuda, problems)
    from .compile_vision import vision_problems

    problems.extend(vision_problems(r, family))
    trainer = _trainer_plan(r, cuda and bf16, cuda, problems)
    head = choose_head(r.method.stage, cuda=cuda, requested=r.train.lm_head, moe=family.architecture.moe is not None,
                       sharded=r.distributed.strategy in ("fsdp2", "deepspeed") and r.distributed.world_size > 1)
    trainer = trainer.model_copy(update={"lm_head": head.head, "lm_head_reason": head.reason})
    for target in r.train.report_list():  # caught here rather than by TrainingArguments after the model loaded
        if importlib.util.find_spec(target) is None:
            problems.append(f"[train.report_to] `{target}` needs the {target} package, which is not installed")
    export = _export_plan(r, run_dir, adapter, seen, source, problems)
    _check_datasets(r, loaded, problems)
    data = r.data.model_dump(mode="json")
    warnings: list[str] = [f"[UNVERIFIED] {unverified[0]}; see model.unverified"] if unverified else []
    if adapter.quantization and adapter.quantization["not_quantized"]:
        kept = ", ".join(adapter.quantization["not_quantized"])
        note = f": {family.quantization.note}" if family.quantization.note else ""
        warnings.append(f"[quantization] {family.id} keeps {kept} in full precision{note}")
    distributed = distributed_plan(
        r, family, cuda=cuda, base_dir=loaded.base_dir, recipe_arg=str(loaded.path) if loaded.path else None,
        overrides=loaded.overrides, problems=problems, warnings=warnings,
    )
    if distributed.strategy == "fsdp2" and adapter.quantization and adapter.quantization.get("load_in_4bit"):
        # FSDP flattens parameters of one dtype: 4-bit weights must be stored in the compute dtype
        adapter.quantization["bnb_4bit_quant_storage"] = adapter.quantization.get("bnb_4bit_compute_dtype")
    facts = _facts(r, family, template, _data_kind(r, loaded), cuda, source)
    facts["distributed"] = distributed_facts(distributed)
    if r.serve is not None and r.serve.backend == "vllm" and not r.export.merge:
        # Rules S002/S004-S006 consult the one vLLM LoRA lint, on the adapter this plan will export.
        from .serve.vllm_lint import lint_lora

        facts["serve"]["vllm_lora_lint"] = sorted({p.code for p in lint_lora(family, planned_adapter_config(adapter))})
    for rule in fired(reg.rules, facts):
        line = f"[{rule.id}] {rule.message}"
        (problems if rule.severity == "error" else warnings).append(line)
    if problems:
        source_file = str(loaded.path) if loaded.path else None
        raise RecipeError(
            f"{len(problems)} problem{'s' if len(problems) > 1 else ''} with this recipe: " + "; ".join(problems),
            where=Where(file=source_file),
            problems=[problem_of(line, source_file) for line in problems],
        )
    return Plan(
        name=r.name,
        registry_version=reg.version,
        run_dir=run_dir,
        model=model,
        template=template,
        adapter=adapter,
        trainer=trainer,
        data=data,
        export=export,
        distributed=distributed,
        view=view,
        serve_command=_serve_command(r, {"export": export, "adapter": adapter, "run_dir": run_dir, "view": view}, seen,
                                      loaded),
        rl=rl,
        runtime={"cuda": cuda, "device": "cuda" if cuda else "cpu"},
        facts=facts,
        warnings=warnings,
        cost=_cost(r, config, adapter, trainer, model, cuda),
    )


def _locked_revision(r: Recipe, lock: dict[str, Any] | None, problems: list[str]) -> str | None:
    """The model revision to load: the recipe's, else the hub commit its lock pinned."""
    pinned = ((lock or {}).get("model") or {})
    if pinned.get("id") != r.model.id or not pinned.get("revision"):
        return r.model.revision
    if r.model.revision not in (None, pinned["revision"]):
        problems.append(f"[model.revision] the recipe asks for {r.model.revision!r}; its lock pins {pinned['revision']!r}")
    return str(pinned["revision"])


def _bitsandbytes(r: Recipe) -> bool | None:
    """Whether bitsandbytes imports here; only asked (it imports torch) when the recipe quantizes."""
    if r.method.quantization == "none":
        return None
    from .quantize import bitsandbytes_importable

    return bitsandbytes_importable()


def _check_registry_version(r: Recipe, version: str, problems: list[str]) -> None:
    if r.registry is None:
        return
    from packaging.specifiers import SpecifierSet

    if version not in SpecifierSet(r.registry):
        problems.append(f"[registry] the recipe wants registry {r.registry}, this is {version}")


def _resolve_family(
    r: Recipe, loaded: LoadedRecipe, reg: Registry, *, strict: bool = False
) -> tuple[Family, str, Any, list[str]]:
    m = r.model
    where = Where(file=str(loaded.path) if loaded.path else None, field="model.id")
    try:
        tiny = m.tiny_family()
        if tiny:
            return reg.get(tiny), "tiny", None, []
        if m.family:
            family = reg.get(m.family)
            return family, "recipe", family.checkpoint(m.id), []
        from dayzero.registry.matching import cached_model_dir, resolve

        target = m.id
        if m.inferred_source(loaded.base_dir) == "local":
            target = str(m.local_path(loaded.base_dir))
        try:
            res = resolve(reg, target)
        except FamilyNotFoundError as exc:
            folder = Path(target) if Path(target).is_dir() else cached_model_dir(target)
            if folder is None:
                raise
            reason = f"{m.id} is not in the registry ({exc.message})"
            return _unverified(reg, folder, reason, strict, where)
        if res.conflicts:
            assert res.model_dir is not None
            reason = (f"{m.id} matched family {res.family.id} by config, but its own files contradict it: "
                      + "; ".join(res.conflicts))
            return _unverified(reg, res.model_dir, reason, strict, where)
        return res.family, res.matched_by, res.checkpoint, []
    except FamilyNotFoundError as exc:
        raise RecipeError(
            exc.message,
            where=Where(file=str(loaded.path) if loaded.path else None, field="model.family" if m.family else "model.id"),
            hint="name the family with `model.family: <id>` (see `dayzero registry list`)",
        ) from None


def _unverified(reg: Any, folder: Path, reason: str, strict: bool, where: Where) -> tuple[Family, str, Any, list[str]]:
    if strict:
        raise RecipeError(f"{reason}; --strict refuses unverified models", where=where,
                          hint="name a family with `model.family: <id>`, or draft and review one with `dayzero day0`")
    from .unverified import draft_or_explain

    family, notes = draft_or_explain(folder, reg, reason)
    return family, "draft", None, notes


def lora_targets(method: MethodSection, family: Family, problems: list[str]) -> list[str]:
    """The peft `target_modules` for a preset or a list, checked against the family's architecture."""
    presets = family.architecture.lora
    if isinstance(method.target, str):
        names = {"attention": presets.attention, "mlp": presets.mlp, "all-linear": presets.all_linear}[method.target]
        if not names:
            problems.append(f"[method.target] family {family.id} has no `{method.target}` LoRA preset")
        return list(names)
    arch = family.architecture
    known = {p.rsplit(".", 1)[-1] for p in arch.layer_module_paths()} | set(presets.all_linear)
    for name in method.target:
        if name in presets.never:
            problems.append(f"[method.target] `{name}` is never a LoRA target for family {family.id}")
        elif name not in known:
            problems.append(
                f"[method.target] `{name}` is not a module of {arch.model_class}; known: {sorted(known)}"
            )
    return list(method.target)


def _local_config(r: Recipe, loaded: LoadedRecipe, family: Family) -> Any:
    """The model's config where it is at hand (tiny models, local directories), else None."""
    if family.architecture.remote_code is not None:
        # Planning never runs a model repository's code: the vendor's config class is imported at load time, when
        # the recipe has asked for trust_remote_code (rule X002); a tiny one does not exist (rule X003).
        return None
    try:
        if r.model.inferred_source(loaded.base_dir) == "tiny":
            from .tiny import tiny_config

            return tiny_config(family)
        from transformers import AutoConfig

        path = r.model.local_path(loaded.base_dir)
        return AutoConfig.from_pretrained(str(path), trust_remote_code=r.model.trust_remote_code)
    except (OSError, ValueError, ImportError):  # no usable config here: the checks run again at load time
        return None


def _check_instantiated_targets(r: Recipe, config: Any, family: Family, targets: list[str], problems: list[str]) -> None:
    """Target names against the Linear layers the model really has (its config, built on the meta device)."""
    from .train.adapters import meta_linear_names

    try:
        present = meta_linear_names(config, trust_remote_code=r.model.trust_remote_code)
    except (OSError, ValueError, ImportError):
        return
    missing = [t for t in targets if t not in present]
    if missing:
        problems.append(
            f"[method.target] {missing} are not Linear layers of the instantiated {family.architecture.model_class} "
            f"(it has {sorted(present)}); the family's `architecture.lora` presets disagree with the model"
        )


def _cost(r: Recipe, config: Any, adapter: AdapterPlan, trainer: TrainerPlan, model: ModelPlan, cuda: bool) -> CostPlan | None:
    """The run's estimated cost (sdk.cost), when the config is at hand."""
    if config is None:
        return None
    from .cost import estimate

    try:
        return estimate(
            config, adapter, stage=r.method.stage, lm_head=trainer.lm_head, batch=r.train.batch_size,
            cutoff=r.data.cutoff_len, cuda=cuda, dtype=r.model.dtype, checkpointing=r.train.gradient_checkpointing,
            trust_remote_code=r.model.trust_remote_code, model_class=model.model_class,
        )
    except (OSError, ValueError, ImportError, AttributeError):  # an architecture the estimate cannot read
        return None


def _adapter_plan(method: MethodSection, family: Family, problems: list[str], cuda: bool = False) -> AdapterPlan:
    from .quantize import quantization_plan

    quant = quantization_plan(method, family, cuda, problems)
    task = "SEQ_CLS" if method.stage == "rm" else "CAUSAL_LM"
    if method.adapter in _PEFT_FLAGS:
        targets = lora_targets(method, family, problems)
        kwargs = {"r": method.r, "lora_alpha": method.alpha, "lora_dropout": method.dropout, "bias": "none"}
        from .vision_targets import language_model_targets  # a VLM's LoRA stays in its language model

        kwargs |= {"task_type": task, "target_modules": language_model_targets(family, targets), **_PEFT_FLAGS[method.adapter]}
        if family.architecture.lora.target_parameters and method.target == "all-linear":
            kwargs["target_parameters"] = list(family.architecture.lora.target_parameters)
        return AdapterPlan(
            kind=method.adapter, peft_config="LoraConfig", peft_kwargs=kwargs, target_modules=targets,
            quantization=quant,
        )
    if method.adapter == "oft":
        targets = lora_targets(method, family, problems)
        block = method.oft_block_size
        kwargs = {"r": 0 if block else method.r, "oft_block_size": block, "module_dropout": method.dropout}
        kwargs |= {"task_type": task, "target_modules": targets}
        return AdapterPlan(kind="oft", peft_config="OFTConfig", peft_kwargs=kwargs, target_modules=targets, quantization=quant)
    if method.adapter == "freeze":
        return AdapterPlan(
            kind="freeze", peft_config=None, trainable_layers=method.trainable_layers,
            layers=family.architecture.layers, quantization=quant,
        )
    from .compile_vision import frozen_parts

    return AdapterPlan(kind="full", peft_config=None, quantization=quant, frozen_parts=frozen_parts(method, family))


def _trainer_plan(r: Recipe, bf16_ok: bool, cuda: bool, problems: list[str]) -> TrainerPlan:
    module, trainer, config_class, fixed = TRAINERS[r.method.stage]
    t = r.train
    precision = t.precision if t.precision != "auto" else ("bf16" if bf16_ok else "fp32")
    packing = r.data.packing if r.data.packing is not None else r.method.stage == "pt"
    if packing and r.method.stage not in ("sft", "pt"):
        problems.append(f"[data.packing] packing applies to sft and pt rows, not to stage `{r.method.stage}`")
    # transformers reads a float warmup_steps below 1 as a ratio and 1.0 as one step: give whole steps when
    # the step count is known, and refuse a ratio of 1 when it is not.
    warmup: float = t.warmup_ratio
    if t.max_steps is not None:
        warmup = math.ceil(t.max_steps * t.warmup_ratio)
    elif t.warmup_ratio >= 1:
        problems.append("[train.warmup_ratio] 1.0 (warm up over every step) needs `train.max_steps`; use a ratio below 1")
    config: dict[str, Any] = {
        "learning_rate": t.learning_rate,
        "num_train_epochs": t.epochs,
        "max_steps": t.max_steps if t.max_steps is not None else -1,
        "per_device_train_batch_size": t.batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "warmup_steps": warmup,
        "lr_scheduler_type": t.scheduler,
        "weight_decay": t.weight_decay,
        "max_grad_norm": t.max_grad_norm,
        "seed": t.seed,
        "data_seed": t.seed,
        "logging_steps": t.logging_steps,
        "save_steps": t.save_steps,
        "save_total_limit": t.save_total_limit,
        # transformers 5 renamed it; both are given so that neither version warns nor ignores it.
        "activation_checkpointing": t.gradient_checkpointing,
        "gradient_checkpointing": t.gradient_checkpointing,
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "use_cpu": not cuda,
        "report_to": t.report_list() or "none",
        "max_length": r.data.cutoff_len,
        "dataloader_num_workers": 0,
        **fixed,
    }
    if packing:  # packed rows (dayzero.sdk.data.packing): TRL's padding-free collator keeps the samples apart
        config |= {"padding_free": True, "max_length": None}
    if r.method.beta is not None and r.method.stage in _BETA_FIELD:
        config[_BETA_FIELD[r.method.stage]] = r.method.beta
    if r.method.stage == "simpo":
        config["simpo_gamma"] = r.method.simpo_gamma
    if r.method.stage == "grpo" and r.rl is not None:
        config |= grpo_config(r)
    elif r.data.val_size > 0:  # the held-out split reaches the trainer (GRPO's is scored by `dayzero eval`)
        config |= {"eval_strategy": "steps", "eval_steps": t.eval_steps or t.save_steps,
                   "per_device_eval_batch_size": t.batch_size}
    return TrainerPlan(
        stage=r.method.stage, module=module, trainer=trainer, config_class=config_class, config=config,
        packing=packing,
        # TRL's preference trainers re-render and re-tokenize rows; dayzero's rows are already token ids
        pretokenized=r.method.stage in ("dpo", "kto", "orpo", "simpo"),
    )


def _export_plan(
    r: Recipe, run_dir: str, adapter: AdapterPlan, family: Family, source: str, problems: list[str]
) -> ExportPlan:
    e = r.export
    out = e.out or str(Path(run_dir) / "export")
    merge = e.merge or adapter.peft_config is None
    if e.enabled and e.merge and adapter.peft_config and not family.export.mergeable:
        problems.append(f"[export.merge] family {family.id}'s adapters cannot be merged (`export.mergeable: false`)")
    # A release is exported in the family's `export.dtype` (e.g. bf16 for FP8 or MXFP4 releases) unless the recipe
    # names a dtype; tiny and local bases keep their weights' own dtype.
    dtype = r.model.dtype if r.model.dtype != "auto" else (family.export.dtype if source in ("hf", "modelscope") else "auto")
    if e.merge or adapter.peft_config is None:
        steps = [
            "merge the adapter into the base in the base dtype" if adapter.peft_config else "take the trained weights",
            f"save sharded safetensors (max {e.max_shard_size})",
            "save the tokenizer with the training chat template",
            "write generation_config.json with the template's end-of-turn ids as eos",
        ]
        if e.ollama:
            steps.append("write an Ollama Modelfile")
        tol = f"{e.tolerance:g}" if e.tolerance else "1e-5 fp32, 3% of the largest logit 16-bit"
        if adapter.quantization:  # rule Q003: never merged into the quantized base
            steps[0] = "merge the adapter into the full-precision base (not the quantized one)"
            rel = adapter.quantization["export_tolerance"]
            steps.insert(1, f"verify the merge against the quantized base + adapter (relative L2 error of the logits <= {rel:g})")
        if family.vision is not None:  # sdk/export_vision.py
            steps.append("save the processor files; verify logits on an image prompt too")
        steps.append(f"verify logits (|diff| <= {tol}), template render and eos ids, then rename into place")
    else:
        steps = ["save the PEFT adapter", "lint it against the family's vLLM LoRA constraints", "rename into place"]
        if adapter.quantization:
            steps.insert(1, f"record the base's {adapter.quantization['method']} quantization (served on the quantized base)")
        if family.vision is not None:
            steps.insert(1, "save the processor files")
    return ExportPlan(
        enabled=e.enabled, merge=merge, out=out, overwrite=e.overwrite, max_shard_size=e.max_shard_size,
        tolerance=e.tolerance, dtype=dtype, files=list(family.export.files), ollama=e.ollama, steps=steps,
    )


def _serve_command(
    r: Recipe, plan_parts: dict[str, Any], family: Family, loaded: LoadedRecipe
) -> list[str] | None:
    """The command the export will be served with; for vLLM the very builder `dayzero serve` uses."""
    if r.serve is None:
        return None
    s = r.serve
    export: ExportPlan = plan_parts["export"]
    if s.backend == "vllm":
        from .serve.vllm_cmd import plan_vllm_command

        adapter: AdapterPlan = plan_parts["adapter"]
        base: str | None = None
        local = True
        if not export.merge:
            source = r.model.inferred_source()
            if source == "tiny":
                base = str(Path(plan_parts["run_dir"]) / "base")
            elif source == "local":
                path = Path(r.model.id).expanduser()
                base = str(loaded.base_dir / path if not path.is_absolute() and (loaded.base_dir / path).exists()
                           else path)
            else:
                base, local = r.model.id, False
        return plan_vllm_command(
            plan_parts["view"], run_dir=plan_parts["run_dir"], out=export.out, model_class=family.architecture.model_class,
            base=base, base_is_local=local, rank=adapter.peft_kwargs.get("r"), host=s.host, port=s.port,
        )
    return ["dayzero", "serve", export.out, "--backend", "hf", "--host", s.host, "--port", str(s.port)]


def planned_adapter_config(adapter: AdapterPlan) -> dict[str, Any]:
    """The adapter_config an adapter-only export of this plan will carry, as far as the lint reads it."""
    peft_type = {"LoraConfig": "LORA", "OFTConfig": "OFT"}.get(adapter.peft_config or "", adapter.peft_config or "none")
    return {"peft_type": peft_type, **adapter.peft_kwargs}


def _check_datasets(r: Recipe, loaded: LoadedRecipe, problems: list[str]) -> None:
    """Unknown catalog names and missing local files, caught here rather than after the model loaded.

    (The kind of rows each dataset holds is rule M001's business.)
    """
    from dayzero.errors import DataError
    from dayzero.sdk.data.pipeline import catalog_for
    from dayzero.sdk.data.sources import local_files
    from dayzero.sdk.data.spec import DatasetSpec

    for i, ref in enumerate(r.data.datasets):
        try:
            if isinstance(ref, DatasetSpec):
                path = ref.path
                if path and not Path(path).is_absolute():
                    path = str(loaded.base_dir / path)
            else:
                catalog = catalog_for(r.data, loaded.base_dir)
                if ref in catalog.datasets:
                    path = catalog.get(ref).path
                else:
                    path = ref if Path(ref).is_absolute() else str(loaded.base_dir / ref)
                    if not any(ch in ref for ch in "*?[") and not Path(path).exists():
                        raise DataError(f"{ref!r} is neither a dataset in the catalog nor an existing file",
                                        hint="`dayzero data list` shows the catalog")
            if path:
                local_files(path)
        except DataError as exc:
            problems.append(f"[data.datasets.{i}] {exc}")


def _data_kind(r: Recipe, loaded: LoadedRecipe) -> str | None:
    """The kind of rows the datasets hold (sft, preference, kto, text) where the recipe or catalog says."""
    from dayzero.errors import DataError
    from dayzero.sdk.data.pipeline import catalog_for
    from dayzero.sdk.data.spec import DatasetSpec

    kinds: set[str] = set()
    for ref in r.data.datasets:
        if isinstance(ref, DatasetSpec):
            kinds.add(str(ref.kind))
            continue
        try:
            catalog = catalog_for(r.data, loaded.base_dir)
        except DataError:
            continue
        if ref in catalog.datasets:
            kinds.add(str(catalog.datasets[ref].kind))
    return kinds.pop() if len(kinds) == 1 else None


def _facts(r: Recipe, family: Family, template: TemplatePlan, kind: str | None, cuda: bool, source: str) -> dict[str, Any]:
    return {
        "model": {"source": source, "trust_remote_code": r.model.trust_remote_code},
        "method": {
            "stage": r.method.stage,
            "adapter": r.method.adapter,
            "quantization": None if r.method.quantization == "none" else r.method.quantization,
            "thinking": r.method.thinking,
            "template_needed": kind not in (None, "text"),
        },
        "data": {"kind": kind, "packing": r.data.packing},
        "template": {"format": template.format, "reasoning": template.reasoning},
        "export": {"merge": r.export.merge, "enabled": r.export.enabled},
        "serve": {"backend": r.serve.backend} if r.serve else {},
        "rl": {"generation": r.rl.generation} if r.rl else {},
        "runtime": {"cuda": cuda, "bitsandbytes": _bitsandbytes(r)},
        "family": {"id": family.id, "serving": {"vllm_architecture": family.serving.vllm_architecture},
                   "remote_code": family.architecture.remote_code is not None},
    }
