"""`dayzero data list | preview | stats`: see what a dataset becomes before training on it.

TARGET is a catalog name, a data file path, or a recipe file (its `data:` section, its model's family
and stage are used). Token counts need a tokenizer: `--tokenizer DIR` loads one (offline); without it,
a recipe's local model directory is used, else the family's tiny tokenizer (counts are then only
indicative, and the output says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dayzero.cli import app
from dayzero.cli.output import print_json, print_table

data_app = typer.Typer(help="Inspect datasets: the catalog, rendered rows, and statistics.", no_args_is_help=True)
app.add_typer(data_app, name="data")

Target = Annotated[str, typer.Argument(help="A catalog dataset name, a data file, or a recipe file.")]
FamilyOpt = Annotated[str | None, typer.Option("--family", "-f", help="Family id (required unless TARGET is a recipe).")]
TokenizerOpt = Annotated[str | None, typer.Option("--tokenizer", help="A local tokenizer directory.")]
StageOpt = Annotated[str | None, typer.Option("--stage", help="sft | pt | rm | dpo | orpo | simpo | kto.")]
CatalogOpt = Annotated[str | None, typer.Option("--catalog", help="A catalog file (default: the bundled one).")]


def _setup(target: str, family: str | None, tokenizer: str | None, stage: str | None, catalog: str | None,
           cutoff_len: int | None = None, packing: bool | None = None) -> tuple[Any, str, Any, Any, Path | None, str]:
    """(DataConfig, stage, template, tokenizer, base_dir, tokenizer note) for a dataset or a recipe."""
    from dayzero import registry
    from dayzero.errors import DataError
    from dayzero.sdk.data import STAGE_KIND, DataConfig, Kind

    model_dir: str | None = None
    base_dir: Path | None = None
    path = Path(target)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        from dayzero.sdk.recipe.load import load_recipe

        loaded = load_recipe(path)
        recipe = loaded.recipe
        config, base_dir = recipe.data, loaded.base_dir
        stage = stage or recipe.method.stage
        family = family or recipe.model.family
        local = recipe.model.inferred_source(base_dir) == "local"
        if family is None and not recipe.model.id.startswith("tiny:"):
            family = registry.resolve(str(recipe.model.local_path(base_dir)) if local else recipe.model.id).family.id
        family = family or recipe.model.id.removeprefix("tiny:")
        if local:
            model_dir = str(recipe.model.local_path(base_dir))
    else:
        if family is None:
            raise DataError("--family is needed to render a dataset", hint="e.g. --family qwen2")
        config = DataConfig(datasets=[target], catalog=catalog)
    if stage is None:  # a dataset alone: the stage its kind is for
        spec_kind = _kind_of(config, base_dir)
        stage = {Kind.preference.value: "dpo", Kind.kto.value: "kto", Kind.text.value: "pt", Kind.prompt.value: "grpo"}.get(
            spec_kind, "sft"
        )
    if stage not in STAGE_KIND:
        raise DataError(f"unknown stage {stage!r}", hint=f"one of {', '.join(STAGE_KIND)}")
    if STAGE_KIND[stage] == Kind.prompt.value:
        raise DataError(
            f"`dayzero data preview|stats` shows the token rows of the offline stages; `{stage}` trains on prompts "
            "rendered at run time", hint="`dayzero plan RECIPE` shows its rewards; pick an offline `--stage` to see rows"
        )
    updates: dict[str, Any] = {}
    if cutoff_len is not None:
        updates["cutoff_len"] = cutoff_len
    if packing is not None:
        updates["packing"] = packing
    config = config.model_copy(update=updates) if updates else config
    fam = registry.get(family)
    tok, note = _tokenizer(fam, tokenizer or model_dir)
    return config, stage, _template(fam, tok), tok, base_dir, note


def _kind_of(config: Any, base_dir: Path | None) -> str:
    from dayzero.sdk.data.pipeline import resolve_specs
    from dayzero.sdk.data.spec import DatasetSpec

    ref = config.datasets[0]
    if isinstance(ref, DatasetSpec):
        return str(ref.kind)
    from dayzero.sdk.data.pipeline import catalog_for

    catalog = catalog_for(config, base_dir)
    if ref in catalog.datasets:
        return str(catalog.get(ref).kind)
    return str(resolve_specs(config, "sft", base_dir)[0].kind)


def _tokenizer(family: Any, path: str | None) -> tuple[Any, str]:
    if path:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path), f"tokenizer: {path}"
    from dayzero.sdk.tiny import tiny_tokenizer

    return tiny_tokenizer(family), f"tokenizer: tiny {family.id} BPE (indicative counts; pass --tokenizer DIR)"


def _template(family: Any, tokenizer: Any) -> Any:
    """The tokenizer's own chat template when it ships one (as training does), else the family's."""
    from dayzero.sdk.templates import ChatTemplate

    official = getattr(tokenizer, "chat_template", None)
    if isinstance(official, str) and official:
        return ChatTemplate.from_official(official, family=family, bos_token=tokenizer.bos_token or "",
                                          eos_token=tokenizer.eos_token or "")
    return ChatTemplate.for_family(family)


@data_app.command("list")
def list_(catalog: CatalogOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the datasets in a catalog (the bundled demo catalog by default)."""
    from dayzero.sdk.data import bundled_catalog, load_catalog

    cat = load_catalog(Path(catalog)) if catalog else bundled_catalog()
    entries = {name: cat.get(name) for name in sorted(cat.datasets)}
    if as_json:
        print_json({name: spec.model_dump(mode="json", exclude_none=True) for name, spec in entries.items()})
        return
    rows = [[name, s.path or s.hf or s.ms, s.format, s.kind] for name, s in entries.items()]
    print_table("datasets", ["name", "source", "format", "kind"], rows)


