"""Export a finished run: merged weights (verified) or an adapter-only PEFT folder (linted).

Atomic: everything is written into a hidden sibling folder (`.<out>.partial-<pid>`) and renamed to its
final name only after every check passed, so an interrupted or failed export leaves nothing that looks
complete; an earlier export is renamed aside before and removed after (sdk.artifacts.swap_in). Only an
earlier dayzero export (it carries dayzero_export.json) is ever replaced, and only with `overwrite`. Checks:

- logits: the reloaded merged model on a probe batch equals base+adapter (peft, unmerged) within the
  recipe's tolerance (fp32 merges measure ~4e-7);
- template: the saved tokenizer renders the probe conversations exactly as the training tokenizer did;
- eos: generation_config.json's eos ids include every end-of-turn token of the template;
- QLoRA / 8-bit runs (rule Q003): the adapter is merged into the full-precision base, never the quantized
  one; the merge is checked exactly as above, then against the quantized base + adapter (and the trained
  model's probe) within `sdk.quantize`'s 4-bit tolerance. An adapter-only export records the quantization
  so that `dayzero serve` loads its base the same way.

A failed check raises ExportError with the numbers.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dayzero.atomic import atomic_write_text
from dayzero.errors import ExportError, Where

from .artifacts import EXPORT_MANIFEST, check_export_target, clean_stale_partials, partial_name, swap_in
from .export_vision import VisionProbe, save_adapter_processor, trained_image_tensors
from .modelfile import modelfile
from .plan import Plan
from .runinfo import quiet_library_deprecations, read_run_json
from .runlock import settle_status
from .write_errors import writing

PROBE_CONVERSATIONS: list[list[dict[str, str]]] = [
    [{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hi, how can I help?"}],
    [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is two plus two?"},
        {"role": "assistant", "content": "Four."},
    ],
]


def export_provenance(plan: Plan) -> dict[str, Any]:
    """What an export records of the family it was made from: `serve` warns when the registry's entry changed
    since (`family_hash`) and serves with the recorded view, checkpoint overrides included."""
    return {
        "family": plan.model.family,
        "family_revision": plan.model.family_revision,
        "family_hash": plan.view.family_hash,
        "registry_version": plan.view.registry_version,
        "checkpoint": plan.view.checkpoint,
        "view": plan.view.model_dump(mode="json", by_alias=True),
    }


@dataclass
class ExportReport:
    out: Path
    merged: bool
    max_logit_diff: float | None = None
    tolerance: float | None = None
    eos_token_ids: list[int] = field(default_factory=list)
    lint: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # QLoRA / 8-bit runs: the base's quantization, and the merged export against the quantized model + adapter
    quantization: dict[str, Any] | None = None
    quantized_relative_error: float | None = None  # ||merged - quantized|| / ||quantized||, checked
    quantized_tolerance: float | None = None
    quantized_max_logit_diff: float | None = None  # for the record
    vision: dict[str, Any] | None = None  # a vision-language export: its image-probe check and processor classes

    def as_dict(self) -> dict[str, Any]:
        return {"vision": self.vision,
            "out": str(self.out), "merged": self.merged, "max_logit_diff": self.max_logit_diff,
            "tolerance": self.tolerance, "eos_token_ids": self.eos_token_ids, "lint": self.lint, "files": self.files,
            "quantization": self.quantization, "quantized_relative_error": self.quantized_relative_error,
            "quantized_tolerance": self.quantized_tolerance, "quantized_max_logit_diff": self.quantized_max_logit_diff,
        }


def export(
    run_dir: str | Path, *, out: str | Path | None = None, merge: bool | None = None, overwrite: bool = False
) -> ExportReport:
    """Export `run_dir/final` to `out` (default: the plan's export dir); see the module docstring.

    `out` may be absent, empty, or (with `overwrite`) an earlier dayzero export; anything else is refused
    before any work is done (sdk.artifacts.check_export_target).
    """
    run_dir = Path(run_dir)
    info = read_run_json(run_dir)
    settle_status(run_dir)
    plan = _recorded_plan(info, run_dir)
    final = run_dir / "final"
    if not final.is_dir():
        raise ExportError("the run has no trained result (final/ is missing); train it first", where=Where(file=str(run_dir)))
    is_peft = plan.adapter.peft_config is not None
    if merge is False and not is_peft:
        raise ExportError(
            f"an adapter-only export needs a peft adapter; this run trained `{plan.adapter.kind}` weights",
            hint="export the full weights (drop --adapter-only)",
        )
    merge = plan.export.merge if merge is None else merge
    merge = merge or not is_peft
    out = Path(out) if out else _default_out(plan, run_dir)
    recipe_dir = Path(info.get("recipe_base_dir", "."))
    check_export_target(out, overwrite=overwrite, recipe_dir=recipe_dir)
    with writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_partials(out)
        tmp = partial_name(out)
        try:
            tmp.mkdir()  # a read-only or full destination fails here, before any model is loaded
            from .loading import model_dir

            base = model_dir(plan, run_dir, recipe_dir)
            with quiet_library_deprecations():
                if merge:
                    report = _export_merged(plan, base, final, tmp, is_peft)
                else:
                    report = _export_adapter(plan, base, final, tmp)
            report.files = sorted(p.name for p in tmp.iterdir())
            manifest = {**report.as_dict(), "out": str(out), "run_dir": str(run_dir.resolve()), **export_provenance(plan)}
            atomic_write_text(tmp / EXPORT_MANIFEST, json.dumps(manifest, indent=2) + "\n")
            check_export_target(out, overwrite=overwrite, recipe_dir=recipe_dir)  # again: nothing appeared meanwhile
            swap_in(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    report.out = out
    return report


def _recorded_plan(info: dict[str, Any], run_dir: Path) -> Plan:
    """The Plan run.json recorded; one from another dayzero version (no family view, say) is a clear error."""
    from pydantic import ValidationError

    try:
        return Plan.model_validate(info.get("plan"))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = "plan." + ".".join(str(p) for p in first["loc"])
        raise ExportError(
            f"run.json's plan does not fit this dayzero version ({first['msg'].lower()})",
            where=Where(file=str(run_dir / "run.json"), field=field),
            hint="run the recipe again with this version (`dayzero run RECIPE --overwrite`)",
        ) from None


def _default_out(plan: Plan, run_dir: Path) -> Path:
    """The plan's export dir; the default one (`<run dir>/export`) follows the run dir wherever it was given."""
    planned = Path(plan.export.out)
    if planned == Path(plan.run_dir) / "export":  # the default, not a folder the recipe named
        return run_dir / "export"
    return planned


def _load_base(plan: Plan, base: Path) -> Any:
    """The plan's loader class in the export's dtype (`Plan.export.dtype`: `auto` keeps the weights' own)."""
    from .loading import loader

    auto, kwargs = loader(plan, dtype=plan.export.dtype)
    return auto.from_pretrained(str(base), **kwargs)


def probe_batch(tokenizer: Any) -> tuple[list[str], dict[str, Any]]:
    """The probe conversations rendered by the tokenizer's template, and their padded token batch."""
    texts = []
    for conversation in PROBE_CONVERSATIONS:
        try:
            texts.append(tokenizer.apply_chat_template(conversation, tokenize=False))
        except Exception:  # a template that refuses system turns: the other probes still run
            continue
    if not texts:
        raise ExportError("the chat template rendered none of the probe conversations")
    side, tokenizer.padding_side = tokenizer.padding_side, "right"
    try:
        with _backend_settings_kept(tokenizer):
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    return texts, dict(batch)


@contextmanager
def _backend_settings_kept(tokenizer: Any) -> Iterator[None]:
    """Restore the Rust backend's padding and truncation after a padded call.

    transformers switches batch padding on in the backend for `padding=True` and leaves it on, and
    `save_pretrained` writes it into tokenizer.json: a tokenizer saved after a probe would pad every
    `encode_batch` (which dayzero's data preparation uses), so the next stage would train on pads.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    padding = backend.padding if backend is not None else None
    truncation = backend.truncation if backend is not None else None
    try:
        yield
    finally:
        if backend is not None:
            backend.no_padding()
            backend.no_truncation()
            if padding:  # the keys `backend.padding` reports are enable_padding's arguments
                backend.enable_padding(**padding)
            if truncation:
                backend.enable_truncation(**truncation)


def _logits(model: Any, batch: dict[str, Any]) -> Any:
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
    model.train(was_training)
    mask = batch["attention_mask"].bool().to(device)
    logits = out.logits.float()[mask] if out.logits.dim() == 3 else out.logits.float()
    return logits.cpu()


PROBE_FILE = "dayzero_probe.safetensors"


def _probe_inputs(tokenizer: Any) -> tuple[list[str], dict[str, Any]]:
    if getattr(tokenizer, "chat_template", None):
        return probe_batch(tokenizer)
    with _backend_settings_kept(tokenizer):  # an unpadded call resets the backend's own settings too
        return [], dict(tokenizer(["The quick brown fox jumps over the lazy dog."], return_tensors="pt"))


def save_probe(model: Any, tokenizer: Any, final: Path, *, write: bool = True, vision: Any = None) -> None:
    """Store the trained model's logits on the probe batch beside its weights (for the export check).

    A sharded model (FSDP2) computes its forward collectively: every rank calls this, one writes. A
    vision-language family (``vision``: its facts) adds the image probe (sdk/export_vision.py).
    """
    from safetensors.torch import save_file

    _, batch = _probe_inputs(tokenizer)
    tensors = {"input_ids": batch["input_ids"].contiguous(), "attention_mask": batch["attention_mask"].contiguous()}
    tensors["logits"] = _logits(model, batch).contiguous()
    if vision is not None:
        tensors.update(trained_image_tensors(vision, model, tokenizer))
    if not write:
        return
    tmp = final / f".{PROBE_FILE}.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, final / PROBE_FILE)


def _trained_logits(final: Path) -> tuple[dict[str, Any], Any] | None:
    if not (final / PROBE_FILE).is_file():
        return None
    from safetensors.torch import load_file

    tensors = load_file(str(final / PROBE_FILE))
    return {"input_ids": tensors["input_ids"], "attention_mask": tensors["attention_mask"]}, tensors["logits"]


def _export_merged(plan: Plan, base: Path, final: Path, tmp: Path, is_peft: bool) -> ExportReport:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(final))
    texts, batch = _probe_inputs(tokenizer)
    vision = VisionProbe.for_family(plan.view.family, tokenizer, final, base)  # None: a text family
    image_reference = None
    quantized = None
    if is_peft:
        from peft import PeftModel

        if plan.adapter.quantization:  # step 1 of 2: what the run trained, the quantized base + adapter
            quantized = _logits(_load_quantized(plan, base, final), batch)
        # step 2: the adapter merged into the full-precision base (never into the quantized one)
        model = PeftModel.from_pretrained(_load_base(plan, base), str(final))
        reference = _logits(model, batch)
        image_reference = vision.logits(model) if vision else None
        model = model.merge_and_unload()
    else:
        model = _load_base(plan, final)
        reference = _logits(model, batch)
        image_reference = vision.logits(model) if vision else None
    model.save_pretrained(str(tmp), max_shard_size=plan.export.max_shard_size, safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    vision_record = vision.save(tmp, tokenizer) if vision else None
    eos_ids = _write_generation_config(plan, base, tmp, tokenizer)

    reloaded = _load_base(plan, tmp)
    diff = float((_logits(reloaded, batch) - reference).abs().max())
    tol = plan.export.tolerance or _default_tolerance(model, reference)
    if not diff <= tol:
        raise ExportError(
            f"merged logits differ from base+adapter by {diff:.3g} on the probe batch (tolerance {tol:g})",
            hint="the merge is wrong for this architecture; export the adapter alone (`--adapter-only`)",
        )
    report = ExportReport(out=tmp, merged=True, max_logit_diff=diff, tolerance=tol)
    if vision is not None:  # the export's own processor and template, on an image prompt; and the trained model's
        report.vision = {**(vision_record or {}), **vision.check(reloaded, image_reference, tmp, tol)}
        if quantized is None:
            report.vision["trained_image_max_logit_diff"] = vision.check_trained(reloaded, final / PROBE_FILE, tol)
    trained = _trained_logits(final)
    if quantized is not None:
        q = plan.adapter.quantization or {}
        report.quantization = q
        report.quantized_tolerance = float(q["export_tolerance"])
        report.quantized_relative_error, report.quantized_max_logit_diff = _check_quantized(
            _logits(reloaded, batch), quantized, report.quantized_tolerance, "the quantized model + adapter")
        if trained is not None:  # the run's own quantized model, as it was in memory at the end of training
            error, _ = _check_quantized(
                _logits(reloaded, trained[0]), trained[1], report.quantized_tolerance, "the trained model")
            report.quantized_relative_error = max(report.quantized_relative_error, error)
    elif trained is not None:  # the run's own model, as it was in memory at the end of training
        trained_diff = float((_logits(reloaded, trained[0]) - trained[1]).abs().max())
        if not trained_diff <= tol:
            raise ExportError(
                f"the export differs from the trained model by {trained_diff:.3g} on the probe batch (tolerance {tol:g})",
                hint="the adapter does not reload as it was trained (PiSSA/OFT init?); export with --adapter-only",
            )
        report.max_logit_diff = max(diff, trained_diff)
    _check_template(tokenizer, tmp, texts)
    if plan.export.ollama and tokenizer.chat_template:
        atomic_write_text(tmp / "Modelfile", modelfile(plan.view, plan.template.stop_strings))
    _check_files(plan, tmp)
    report.eos_token_ids = eos_ids
    return report


def _load_quantized(plan: Plan, base: Path, final: Path) -> Any:
    """The base quantized as in training (the plan's BitsAndBytesConfig) with the trained adapter on it."""
    from peft import PeftModel

    from .loading import load_model

    return PeftModel.from_pretrained(load_model(base, plan), str(final))


def _check_quantized(merged: Any, quantized: Any, tolerance: float, what: str) -> tuple[float, float]:
    """Relative L2 error of the merged logits against `what` (see sdk.quantize), and max |diff| for the record."""
    error = float((merged - quantized).norm() / quantized.norm().clamp_min(1e-12))
    if not error <= tolerance:
        raise ExportError(
            f"the full-precision merge differs from {what} by a relative L2 error of {error:.3g} on the probe "
            f"batch (4-bit tolerance {tolerance:g})",
            hint="the adapter does not fit the full-precision base; serve the adapter on the quantized base "
            "(`dayzero export RUN --adapter-only`)",
        )
    return error, float((merged - quantized).abs().max())

def _check_files(plan: Plan, tmp: Path) -> None:
    """Every file the family says an export holds (`export.files`; `model.safetensors` matches shards)."""
    present = {p.name for p in tmp.iterdir()}
    sharded = any(name.startswith("model-") and name.endswith(".safetensors") for name in present)
    missing = [f for f in plan.export.files if f not in present and not (f == "model.safetensors" and sharded)]
    if missing:
        raise ExportError(
            f"the export lacks {missing}, which the family's `export.files` requires",
            hint="the tokenizer or weights did not save as the family expects; see `dayzero registry show`",
        )


def _default_tolerance(model: Any, reference: Any) -> float:
    """1e-5 for fp32 weights; for 16-bit weights 3% of the largest probe logit (merging rounds W + BA to the
    weight dtype: a tiny bf16 model measured 0.6% of its largest logit)."""
    import torch

    if model.dtype == torch.float32:
        return 1e-5
    return 3e-2 * max(1.0, float(reference.abs().max()))


def _write_generation_config(plan: Plan, base: Path, tmp: Path, tokenizer: Any) -> list[int]:
    """generation_config.json whose eos ids are the family's generation eos plus the template's stops."""
    from transformers import GenerationConfig

    try:
        gen = GenerationConfig.from_pretrained(str(base))
    except OSError:
        gen = GenerationConfig()
    vocab = tokenizer.get_vocab()
    wanted = plan.template.stop_tokens  # the one stop set (FamilyView.stop_tokens): generation eos, then end-of-turn
    missing_stops = [t for t in plan.template.end_of_turn if t not in vocab]
    if missing_stops:
        raise ExportError(f"end-of-turn tokens {missing_stops} are not in the tokenizer's vocabulary")
    ids: list[int] = []
    for token in wanted:
        if token in vocab and vocab[token] not in ids:
            ids.append(vocab[token])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    gen.eos_token_id = ids
    gen.pad_token_id = tokenizer.pad_token_id
    gen.save_pretrained(str(tmp))
    saved = GenerationConfig.from_pretrained(str(tmp)).eos_token_id
    saved = saved if isinstance(saved, list) else [saved]
    stops = {vocab[t] for t in plan.template.end_of_turn}
    if not stops <= set(saved):
        raise ExportError(f"generation_config eos ids {saved} miss the template's end-of-turn ids {sorted(stops)}")
    return ids


def _check_template(tokenizer: Any, tmp: Path, texts: list[str]) -> None:
    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(str(tmp))
    if (saved.chat_template or None) != (tokenizer.chat_template or None):
        raise ExportError("the saved tokenizer lost the training chat template")
    renders = []
    for conversation in PROBE_CONVERSATIONS:
        try:
            renders.append(saved.apply_chat_template(conversation, tokenize=False))
        except Exception:
            continue
    if renders != texts:
        first = next((i for i, (a, b) in enumerate(zip(renders, texts, strict=False)) if a != b), len(texts))
        raise ExportError(f"the saved tokenizer renders probe conversation {first} differently from training")


def _export_adapter(plan: Plan, base: Path, final: Path, tmp: Path) -> ExportReport:
    from transformers import AutoConfig, AutoTokenizer

    tmp.mkdir(parents=True, exist_ok=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        if not (final / name).is_file():
            raise ExportError(f"the run's final/ has no {name}", where=Where(file=str(final)))
        shutil.copy2(final / name, tmp / name)
    tokenizer = AutoTokenizer.from_pretrained(str(final))
    tokenizer.save_pretrained(str(tmp))
    vision = plan.view.family.vision
    record = None
    if vision is not None:  # served from the adapter folder: it carries the processor files too
        record = save_adapter_processor(vision, tokenizer, tmp, final, base)
    from .serve.vllm_lint import lint_adapter_dir

    base_config = AutoConfig.from_pretrained(str(base))
    base_vocab = getattr(base_config.get_text_config(), "vocab_size", None)
    # The one vLLM lint (serving refuses on the same problems); reported here, not raised: the
    # adapter is still a valid PEFT export for the hf back end and for merging.
    problems = lint_adapter_dir(tmp, plan.view.family, base_vocab)
    # A QLoRA adapter is served on its base quantized the same way (dayzero serve reads this from the export).
    return ExportReport(out=tmp, merged=False, lint=[str(p) for p in problems], quantization=plan.adapter.quantization,
                        vision=record)

