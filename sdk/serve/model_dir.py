"""What to serve: a model directory, an adapter on a base, a run directory, or a recipe.

`dayzero serve X` accepts
- a MODEL_DIR (config.json + weights + tokenizer, e.g. a merged export);
- an ADAPTER_DIR (adapter_config.json): served on its base, named by `base_model_name_or_path`,
  which must be a local directory (nothing is downloaded); a QLoRA adapter exported by dayzero is
  served on its base quantized as in training (its `dayzero_export.json` records how);
- a RUN_DIR (run.json): its verified export (`export/`, or where run.json says), else its trained
  `final/` weights or adapter;
- a RECIPE (.yaml or a bundled recipe name): its run directory, as above.
The family comes from run.json when it says, else from the model's config through the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dayzero.errors import ServeError, Where
from dayzero.registry import Family
from dayzero.yamlio import read_json_object


@dataclass(frozen=True)
class ServeTarget:
    """A model ready to load: base weights, an optional adapter, its family and a served name."""

    model_dir: Path
    family: Family
    name: str
    adapter_dir: Path | None = None
    quantization: dict[str, Any] | None = None  # a QLoRA adapter's base quantization (from dayzero_export.json)

    @property
    def chat_template_file(self) -> Path | None:
        """The exported chat template, if the directory carries one (adapter's first)."""
        for d in (self.adapter_dir, self.model_dir):
            if d is not None and (d / "chat_template.jinja").is_file():
                return d / "chat_template.jinja"
        return None

    @property
    def generation_config_dir(self) -> Path | None:
        return self.model_dir if (self.model_dir / "generation_config.json").is_file() else None


def find_target(spec: str | Path, *, family: str | None = None, name: str | None = None) -> ServeTarget:
    """Resolve MODEL_DIR | ADAPTER_DIR | RUN_DIR | RECIPE to what to load (see the module doc)."""
    from dayzero import registry

    path = Path(spec).expanduser()
    family_id = family
    default_name: str | None = None  # a run is called by its run directory's name
    if path.is_dir() and (path / "run.json").is_file():
        run = _read_json(path / "run.json")
        family_id = family_id or run.get("family")
        default_name = path.resolve().name
        path = _model_in_run(path, run)
    elif not path.is_dir() and (path.suffix in (".yaml", ".yml") or not path.exists()):
        path, family_id, default_name = _from_recipe(spec, family_id)
    if not path.is_dir():
        raise ServeError(f"{spec} is not a model directory, run directory or recipe",
                         hint="pass a directory with config.json (or adapter_config.json), or a run directory")
    adapter_dir: Path | None = None
    model_dir = path
    if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
        adapter_dir = path
        model_dir = _adapter_base(path)
    if not (model_dir / "config.json").is_file():
        raise ServeError(f"no config.json in {model_dir}", where=Where(file=str(model_dir)),
                         hint="serve a merged export or an adapter whose base is a local model directory")
    fam = registry.get(family_id) if family_id else registry.resolve(model_dir).family
    served = name or default_name or (adapter_dir or model_dir).resolve().name
    return ServeTarget(model_dir=model_dir.resolve(), family=fam, name=served,
                       adapter_dir=adapter_dir.resolve() if adapter_dir else None,
                       quantization=_adapter_quantization(adapter_dir) if adapter_dir else None)


def _adapter_quantization(adapter_dir: Path) -> dict[str, Any] | None:
    """The quantization the adapter was trained on, as its dayzero export recorded it (None: full precision)."""
    record = adapter_dir / "dayzero_export.json"
    if not record.is_file():
        return None
    quant = _read_json(record).get("quantization")
    return quant if isinstance(quant, dict) else None


def _model_in_run(run_dir: Path, run: dict[str, Any]) -> Path:
    """The export a run wrote (run.json's `export.out`, else `export/`), else its `final/` weights."""
    export = run.get("export")
    candidates: list[Path] = []
    if isinstance(export, dict) and isinstance(export.get("out"), str):
        out = Path(export["out"])
        candidates.append(out if out.is_absolute() else run_dir / out)
    candidates += [run_dir / "export", run_dir / "final"]
    for cand in candidates:
        if (cand / "config.json").is_file() or (cand / "adapter_config.json").is_file():
            return cand
    tried = ", ".join(str(c) for c in candidates)
    raise ServeError(f"the run {run_dir} has no exported or trained model yet (looked in {tried})",
                     hint="finish the run (`dayzero run`) or export it (`dayzero export`)")


def _from_recipe(spec: str | Path, family_id: str | None) -> tuple[Path, str | None, str]:
    from dayzero.sdk.compiler import compile as compile_plan
    from dayzero.sdk.recipe.load import load_recipe

    plan = compile_plan(load_recipe(spec))
    run_dir = Path(plan.run_dir)
    if not (run_dir / "run.json").is_file():
        raise ServeError(f"the recipe's run directory {run_dir} has no run.json: the recipe has not been run",
                         hint=f"run it first: `dayzero run {spec}`")
    run = _read_json(run_dir / "run.json")
    return _model_in_run(run_dir, run), family_id or run.get("family") or plan.model.family, run_dir.resolve().name


def _adapter_base(adapter_dir: Path) -> Path:
    config = _read_json(adapter_dir / "adapter_config.json")
    base = config.get("base_model_name_or_path")
    if not base:
        raise ServeError("adapter_config.json names no base model", where=Where(
            file=str(adapter_dir / "adapter_config.json"), field="base_model_name_or_path"))
    base_path = Path(base)
    if not base_path.is_absolute():
        base_path = (adapter_dir / base_path) if (adapter_dir / base_path).is_dir() else base_path
    if not (base_path / "config.json").is_file():
        raise ServeError(
            f"the adapter's base {base!r} is not a local model directory (nothing is downloaded)",
            where=Where(file=str(adapter_dir / "adapter_config.json"), field="base_model_name_or_path"),
            hint="export a merged model, or point base_model_name_or_path at the base directory",
        )
    return base_path


def _read_json(path: Path) -> dict[str, Any]:
    return read_json_object(path, ServeError)
