"""`run(recipe)`: a recipe from YAML to a trained, exported, sampled model, as plain stage functions.

Read top to bottom, in the manner of torchtune's recipes: `compile` (no weights), `setup` (model dir,
tokenizer, chat template), `prepare_data`, `train`, `export`, `sample`. Each stage takes explicit
inputs and writes explicit artifacts into the run directory:

    run.json            recipe, plan, registry version, family revision, library versions, data fingerprint,
                        metrics, status (running, trained, done; failed with the error; interrupted),
                        rewritten atomically at the end of each stage
    run.lock            held while the run is alive (sdk.runlock): a second run into the directory is refused
    base/               the synthesised base (tiny models only)
    checkpoints/        trainer checkpoints (`--resume` continues from the newest complete one)
    final/              the trained adapter (or full weights) and the tokenizer used in training, renamed
                        into place when complete
    logs/               the trainer's log history and tensorboard logs (when `report_to` has tensorboard)
    loss.png            the loss curve
    export/             the verified export (see sdk.exporter)

`--overwrite` removes exactly these (sdk.artifacts.RUN_ARTIFACTS), never other files in the directory.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dayzero.atomic import atomic_write_text

from .artifacts import check_export_target, swap_in
from .checkpoints import newest_complete
from .plan import Plan
from .recipe.load import LoadedRecipe, load_recipe
from .runguard import begin_run, recorded
from .runinfo import library_versions, plot_losses, quiet_library_deprecations, rank, write_run_json
from .runseries import eval_arguments, run_series
from .write_errors import writing


@dataclass
class RunResult:
    """What a run produced: its directory, plan, metrics, export directory and the sample reply."""

    run_dir: Path
    plan: Plan
    metrics: dict[str, Any] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    export_dir: Path | None = None
    sample: str | None = None


@dataclass
class Setup:
    model_dir: Path
    tokenizer: Any
    template: Any  # the ChatTemplate rows are rendered with (the tokenizer's own, else the family's)
    generated_template: bool  # the base shipped no chat template; the family's generated Jinja is used


def run(
    source: Any,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
    overwrite: bool = False,
    ignore_lock: bool = False,
    strict: bool = False,
    train_dataset: Any = None,
    callbacks: list[Any] | None = None,
    console: Any = None,
    registry: Any = None,
    verbose: bool = False,
) -> RunResult:
    """Compile and run a recipe. `train_dataset` (a TRL-ready `datasets.Dataset`) skips data preparation.

    ``registry``: where compile resolves the family (default: the bundled registry). It is the only
    lookup: every stage after compile reads the Plan (`Plan.view`).

    `resume` continues from the run directory's newest complete checkpoint; `overwrite` removes an earlier
    run's artifacts in that directory first (nothing else); with neither, a directory holding checkpoints is
    an error. The run holds `run.lock` while it lives; an exception records `status: failed` in run.json.
    `console`: a rich Console to draw on (default: stderr), or False for silence; `verbose` lets the
    libraries' own logs, progress bars and warnings through (see `sdk.console`).
    """
    from .console import RunConsole, quiet_libraries

    out = RunConsole(console if console is not False else None, verbose=verbose, enabled=console is not False)
    with quiet_libraries(verbose):
        return _run(source, overrides, resume, overwrite, ignore_lock, train_dataset, callbacks, out,
                    registry=registry, strict=strict)


def _run(
    source: Any, overrides: Any, resume: bool, overwrite: bool, ignore_lock: bool, train_dataset: Any,
    callbacks: list[Any] | None, console: Any, *, registry: Any = None, strict: bool = False,
) -> RunResult:
    from .compiler import compile as compile_plan

    loaded = load_recipe(source, overrides)
    plan = compile_plan(loaded, ignore_lock=ignore_lock, registry=registry, strict=strict)
    from .launch import in_worker, run_launched

    if plan.distributed.launch and not in_worker():  # several processes: torchrun runs this recipe in each
        return run_launched(plan, loaded, resume=resume, overwrite=overwrite, ignore_lock=ignore_lock)
    say = console.print
    run_dir = Path(plan.run_dir)
    if not loaded.path and not run_dir.is_absolute():
        run_dir = Path.cwd() / run_dir
    lock = begin_run(run_dir, resume=resume, overwrite=overwrite, say=say)
    try:
        # The export at the end may replace only an earlier dayzero export, and only when asked (or when it is
        # this run's own, in its run directory, and the run is resumed); checked now rather than after training.
        out = Path(plan.export.out)
        replace_export = overwrite or plan.export.overwrite or (resume and run_dir.resolve() in out.resolve().parents)
        info: dict[str, Any] = {
            "status": "running",
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "pid": os.getpid(),
            "recipe": loaded.recipe.model_dump(mode="json"),
            "recipe_base_dir": str(loaded.base_dir.resolve()),
            "plan": plan.model_dump(mode="json"),
            "registry_version": plan.registry_version,
            "family": plan.model.family,
            "family_revision": plan.model.family_revision,
            "libraries": library_versions(),
            "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        }
        if plan.export.enabled and rank() == 0:  # before run.json is touched: a refused run leaves the last one's
            check_export_target(out, overwrite=replace_export, recipe_dir=loaded.base_dir)
        with recorded(run_dir, info):
            if rank() == 0:
                write_run_json(run_dir, info)
            return _stages(plan, loaded, run_dir, info, console, resume=resume, replace_export=replace_export,
                           train_dataset=train_dataset, callbacks=callbacks)
    finally:
        lock.release()


def _stages(
    plan: Plan, loaded: LoadedRecipe, run_dir: Path, info: dict[str, Any], out: Any, *, resume: bool,
    replace_export: bool, train_dataset: Any, callbacks: list[Any] | None,
) -> RunResult:
    """setup, data, train, export, sample: each stage's facts go into run.json as it ends (`out`: sdk.console)."""
    say = out.print
    out.plan(plan)
    with out.stage("setup (base model, tokenizer, chat template)"):
        setup_ = setup(plan, loaded, run_dir)
    eval_dataset = None
    if train_dataset is None:
        with out.stage("data"):
            train_dataset, eval_dataset, data_info = prepare_data(plan, loaded, setup_)
    else:
        data_info = {"fingerprint": getattr(train_dataset, "_fingerprint", None), "rows": len(train_dataset)}
    info["data"] = data_info
    if rank() == 0:
        write_run_json(run_dir, info)

    if resume:
        checkpoint, skipped = newest_complete(run_dir / "checkpoints")
        for path, reason in skipped:
            say(f"--resume: skipping {path.name}, incomplete: {reason}")
        say(f"--resume: continuing from {checkpoint.name}" if checkpoint else "--resume: no complete checkpoint; starting afresh")
        info["resumed_from"] = checkpoint.name if checkpoint else None
    with out.stage(f"train ({plan.trainer.trainer}, {data_info.get('rows')} rows{skipped_rows_note(data_info)})"):
        metrics, losses = train(plan, setup_, train_dataset, run_dir, resume=resume, callbacks=callbacks,
                                progress=out.progress_callback(), eval_dataset=eval_dataset)
    result = RunResult(run_dir=run_dir, plan=plan, metrics=metrics, losses=losses)
    info.update(metrics=metrics, losses=losses, status="trained")
    from .train.sharding import leave_engine

    leave_engine(plan)
    if rank() != 0:
        return result
    info.update(run_series(run_dir))  # eval losses and rewards per logged step, where the stage has them
    write_run_json(run_dir, info)
    with writing(run_dir / "loss.png"):
        plot_losses(_history(run_dir), run_dir / "loss.png", title=f"{plan.name}: {plan.trainer.stage} / {plan.adapter.kind}")

    if plan.export.enabled:
        from .exporter import export

        with out.stage("export (merged, verified)" if plan.export.merge else "export (adapter, linted)"):
            report = export(run_dir, out=Path(plan.export.out), overwrite=replace_export)
        result.export_dir = report.out
        info["export"] = report.as_dict()
        write_run_json(run_dir, info)
        if plan.export.merge and loaded.recipe.sample.prompt and plan.trainer.stage != "rm":
            with out.stage("sample (served on loopback, OpenAI API)"):
                image = loaded.recipe.sample.image
                image_path = loaded.base_dir / image if image else None
                result.sample = sample(report.out, loaded.recipe.sample.prompt, loaded.recipe.sample.max_new_tokens,
                                       image=image_path)
            info["sample"] = {"prompt": loaded.recipe.sample.prompt, "reply": result.sample,
                              **({"image": str(image_path)} if image_path else {})}
    info["status"] = "done"
    write_run_json(run_dir, info)
    out.summary(result, loaded.recipe.sample.prompt)
    return result