@data_app.command("preview")
def preview(
    target: Target,
    family: FamilyOpt = None,
    n: Annotated[int, typer.Option("-n", min=1, help="Rows to show.")] = 3,
    tokenizer: TokenizerOpt = None,
    stage: StageOpt = None,
    catalog: CatalogOpt = None,
) -> None:
    """Show rows as the chat template renders them; trained text is highlighted, with token counts."""
    from rich.console import Console
    from rich.text import Text

    from dayzero.sdk.data.problems import Problem
    from dayzero.sdk.data.report import preview as preview_rows

    config, stage_, template, tok, base_dir, note = _setup(target, family, tokenizer, stage, catalog)
    console = Console(highlight=False)
    console.print(f"[dim]{note}; stage {stage_}; trained text in [bold green]green[/bold green][/dim]")
    for row in preview_rows(config, stage=stage_, template=template, tokenizer=tok, n=n, base_dir=base_dir):
        if isinstance(row, Problem):  # a row training would skip (on_error: skip) or stop at (raise)
            console.print(Text(f"skipped {row.origin}: {row.reason}: {row.detail}", style="bold red"), soft_wrap=True)
            continue
        # a header line, not a rule: rich cuts a rule's title to the width, and the row's file:line must stay whole
        console.print(Text(f"── {row.origin}  ({row.tokens} tokens, {row.trained_tokens} trained)", style="bold"),
                      soft_wrap=True)
        text = Text()
        for piece in row.pieces:
            if piece.label:
                text.append(f"\n[{piece.label}]\n", style="bold cyan")
            text.append(piece.text, style="bold green" if piece.trained else "dim")
        console.print(text)


@data_app.command("stats")
def stats(
    target: Target,
    family: FamilyOpt = None,
    tokenizer: TokenizerOpt = None,
    stage: StageOpt = None,
    catalog: CatalogOpt = None,
    cutoff_len: Annotated[int | None, typer.Option("--cutoff-len", min=1, help="Override cutoff_len.")] = None,
    packing: Annotated[bool | None, typer.Option("--packing/--no-packing", help="Override packing.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rows, token lengths, truncation, packing and bad rows (counted per reason, with examples)."""
    from dayzero.sdk.data import prepare
    from dayzero.sdk.data.report import summary

    config, stage_, template, tok, base_dir, note = _setup(target, family, tokenizer, stage, catalog, cutoff_len,
                                                           packing)
    config = config.model_copy(update={"on_error": "skip"})  # count bad rows instead of stopping at them
    prepared = prepare(config, stage=stage_, template=template, tokenizer=tok, base_dir=base_dir)
    data = summary(prepared.stats, config.cutoff_len)
    if as_json:
        print_json({"stage": stage_, "tokenizer": note, **data})
        return
    print(note)
    rows = [[k, v] for k, v in data.items() if k not in ("histogram", "problems", "problem_examples", "length")]
    rows += [[f"length {k}", v] for k, v in data["length"].items()]
    rows += [[f"problem: {k}", v] for k, v in data["problems"].items()]
    print_table(f"{target} ({stage_}, cutoff {config.cutoff_len})", ["figure", "value"], rows)
    peak = max((c for _, c in data["histogram"]), default=0) or 1
    print_table("token lengths", ["tokens", "rows", ""],
                [[b, c, "#" * round(40 * c / peak)] for b, c in data["histogram"]])
    for example in data["problem_examples"]:
        print(f"  {example}")
