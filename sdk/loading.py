"""Model and tokenizer loading: Hugging Face Hub, ModelScope, a local directory, or a tiny synthetic model.

Safety defaults: `trust_remote_code` is off and only safetensors weights load (`use_safetensors=True`:
unpickling `.bin` weights runs code) unless the recipe asks for either by name. Downloads go through
`huggingface_hub.snapshot_download` / `modelscope.snapshot_download` so that the hub's offline mode
and cache apply; a later load reads the local snapshot.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dayzero.errors import RecipeError, Where

from .plan import Plan
from .runinfo import rank

# Files a causal-LM snapshot needs; pickle weights are added only when the recipe allows them.
_SNAPSHOT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.tiktoken", "*.txt", "*.jinja", "*.py"]


def model_dir(plan: Plan, work_dir: Path, base_dir: Path | None = None) -> Path:
    """A local directory holding the base model: downloaded, synthesised (tiny) or given."""
    m = plan.model
    if m.source == "tiny":
        target = work_dir / "base"
        if not (target / "config.json").is_file():
            if rank() == 0:
                from dayzero.sdk.tiny import save_tiny

                save_tiny(plan.view.family, target)  # written under a temporary name, then renamed
            else:
                _wait_for(target / "config.json")
        return target
    if m.source == "local":
        path = Path(m.id).expanduser()  # relative to the recipe's folder (sdk.recipe.model.local_path)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not (path / "config.json").is_file():
            raise RecipeError(f"no config.json in local model directory {path}", where=Where(field="model.id"))
        return path
    patterns = [*_SNAPSHOT_PATTERNS, *(["*.bin", "*.pt"] if not m.use_safetensors else [])]
    if not m.trust_remote_code:
        patterns.remove("*.py")
    try:
        if m.source == "modelscope":
            from modelscope import snapshot_download as ms_download

            # ModelScope has no offline switch of its own: HF_HUB_OFFLINE (set in tests, and by users offline)
            # turns on its local_files_only, which reads MODELSCOPE_CACHE's snapshots.
            offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
            cache = os.environ.get("MODELSCOPE_CACHE")  # read per call: modelscope reads it once, at import
            return Path(
                ms_download(m.id, revision=m.revision, allow_patterns=patterns, local_files_only=offline, cache_dir=cache)
            )
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(m.id, revision=m.revision, allow_patterns=patterns))
    except Exception as exc:  # hub errors (LocalEntryNotFoundError, HTTP errors, modelscope's HubError...)
        raise RecipeError(
            f"cannot fetch {m.id!r} from {m.source}: {exc}",
            where=Where(field="model.id"),
            hint="check the id and revision, log in for gated models, or point `model.id` at a local directory",
        ) from None


def _wait_for(path: Path, timeout_s: float = 300.0) -> None:
    """Other ranks of a distributed run wait for rank 0 to write the tiny base."""
    import time

    deadline = time.monotonic() + timeout_s
    while not path.is_file():
        if time.monotonic() > deadline:
            raise RecipeError(f"timed out waiting for rank 0 to write {path}")
        time.sleep(0.2)


def load_tokenizer(path: Path, plan: Plan) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=plan.model.trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def quantization_config(plan: Plan) -> Any:
    """A BitsAndBytesConfig for the plan's quantization, or None (see `sdk.quantize`)."""
    from .quantize import bnb_config

    return bnb_config(plan.adapter.quantization)


def loader(plan: Plan, dtype: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The plan's transformers auto class and its `from_pretrained` arguments (``dtype`` overrides the plan's)."""
    import torch
    import transformers

    m = plan.model
    dtype = dtype or m.dtype
    kwargs: dict[str, Any] = {
        "trust_remote_code": m.trust_remote_code,
        "use_safetensors": m.use_safetensors,
        "dtype": "auto" if dtype == "auto" else getattr(torch, dtype),
        **m.load_kwargs,
    }
    return getattr(transformers, m.loader), kwargs


def load_model(path: Path, plan: Plan, tokenizer: Any = None) -> Any:
    """The base model as the plan's loader class (a causal LM, or a 1-label classifier for reward models)."""
    import torch

    m = plan.model
    auto, kwargs = loader(plan)
    quant = quantization_config(plan)
    if quant is not None:
        kwargs["quantization_config"] = quant
        # bitsandbytes quantizes while the weights are placed: on a CPU machine they are placed on the CPU
        kwargs["device_map"] = None if plan.runtime.get("cuda") else "cpu"
    if m.use_safetensors and not any(path.glob("*.safetensors")):
        raise RecipeError(
            f"{path} has no safetensors weights, and pickle weights are off (unpickling runs code)",
            where=Where(field="model.allow_pickle"),
            hint="convert the weights to safetensors, or set `model.allow_pickle: true` if you trust the source",
        )
    model = auto.from_pretrained(str(path), **kwargs)
    if not plan.runtime.get("cuda") and model.dtype in (torch.float16, torch.bfloat16) and quant is None:
        model = model.float()  # CPU training in half precision is slow and loses the small updates
    if tokenizer is not None and getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model
