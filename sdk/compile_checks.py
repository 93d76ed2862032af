"""Checks and small decisions `compile` makes that need a file or a device: kept apart so compiler.py reads
as the plan it builds. Nothing here loads weights."""

from __future__ import annotations

from pathlib import Path

from dayzero.errors import Problem, Where
from dayzero.registry.schema import Family

from .recipe.load import LoadedRecipe
from .recipe.schema import Recipe


def problem_of(line: str, source_file: str | None) -> Problem:
    """A compile problem `[tag] message` with its field: the tag is a recipe field (`method.target`) or a rule id."""
    tag = line[1:].split("]", 1)[0] if line.startswith("[") else ""
    is_field = tag.islower() or "." in tag  # rule ids are upper case (Q002); fields are recipe paths
    return Problem(line, Where(file=source_file, field=tag if is_field and tag else None))


def local_cuda() -> tuple[bool, bool]:
    """(a CUDA device is here, it computes in bf16): `precision: auto` picks bf16 only where it is supported."""
    import torch

    if not torch.cuda.is_available():
        return False, False
    return True, bool(torch.cuda.is_bf16_supported())


def check_prequantized(r: Recipe, loaded: LoadedRecipe, family: Family, problems: list[str]) -> None:
    """A pre-quantized checkpoint (config.json's `quantization_config`) in a format the family's entry lists
    (`quantization.checkpoint`), and trained only through an adapter."""
    from dayzero.errors import DayzeroError
    from dayzero.yamlio import read_json_object

    path = Path(r.model.id).expanduser()
    path = path if path.is_absolute() else loaded.base_dir / path
    try:
        config = read_json_object(path / "config.json")
    except DayzeroError:  # no readable config here: loading reports it
        return
    quant = config.get("quantization_config")
    method = str(quant.get("quant_method", "")).lower() if isinstance(quant, dict) else ""
    if not method:
        return
    known = [str(getattr(q, "value", q)) for q in family.quantization.checkpoint]
    if method not in known:
        problems.append(
            f"[model.id] the checkpoint is {method}-quantized, a format family {family.id} does not list "
            f"(`quantization.checkpoint`: {known})"
        )
    if r.method.adapter in ("full", "freeze"):
        problems.append(f"[method.adapter] a {method}-quantized checkpoint trains only through an adapter, not `{r.method.adapter}`")


def check_sample_image(r: Recipe, loaded: LoadedRecipe, family: Family, problems: list[str]) -> None:
    """`sample.image` is a file (relative to the recipe's folder) and the family takes images: found now, not
    after training, when the sample question is asked."""
    image = r.sample.image
    if image is None:
        return
    if getattr(family, "vision", None) is None:
        problems.append(f"[sample.image] family {family.id} is text-only (no `vision` section): it takes no image")
    path = Path(image).expanduser()
    path = path if path.is_absolute() else loaded.base_dir / path
    if not path.is_file():
        problems.append(f"[sample.image] no image file at {path}")
