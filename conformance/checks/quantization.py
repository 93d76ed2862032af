"""Quantization: the tiny instance loaded in 4 bits (bitsandbytes NF4) has every nn.Linear quantized
except `quantization.skip_modules`, and the weights that stay in full precision are exactly the ones
`quantization.not_quantized` declares (fused 3-D expert parameters are not nn.Linear).

The QLoRA train smoke itself is `train.qlora` (with the other train checks).
"""

from __future__ import annotations

from ..context import Context
from ..result import NotApplicable, Outcome
from .base import check


def _matches(name: str, suffix: str) -> bool:
    # the module itself, or one under it (skip_modules `visual` keeps a VLM's whole vision tower)
    return name == suffix or name.endswith("." + suffix) or f".{suffix}." in f".{name}."


@check("quantization.bnb-4bit-layout", "loaded in 4 bits, every nn.Linear outside `skip_modules` is quantized and "
       "what stays full precision is `not_quantized`")
def layout(ctx: Context) -> Outcome:
    facts = ctx.family.quantization
    if "bnb-4bit" not in facts.on_the_fly and not facts.not_quantized:
        raise NotApplicable("no bnb-4bit in quantization.on_the_fly and no `not_quantized` facts to check")
    ctx.require_class()
    import transformers

    from dayzero.sdk.quantize import bnb_config, quantized_layout
    from dayzero.sdk.tiny import save_tiny

    base = ctx.once("tiny_dir", lambda: save_tiny(ctx.family, ctx.workdir / "tiny-base"))
    skip = list(facts.skip_modules)
    config = bnb_config({"method": "bnb-4bit", "llm_int8_skip_modules": skip, "load_in_4bit": True,
                         "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
                         "bnb_4bit_compute_dtype": "float32"})
    vision = ctx.family.vision  # a VLM loads through its own auto class
    auto = getattr(transformers, vision.processor.auto_class if vision else "AutoModelForCausalLM")
    model = auto.from_pretrained(str(base), quantization_config=config, device_map="cpu")
    found = quantized_layout(model, skip, ctx.family.architecture.embeddings)
    problems = []
    unskipped = [n for n in found["full_precision_linear"] if not any(_matches(n, s) for s in skip)]
    if unskipped:
        problems.append(f"nn.Linear left in full precision outside skip_modules: {unskipped}")
    overridden = [n for n in found["quantized"] if any(_matches(n, s) for s in skip)]
    if overridden:  # bitsandbytes did not honour a skip name (transformers matches it from the name's start)
        problems.append(f"quantized although under skip_modules: {overridden}")
    undeclared = [n for n in found["full_precision_other"] if not any(_matches(n, d) for d in facts.not_quantized)]
    if undeclared:
        problems.append(f"weights left in full precision that `not_quantized` does not declare: {undeclared}")
    hits = {d: sum(_matches(n, d) for n in found["full_precision_other"]) for d in facts.not_quantized}
    absent = [d for d, n in hits.items() if not n]
    if absent:
        problems.append(f"`not_quantized` names weights that are not full-precision matrices here: {absent}")
    if not found["quantized"]:
        problems.append("no layer was quantized")
    summary = "; ".join(problems) or (
        f"{len(found['quantized'])} Linear layers in 4 bits; full precision: {', '.join(skip)}"
        + (f" (skip_modules) and {', '.join(facts.not_quantized)} (not nn.Linear)" if facts.not_quantized else
           " (skip_modules)"))
    evidence = {"quantized_linear": len(found["quantized"]),
                "full_precision_linear": sorted({n.rsplit(".", 1)[-1] for n in found["full_precision_linear"]}),
                "not_quantized_hits": hits}
    if facts.note:
        evidence["note"] = facts.note
    return Outcome(not problems, summary, evidence)