def skipped_rows_note(data_info: dict[str, Any]) -> str:
    """`; skipped 2 bad rows (bad_type: 1, missing_field: 1)` for rows dropped under `on_error: skip`."""
    problems = (data_info.get("stats") or {}).get("problems") or {}
    total = sum(problems.values())
    if not total:
        return ""
    per_reason = ", ".join(f"{reason}: {n}" for reason, n in sorted(problems.items(), key=lambda kv: -kv[1]))
    return f"; skipped {total} bad row{'s' if total > 1 else ''} ({per_reason})"


def setup(plan: Plan, loaded: LoadedRecipe, run_dir: Path) -> Setup:
    """The base model directory and the tokenizer, carrying the chat template training will use."""
    from .loading import load_tokenizer, model_dir
    from .training_data import training_template

    path = model_dir(plan, run_dir, loaded.base_dir)
    tokenizer = load_tokenizer(path, plan)
    template, generated = training_template(plan, tokenizer)
    if generated:
        tokenizer.chat_template = template.to_jinja()
    return Setup(model_dir=path, tokenizer=tokenizer, template=template, generated_template=generated)


def prepare_data(plan: Plan, loaded: LoadedRecipe, setup_: Setup) -> tuple[Any, Any, dict[str, Any]]:
    """The recipe's `data:` section as datasets the plan's trainer accepts (train, held-out or None), and
    facts about them."""
    from .training_data import prepare

    return prepare(plan, loaded, setup_.tokenizer, setup_.template)


