"""What to serve: a model directory, an adapter on a base, a run directory, or a recipe.

`dayzero serve X` accepts
- a MODEL_DIR (config.json + weights + tokenizer, e.g. a merged export);
- an ADAPTER_DIR (adapter_config.json): served on its base, named by `base_model_name_or_path`,
  which must be a local directory (nothing is downloaded); a QLoRA adapter exported by dayzero is
  served on its base quantized as in training (its `dayzero_export.json` records how);
- a RUN_DIR (run.json): its verified export (`export/`, or where run.json says), else its trained
  `final/` weights or adapter;
- a RECIPE (.yaml or a bundled recipe name): its run directory, as above.
The family comes, in this order, from `--family`, the export's manifest (`dayzero_export.json`: the
view of the family the run trained with, checkpoint overrides included), run.json's plan, and last the
model's config through the registry (a model dayzero did not export). A recorded view is served as
recorded; when the registry's entry has changed since (its content hash differs), `ServeTarget.warnings`
says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dayzero.errors import ServeError, Where
from dayzero.registry import Family
from dayzero.registry.view import FamilyView
from dayzero.yamlio import read_json_object


@dataclass(frozen=True)
class ServeTarget:
    """A model ready to load: base weights, an optional adapter, its family and a served name."""

    model_dir: Path
    view: FamilyView
    name: str
    adapter_dir: Path | None = None
    warnings: tuple[str, ...] = ()
    quantization: dict[str, Any] | None = None  # a QLoRA adapter's base quantization (from dayzero_export.json)

    @property
    def family(self) -> Family:
        """The family entry as served (the checkpoint's overrides applied)."""
        return self.view.family

    @property
    def chat_template_file(self) -> Path | None:
        """The exported chat template, if the directory carries one (adapter's first)."""
        for d in (self.adapter_dir, self.model_dir):
            if d is not None and (d / "chat_template.jinja").is_file():
                return d / "chat_template.jinja"
        return None

    @property
    def processor_dir(self) -> Path:
        """Where a vision-language model's processor files are: the adapter's, when it carries them."""
        for name in ("preprocessor_config.json", "processor_config.json"):
            if self.adapter_dir is not None and (self.adapter_dir / name).is_file():
                return self.adapter_dir
        return self.model_dir

    @property
    def generation_config_dir(self) -> Path | None:
        return self.model_dir if (self.model_dir / "generation_config.json").is_file() else None


def find_target(spec: str | Path, *, family: str | None = None, name: str | None = None) -> ServeTarget:
    """Resolve MODEL_DIR | ADAPTER_DIR | RUN_DIR | RECIPE to what to load (see the module doc)."""
    from dayzero.sdk.artifacts import EXPORT_MANIFEST

    path = Path(spec).expanduser()
    family_id = family
    default_name: str | None = None  # a run is called by its run directory's name
    recorded: dict[str, Any] | None = None  # a view the run recorded (run.json's plan)
    if path.is_dir() and (path / "run.json").is_file():
        run = _read_json(path / "run.json")
        recorded = (run.get("plan") or {}).get("view")
        default_name = path.resolve().name
        path = _model_in_run(path, run)
    elif not path.is_dir() and (path.suffix in (".yaml", ".yml") or not path.exists()):
        path, recorded, default_name = _from_recipe(spec)
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
    for d in (adapter_dir, model_dir):
        if d is not None and (d / EXPORT_MANIFEST).is_file():
            recorded = _read_json(d / EXPORT_MANIFEST).get("view") or recorded
            break
    view, warnings = _view(model_dir, family_id, recorded)
    served = name or default_name or (adapter_dir or model_dir).resolve().name
    return ServeTarget(model_dir=model_dir.resolve(), view=view, name=served,
                       adapter_dir=adapter_dir.resolve() if adapter_dir else None, warnings=tuple(warnings),
                       quantization=_adapter_quantization(adapter_dir) if adapter_dir else None)


def _view(model_dir: Path, family_id: str | None, recorded: dict[str, Any] | None) -> tuple[FamilyView, list[str]]:
    """The recorded view (with a warning if the registry's entry changed since), else one resolved now."""
    from pydantic import ValidationError

    from dayzero import registry
    from dayzero.registry.view import view_of

    reg = registry.default()
    view = None
    if recorded is not None:
        try:
            view = FamilyView.model_validate(recorded)
        except ValidationError:
            view = None  # written by another dayzero version: resolve afresh
    if view is not None and (family_id is None or family_id == view.id):
        warnings = []
        now = reg.content_hash(view.id) if view.id in reg.families else None
        if now != view.family_hash:
            change = "is no longer in the registry" if now is None else "has changed since"
            warnings.append(
                f"the registry's entry for family `{view.id}` {change} this model was exported (registry "
                f"{view.registry_version} then, {reg.version} now); serving with the facts it was trained with"
            )
        return view, warnings
    if family_id:
        return view_of(reg, family_id), []
    res = registry.resolve(model_dir)
    return view_of(reg, res.family, res.checkpoint.hf if res.checkpoint else None), []


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


def _from_recipe(spec: str | Path) -> tuple[Path, dict[str, Any] | None, str]:
    from dayzero.sdk.compiler import compile as compile_plan
    from dayzero.sdk.recipe.load import load_recipe

    plan = compile_plan(load_recipe(spec))
    run_dir = Path(plan.run_dir)
    if not (run_dir / "run.json").is_file():
        raise ServeError(f"the recipe's run directory {run_dir} has no run.json: the recipe has not been run",
                         hint=f"run it first: `dayzero run {spec}`")
    run = _read_json(run_dir / "run.json")
    recorded = (run.get("plan") or {}).get("view") or plan.view.model_dump(mode="json", by_alias=True)
    return _model_in_run(run_dir, run), recorded, run_dir.resolve().name


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
