"""`dayzero run | plan | export | recipe ...`: recipes to plans, runs and exports.

`dayzero run RECIPE [key=value ...]` and `dayzero.sdk.run(RECIPE, overrides=[...])` do the same thing.
RECIPE is a file or the name of a bundled recipe (`dayzero run quickstart`).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from dayzero.cli import app
from dayzero.cli.output import print_json

recipe_app = typer.Typer(help="Validate and lock recipes, and print their schema.", no_args_is_help=True)
app.add_typer(recipe_app, name="recipe")

Overrides = Annotated[
    list[str] | None, typer.Argument(help="`key=value` overrides, e.g. train.max_steps=5 method.r=16.")
]

StrictFlag = Annotated[
    bool, typer.Option("--strict", help="Refuse a model the registry does not verify (instead of an unverified draft).")
]


@app.command("run")
def run_(
    recipe: Annotated[str, typer.Argument(help="A recipe file or a bundled recipe name.")],
    overrides: Overrides = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run's last checkpoint.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Remove an earlier run's artifacts (only those) from the run directory.")] = False,
    ignore_lock: Annotated[bool, typer.Option("--ignore-lock", help="Run although the lock pins another family revision.")] = False,
    nproc: Annotated[int | None, typer.Option("--nproc", min=1, help="Processes on this machine (`distributed.nproc_per_node`).")] = None,
    nnodes: Annotated[int | None, typer.Option("--nnodes", min=1, help="Machines taking part (`distributed.nnodes`).")] = None,
    node_rank: Annotated[int | None, typer.Option("--node-rank", min=0, help="This machine's index (`distributed.node_rank`).")] = None,
    master_addr: Annotated[str | None, typer.Option("--master-addr", help="Node 0's address (`distributed.master_addr`).")] = None,
    master_port: Annotated[int | None, typer.Option("--master-port", help="Node 0's port (`distributed.master_port`).")] = None,
    rdzv_endpoint: Annotated[str | None, typer.Option("--rdzv-endpoint", help="host:port of a c10d rendezvous.")] = None,
    print_launch: Annotated[bool, typer.Option("--print-launch", help="Print the launch command and exit (for Slurm and schedulers).")] = False,
    strict: StrictFlag = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the libraries' own logs and warnings.")] = False,
) -> None:
    """Compile and run a recipe: train, export, and print a sample reply."""
    from dayzero import sdk

    options = {"nproc_per_node": nproc, "nnodes": nnodes, "node_rank": node_rank, "master_addr": master_addr,
               "master_port": master_port, "rdzv_endpoint": rdzv_endpoint}
    overrides = [*(overrides or []), *(f"distributed.{k}={v}" for k, v in options.items() if v is not None)]
    if print_launch:
        from dayzero.sdk.launch import printable, worker_command

        compiled = sdk.compile(recipe, overrides=overrides, ignore_lock=ignore_lock, strict=strict)
        if compiled.distributed.launch is None:
            print("one process: `dayzero run` trains in-process (no launcher)")
            return
        print(printable(worker_command(compiled, resume=resume, ignore_lock=ignore_lock)))
        return
    result = sdk.run(recipe, overrides=overrides, resume=resume, overwrite=overwrite, ignore_lock=ignore_lock,
                     strict=strict, verbose=verbose)
    import sys

    if sys.stdout.isatty():
        return  # a person read the summary on the console (stderr); the lines below are for scripts
    print(f"run directory: {result.run_dir}")
    if result.export_dir:
        print(f"export: {result.export_dir}")
    if result.sample is not None:
        print(f"sample reply: {result.sample!r}")


@app.command("plan")
def plan(
    recipe: Annotated[str, typer.Argument(help="A recipe file or a bundled recipe name.")],
    overrides: Overrides = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    ignore_lock: Annotated[bool, typer.Option("--ignore-lock")] = False,
    gpu: Annotated[
        bool | None, typer.Option("--gpu/--cpu", help="Plan for a CUDA machine or a CPU one (default: this machine).")
    ] = None,
    strict: StrictFlag = False,
    count: Annotated[
        bool, typer.Option("--tokens/--no-tokens", help="Count rows and tokens when the data is local.")
    ] = True,
) -> None:
    """Compile a recipe and print the plan; every rule is checked, no weights load; rows and tokens are counted
    when the data and the tokenizer are local."""
    from dayzero import sdk
    from dayzero.sdk.recipe.load import load_recipe

    loaded = load_recipe(recipe, overrides or [])
    # With --json, stdout carries only the JSON: libraries imported while compiling print there (DeepSpeed,
    # pulled in by transformers when installed, logs its accelerator choice to stdout at import).
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        compiled = sdk.compile(loaded, ignore_lock=ignore_lock, cuda=gpu, strict=strict)
        counts = None
        if count:
            from dayzero.sdk.plan_data import data_counts

            counts = data_counts(compiled, loaded)
    if as_json:
        print_json({**compiled.model_dump(mode="json"), **({"tokens": counts} if counts is not None else {})})
        return
    from rich.console import Console

    from dayzero.sdk.console import is_plain, plan_table

    console = Console()
    if is_plain(console):
        print(compiled.render())  # plain lines, unbroken: what scripts grep
    else:
        console.print(plan_table(compiled))
    if counts is not None:
        from dayzero.sdk.plan_data import render_counts

        print(render_counts(counts))


@app.command("export")
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (with run.json and final/).")],
    out: Annotated[Path | None, typer.Option("--out", help="Export directory (default: the plan's).")] = None,
    adapter_only: Annotated[bool, typer.Option("--adapter-only", help="PEFT adapter only, linted for vLLM.")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an earlier dayzero export at the destination (never other files).")
    ] = False,
    gguf: Annotated[bool, typer.Option("--gguf", help="Also write model-<type>.gguf (llama.cpp, Ollama), verified.")] = False,
    gguf_type: Annotated[str, typer.Option("--gguf-type", help="f16 | bf16 | q8_0.")] = "f16",
) -> None:
    """Export a finished run: merged and verified, or adapter-only; optionally as GGUF too."""
    from dayzero.sdk.exporter import export

    if gguf:
        from dayzero.sdk.gguf_export import check_gguf_request

        check_gguf_request(run_dir, gguf_type, adapter_only=adapter_only)  # refused before anything is written
    report = export(run_dir, out=out, merge=False if adapter_only else None, overwrite=overwrite)
    print(f"export: {report.out}")
    if report.max_logit_diff is not None:
        print(f"merged logits match base+adapter: max |diff| {report.max_logit_diff:.2e} <= {report.tolerance:g}")
    for line in report.lint:
        print(f"vllm: {line}")
    if gguf:
        from dayzero.sdk.gguf_export import write_gguf_for_run

        written = write_gguf_for_run(run_dir, report.out, gguf_type)
        print(f"gguf: {written.path} ({written.arch}, {written.tensors} tensors); logits match the export: "
              f"max |diff| {written.max_logit_diff:.2e} <= {written.tolerance:.2g}")


@recipe_app.command("validate")
def validate(
    file: Annotated[str, typer.Argument(help="A recipe file or a bundled recipe name.")],
    overrides: Overrides = None,
) -> None:
    """Check a recipe against the schema (errors name file, line and field)."""
    from dayzero.sdk.recipe import load_recipe

    loaded = load_recipe(file, overrides or [])
    print(f"ok: {loaded.path or file} ({loaded.recipe.name})")


@recipe_app.command("lock")
def lock(file: Annotated[str, typer.Argument(help="A recipe file.")]) -> None:
    """Write FILE.lock.json: the registry version, family revision and hash, the recipe's (and its `extends:`
    parents') sha256, the library versions and the base model's hub revision the recipe runs against."""
    from dayzero import sdk
    from dayzero.registry import default
    from dayzero.sdk.recipe import find_recipe
    from dayzero.sdk.recipe.lock import write_lock

    recipe_path = find_recipe(file)
    compiled = sdk.compile(recipe_path, ignore_lock=True)
    reg = default()
    path = write_lock(recipe_path, reg, reg.get(compiled.model.family), plan=compiled)
    print(f"locked: {path}")


@recipe_app.command("schema")
def schema() -> None:
    """Print the recipe's JSON Schema (for editors and tools)."""
    from dayzero.sdk.recipe import Recipe

    print_json(Recipe.model_json_schema())
