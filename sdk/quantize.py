"""bitsandbytes quantization: the plan's quantization section, the config it becomes, and what it did.

QLoRA (4-bit NF4/FP4, optional double quantization) and 8-bit LoRA run wherever bitsandbytes runs:
CUDA, and since bitsandbytes 0.45 the CPU too (its slow pure-PyTorch path; the fast CPU kernel is
fetched from a hub and is not needed). What stays in full precision is a family fact:
`quantization.skip_modules` (lm_head, MoE routers: `llm_int8_skip_modules`) and
`quantization.not_quantized` (weights that are not nn.Linear, such as fused 3-D expert parameters,
which bitsandbytes does not touch). Both are shown in the plan and checked on the tiny instances.

After QLoRA the export is two steps (rule Q003): the adapter is merged into the full-precision base
(checked exactly against full-precision base + adapter), and the merged model is compared with the
quantized model + adapter it was trained as, within `FOUR_BIT_TOLERANCE`.
"""

from __future__ import annotations

import importlib
from typing import Any

# Tolerance of the merged export against the quantized model + adapter it was trained as, as a relative
# L2 error of the probe logits: ||merged - quantized|| / ||quantized|| <= FOUR_BIT_TOLERANCE. NF4 rounds each
# weight to one of 16 levels per block of 64 and the adapter learns on top of those rounded weights, so the
# full-precision merge differs by the quantization error. Measured: 0.043-0.227 on the 19 tiny instances after
# 8 conformance steps (gemma3 the largest), 0.145 on the quickstart after 100 steps (there max |diff| was 26% of
# the largest logit, argmax agreement 88%, KL 3e-4). The max |diff| alone is dominated by
# single outlier logits; the L2 error is what a served model's behaviour follows. 8-bit is tighter.
FOUR_BIT_TOLERANCE = 0.25
EIGHT_BIT_TOLERANCE = 0.1

QUANT_METHODS = ("bnb-4bit", "bnb-8bit")


def bitsandbytes_importable() -> bool:
    """Whether `import bitsandbytes` works here (installed, and its native library loads)."""
    import logging

    # Its CPU backend warns at import that an optional hub kernel (`kernels`) is missing: the slow path
    # works without it, and a user can do nothing about it, so the warning is not shown.
    cpu_ops = logging.getLogger("bitsandbytes.backends.cpu.ops")
    level = cpu_ops.level
    cpu_ops.setLevel(logging.ERROR)
    try:
        importlib.import_module("bitsandbytes")
    except Exception:  # ImportError, or a native library that fails to load (OSError, RuntimeError)
        return False
    finally:
        cpu_ops.setLevel(level)
    return True


def quantization_plan(method: Any, family: Any, cuda: bool, problems: list[str]) -> dict[str, Any] | None:
    """The plan's `adapter.quantization`: BitsAndBytesConfig arguments plus the family's facts about it."""
    if method.quantization == "none":
        return None
    facts = family.quantization
    if method.quantization not in facts.on_the_fly:
        why = f": {facts.note}" if facts.note else ""
        problems.append(f"[method.quantization] family {family.id} does not support {method.quantization}{why}")
    quant: dict[str, Any] = {"method": method.quantization, "llm_int8_skip_modules": list(facts.skip_modules)}
    if method.quantization == "bnb-4bit":
        compute = method.compute_dtype if method.compute_dtype != "auto" else ("bfloat16" if cuda else "float32")
        quant |= {
            "load_in_4bit": True,
            "bnb_4bit_quant_type": method.quant_type,
            "bnb_4bit_use_double_quant": method.double_quant,
            "bnb_4bit_compute_dtype": compute,
        }
    else:
        quant |= {"load_in_8bit": True}
    # Facts for readers of the plan (not passed to bitsandbytes): what stays in full precision, and why.
    quant["not_quantized"] = list(facts.not_quantized)
    if facts.note:
        quant["note"] = facts.note
    quant["export_tolerance"] = FOUR_BIT_TOLERANCE if method.quantization == "bnb-4bit" else EIGHT_BIT_TOLERANCE
    return quant


_FACT_KEYS = ("method", "not_quantized", "note", "export_tolerance")


def bnb_config(quant: dict[str, Any] | None) -> Any:
    """A transformers BitsAndBytesConfig for the plan's quantization section, or None."""
    if not quant:
        return None
    from dayzero.errors import NotSupportedError

    if not bitsandbytes_importable():
        raise NotSupportedError(
            f"{quant['method']} quantization needs the bitsandbytes package, which is not importable here",
            hint="pip install bitsandbytes (dayzero declares it; CPU and CUDA builds are on PyPI)",
        )
    import torch
    from transformers import BitsAndBytesConfig

    kwargs = {k: v for k, v in quant.items() if k not in _FACT_KEYS}
    if "bnb_4bit_compute_dtype" in kwargs:
        kwargs["bnb_4bit_compute_dtype"] = getattr(torch, kwargs["bnb_4bit_compute_dtype"])
    return BitsAndBytesConfig(**kwargs)


def _is_bnb_linear(module: Any) -> bool:
    """bitsandbytes' own quantized Linear (not peft's LoRA wrapper of it, which shares the class name)."""
    cls = type(module)
    return cls.__name__ in ("Linear4bit", "Linear8bitLt") and cls.__module__.startswith("bitsandbytes")


def quantized_layout(model: Any, skip_modules: list[str], embeddings: str) -> dict[str, list[str]]:
    """Where a loaded model's weights went: quantized Linear layers, Linear layers kept in full precision,
    and other matrices (>= 2-D weights outside any Linear, such as fused experts) that stayed full precision."""
    import torch

    quantized, kept, other = [], [], []
    linear_params: set[str] = set()
    for name, module in model.named_modules():
        if _is_bnb_linear(module):
            quantized.append(name)
        elif isinstance(module, torch.nn.Linear):
            kept.append(name)
        else:
            continue
        linear_params.update(f"{name}.{p}" for p, _ in module.named_parameters(recurse=False))
    skip = tuple(skip_modules)
    for name, param in model.named_parameters():
        module = name.rsplit(".", 1)[0]
        if name in linear_params or param.dim() < 2 or module == embeddings:
            continue
        if any(module == s or module.endswith("." + s) or f".{s}." in f".{module}." for s in skip):
            continue  # a skipped module and what lies under it (a VLM's whole vision tower)
        other.append(name)
    return {"quantized": sorted(quantized), "full_precision_linear": sorted(kept), "full_precision_other": sorted(other)}