def train(
    plan: Plan,
    setup_: Setup,
    dataset: Any,
    run_dir: Path,
    *,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    progress: Any = None,
    eval_dataset: Any = None,
) -> tuple[dict[str, Any], list[float]]:
    """Load the base, apply the adapter, train with TRL; save the result and the tokenizer under final/.

    `progress` (a TrainerCallback, `sdk.console`) replaces transformers' own progress bar and metric printer.
    """
    import torch
    from transformers import set_seed

    from .loading import load_model
    from .train.adapters import apply_adapter, trainable_summary
    from .train.sharding import prepare_engine, prepare_model, save_final, shard_fraction
    from .train.trainers import build_trainer

    set_seed(plan.trainer.config["seed"])
    prepare_engine(plan)  # before anything starts DeepSpeed's comm backend
    model = load_model(setup_.model_dir, plan, setup_.tokenizer)
    if "tensorboard" in (plan.trainer.config.get("report_to") or []):
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "logs")
    checkpoint = newest_complete(run_dir / "checkpoints")[0] if resume else None
    with quiet_library_deprecations():
        model = apply_adapter(model, plan.adapter)
        if plan.adapter.frozen_parts:  # a vision-language full fine-tune (sdk.train.vision)
            from .train.vision import freeze_parts

            freeze_parts(model, plan.view.family, freeze_vision="vision_tower" in plan.adapter.frozen_parts,
                         freeze_projector="projector" in plan.adapter.frozen_parts)
        prepare_model(model, plan)  # ZeRO-3 leaf modules, where the plan names them
        trainer = build_trainer(
            plan, model, setup_.tokenizer, dataset, run_dir / "checkpoints", callbacks=callbacks,
            **eval_arguments(plan, eval_dataset),
        )
        from .console import replace_trainer_printer

        replace_trainer_printer(trainer, progress)
        with writing(run_dir / "checkpoints"):  # a full disk shows first where the trainer saves checkpoints
            output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    history = trainer.state.log_history
    losses = [float(h["loss"]) for h in history if "loss" in h]
    metrics = {k: v for k, v in output.metrics.items() if isinstance(v, int | float)}
    metrics |= trainable_summary(model) | {"global_step": int(trainer.state.global_step)}
    if plan.distributed.strategy != "single":  # what this rank holds: the evidence that the strategy sharded
        metrics["param_shard_fraction"] = round(shard_fraction(trainer.model), 6)
        metrics["engine"] = str(getattr(trainer.accelerator.distributed_type, "value", trainer.accelerator.distributed_type))
    if trainer.is_world_process_zero():
        log = "".join(json.dumps(entry) + "\n" for entry in history)
        atomic_write_text(run_dir / "logs" / "history.jsonl", log)  # every logged step, as the trainer saw it
    final = run_dir / "final"
    staging = run_dir / ".final.partial"  # one name for every rank; the run lock keeps other runs out
    if trainer.is_world_process_zero():
        shutil.rmtree(staging, ignore_errors=True)
    try:
        with writing(final):
            save_final(trainer, staging)  # every rank calls it (it may synchronise); only the main one writes
            from .exporter import save_probe

            if trainer.is_world_process_zero():
                setup_.tokenizer.save_pretrained(str(staging))
            if trainer.is_world_process_zero() or plan.distributed.strategy in ("fsdp2", "deepspeed"):
                # the trained model's own logits, what an export must match (sharded: every rank forwards)
                save_probe(model, setup_.tokenizer, staging, write=trainer.is_world_process_zero(),
                           vision=plan.view.family.vision)
            if trainer.is_world_process_zero():
                atomic_write_text(staging / "dayzero_final.json", json.dumps({"adapter": plan.adapter.kind}) + "\n")
                swap_in(staging, final)  # final/ appears only complete
    except BaseException:
        if trainer.is_world_process_zero():
            shutil.rmtree(staging, ignore_errors=True)
        raise
    del trainer
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return metrics, losses


