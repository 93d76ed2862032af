"""Day-0 at scale: draft the architecture section of every causal LM the installed transformers knows.

For each `model_type -> class` of `MODEL_FOR_CAUSAL_LM_MAPPING_NAMES`, day0's own logic
(`day0.walk_architecture`) instantiates the real class from its default config shrunk to a tiny
instance and reads the layer list, attention / MLP / MoE layout and LoRA presets off it; then one
LoRA step (peft, the drafted `all-linear` targets, one forward + backward + optimizer step on random
ids) must run with a finite loss and move the adapter weights. What does not draft or train is
listed with the exception's first line: that is the reason.

Text architectures are those whose config class has no vision / audio / speech sub-config (set, or
declared in its `sub_configs`); the others are listed but counted apart (a tiny multimodal instance
needs more than a text config). `NOT_TEXT` lists the few text-config classes that are no text causal
LM, with the reason; they are counted apart too.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

_MULTIMODAL_KEYS = (
    "vision_config",
    "audio_config",
    "speech_config",
    "vq_config",
    "image_size",
    "vision_tower",
)


NOT_TEXT = {
    "musicgen": "decodes EnCodec audio codebooks (its ids are audio codes in parallel streams): an audio model",
    "musicgen_melody": "decodes EnCodec audio codebooks conditioned on a melody: an audio model",
}
"""model_type -> why a causal-LM class with a text-only config is no text causal LM (counted apart)."""


@dataclass
class SweepRow:
    model_type: str
    architecture: str
    text: bool
    drafted: bool
    trained: bool
    targets: list[str]
    reason: str | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def causal_lm_classes() -> dict[str, str]:
    """model_type -> class name, as the installed transformers maps causal LMs."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return dict(sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.items()))


def _is_text(model_type: str) -> bool:
    from transformers import AutoConfig

    try:
        cfg = AutoConfig.for_model(model_type)
    except Exception:  # a config that cannot even be built: judged as text, and reported by the draft step
        return True
    declared = (
        getattr(type(cfg), "sub_configs", None) or {}
    )  # a tower the class declares, even if unset by default
    return not any(getattr(cfg, key, None) is not None or key in declared for key in _MULTIMODAL_KEYS)


def _one_lora_step(model_type: str, arch: str, section: dict[str, Any]) -> None:
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig

    targets = section["lora"]["all-linear"]
    if not targets:
        raise RuntimeError("no LoRA targets drafted (no Linear layer found in a decoder layer)")
    torch.manual_seed(0)
    model = getattr(transformers, arch)(AutoConfig.for_model(model_type, **section["tiny"]))
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=targets, lora_dropout=0.0)
    )
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in trainable]
    opt = torch.optim.AdamW(trainable, lr=1e-2)
    vocab = int(getattr(model.config, "vocab_size", None) or section["tiny"]["vocab_size"])
    ids = torch.randint(3, min(vocab, 500), (2, 16))
    out = peft_model(
        input_ids=ids, labels=ids, use_cache=False
    )  # training: no cache (hybrid linear attention)
    loss = out.loss
    if loss is None or not torch.isfinite(loss):
        raise RuntimeError(f"loss is {loss}")
    loss.backward()
    opt.step()
    if not any(not torch.equal(a, b.detach()) for a, b in zip(before, trainable, strict=True)):
        raise RuntimeError("the LoRA step moved no adapter weight")


MAX_TINY_PARAMETERS = 60_000_000


def _default_config(model_type: str) -> dict[str, Any]:
    from transformers import AutoConfig

    try:
        return AutoConfig.for_model(model_type).to_dict()
    except Exception:
        return {}


def _meta_parameters(model_type: str, arch: str) -> int:
    """Parameter count of day0's tiny instance, built on the meta device (no memory)."""
    import torch
    import transformers
    from transformers import AutoConfig

    from .day0 import tiny_config

    defaults = {**_default_config(model_type), "model_type": model_type}
    with torch.device("meta"):
        model = getattr(transformers, arch)(AutoConfig.for_model(model_type, **tiny_config(defaults)))
    return sum(p.numel() for p in model.parameters())


def sweep_one(model_type: str, arch: str) -> SweepRow:
    """Draft (architecture section) and one LoRA step for one architecture; never raises."""
    from .day0 import walk_architecture

    start = time.perf_counter()
    drafted, trained, targets, reason = False, False, [], None
    if model_type in NOT_TEXT:
        return SweepRow(
            model_type,
            arch,
            False,
            drafted,
            trained,
            targets,
            f"not a text model: {NOT_TEXT[model_type]}",
            0.0,
        )
    text = _is_text(model_type)
    if not text:  # its default config builds a full-size vision / audio tower: not a tiny instance
        reason = (
            "multimodal config (vision/audio sub-config): not swept; a tiny instance needs a tiny tower too"
        )
        return SweepRow(model_type, arch, text, drafted, trained, targets, reason, 0.0)
    try:
        too_big = _meta_parameters(model_type, arch)
        if too_big > MAX_TINY_PARAMETERS:
            raise RuntimeError(
                f"the shrunk config still has {too_big / 1e6:.0f}M parameters (sub-configs or "
                "non-standard size keys that day0's tiny sizes do not reach)"
            )
        # the default config's own keys (expert counts, per-head sizes) are what day0 shrinks, as for a release
        section = walk_architecture(
            {**_default_config(model_type), "architectures": [arch], "model_type": model_type}
        )
        drafted, targets = True, list(section["lora"]["all-linear"])
        _one_lora_step(model_type, arch, section)
        trained = True
    except Exception as exc:  # the reason is the result
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:240] if str(exc).strip() else ''}"
    return SweepRow(
        model_type, arch, text, drafted, trained, targets, reason, round(time.perf_counter() - start, 2)
    )