def sample(export_dir: Path, prompt: str, max_new_tokens: int = 32, image: Path | None = None) -> str:
    """Serve the export with the OpenAI-compatible server on loopback and ask it one question.

    The reply goes through exactly what `dayzero serve` runs (the template module renders the prompt,
    generation stops on the family's end-of-turn ids), over HTTP, so the quickstart shows train ->
    export -> serve end to end rather than a second, private way of generating. With ``image`` (a
    vision-language recipe's `sample.image`) the file goes with the prompt as a data-URI image part.
    """
    import urllib.request

    from dayzero.sdk.serve import ServerThread, create_app, load_service

    content: Any = prompt
    if image is not None:
        from dayzero.errors import RecipeError, Where
        from dayzero.sdk.serve.chat import image_part

        part = image_part(image)
        if isinstance(part, str):
            raise RecipeError(part, where=Where(field="sample.image"))
        content = [part, {"type": "text", "text": prompt}]
    service = load_service(export_dir)
    try:
        with ServerThread(create_app(service)) as server:
            body = {
                "model": service.model_name,
                "messages": [{"role": "user", "content": content}],
                "max_tokens": max_new_tokens,
                "temperature": 0,
            }
            request = urllib.request.Request(
                f"{server.base_url}/chat/completions",
                data=json.dumps(body).encode("utf-8"),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=300) as response:  # loopback only
                reply = json.load(response)
    finally:
        service.backend.close()
    return str(reply["choices"][0]["message"]["content"] or "").strip()


def _history(run_dir: Path) -> list[dict[str, Any]]:
    """The trainer's logged entries (logs/history.jsonl), for the loss plot."""
    path = run_dir / "logs" / "history.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