def summarize(rows: list[SweepRow]) -> dict[str, Any]:
    text = [r for r in rows if r.text]
    ok = [r for r in text if r.drafted and r.trained]
    return {
        "architectures": len(rows),
        "text_architectures": len(text),
        "text_drafted_and_trained": len(ok),
        "text_share": round(len(ok) / len(text), 4) if text else 0.0,
        "multimodal_drafted_and_trained": sum(r.drafted and r.trained for r in rows if not r.text),
        "failures": {
            f"{r.model_type} ({r.architecture})": r.reason for r in rows if not (r.drafted and r.trained)
        },
    }


def sweep_markdown(result: dict[str, Any]) -> str:
    """The sweep as a page of the support matrix (`conformance/reports/day0-sweep.md`)."""
    s = result["summary"]
    lines = [
        "# Day-0 sweep",
        "",
        f"transformers {result.get('transformers')}: every `MODEL_FOR_CAUSAL_LM_MAPPING_NAMES` architecture, its "
        "default config shrunk to day0's tiny sizes, drafted (`day0.walk_architecture`) and trained one LoRA step "
        "(`benchmarks/day0_sweep.py`).",
        "",
        f"**{s['text_drafted_and_trained']} of {s['text_architectures']} text architectures "
        f"({100 * s['text_share']:.1f} %) draft and train**; {s['architectures']} architectures in all.",
        "",
        "| model_type | class | text | drafted | trained | LoRA targets / reason |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        what = ", ".join(r["targets"]) if r["trained"] else (r["reason"] or "").replace("|", "\\|")
        lines.append(
            f"| {r['model_type']} | {r['architecture']} | {'yes' if r['text'] else 'no'} | "
            f"{'yes' if r['drafted'] else 'no'} | {'yes' if r['trained'] else 'no'} | {what} |"
        )
    from .tiny_config import PER_ARCHITECTURE

    lines += [
        "",
        "## Per-architecture entries",
        "",
        "Config overrides no generic rule of `conformance/tiny_config.py` gives, each with its reason:",
        "",
    ]
    lines += [
        f"- `{mt}`: `{overrides}`: {reason}" for mt, (overrides, reason) in sorted(PER_ARCHITECTURE.items())
    ]
    lines += ["", "Causal-LM classes with a text-only config that are no text model (counted apart):", ""]
    lines += [f"- `{mt}`: {reason}" for mt, reason in sorted(NOT_TEXT.items())]
    return "\n".join(lines) + "\n"


def sweep_html(result: dict[str, Any]) -> str:
    """The sweep as an HTML page beside the matrix (`day0-sweep.html`): the same table, rows filterable by outcome."""
    import html

    s = result["summary"]
    esc = html.escape
    rows = []
    for r in result["rows"]:
        outcome = "trained" if r["trained"] else ("failed" if r["text"] else "not-text")
        what = ", ".join(r["targets"]) if r["trained"] else (r["reason"] or "")
        rows.append(
            f'<tr id="{esc(r["model_type"])}" class="{outcome}"><td>{esc(r["model_type"])}</td>'
            f"<td>{esc(r['architecture'])}</td><td>{'yes' if r['text'] else 'no'}</td>"
            f"<td>{'yes' if r['drafted'] else 'no'}</td><td>{'yes' if r['trained'] else 'no'}</td>"
            f"<td>{esc(what)}</td></tr>"
        )
    style = (
        "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}table{border-collapse:collapse;"
        "font-size:.85rem}th,td{border:1px solid #ccc;padding:.2rem .4rem;text-align:left}"
        ".trained td:nth-child(5){background:#d9f2d9}.failed td:nth-child(5){background:#f7d4d4}"
        ".not-text{color:#888}#f-failed:checked~table tbody tr:not(.failed),"
        "#f-trained:checked~table tbody tr:not(.trained){display:none}"
    )
    filters = "".join(
        f'<input type="radio" name="filter" id="f-{k}"{" checked" if k == "all" else ""}><label for="f-{k}">{v}</label> '
        for k, v in (("all", "all"), ("trained", "drafted and trained"), ("failed", "text, not trained"))
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>dayzero day-0 sweep</title>'
        f"<style>{style}</style></head><body>\n<h1>Day-0 sweep</h1>"
        f'<p><a href="index.html">support matrix</a>; transformers {esc(str(result.get("transformers")))}: every '
        "<code>MODEL_FOR_CAUSAL_LM_MAPPING_NAMES</code> architecture, its default config shrunk to a tiny instance, "
        "drafted and trained one LoRA step (<code>benchmarks/day0_sweep.py</code>).</p>\n"
        f'<p id="summary"><b>{s["text_drafted_and_trained"]} of {s["text_architectures"]} text architectures '
        f"({100 * s['text_share']:.1f} %) draft and train</b>; {s['architectures']} architectures in all.</p>\n"
        f"<div>{filters}\n<table><thead><tr><th>model_type</th><th>class</th><th>text</th><th>drafted</th>"
        f"<th>trained</th><th>LoRA targets / reason</th></tr></thead>\n<tbody>\n{chr(10).join(rows)}\n"
        "</tbody></table></div>\n</body></html>\n"
    )
