"""Serving: an OpenAI-compatible server and the vLLM launch path, driven by the registry.

>>> from dayzero.sdk import serve
>>> service = serve.load_service("runs/quickstart")        # MODEL_DIR | ADAPTER_DIR | RUN_DIR | RECIPE
>>> app = serve.create_app(service, api_key=None)           # FastAPI; run it with uvicorn
>>> serve.vllm_command(serve.find_target("runs/quickstart"))  # [python, '-m', 'vllm...api_server', ...]

Importing this package imports neither torch nor transformers; loading a model does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .api_errors import ApiError
from .app import ServerThread, create_app, serve_forever
from .formatting import ChatFormatting
from .hf_backend import HFBackend, ProcessorFactory, SamplingParams
from .model_dir import ServeTarget, find_target
from .service import ModelService
from .vllm_cmd import build_vllm_command, plan_vllm_command, vllm_command
from .vllm_lint import LoraProblem, lint_adapter, lint_adapter_dir, lint_lora, max_lora_rank

__all__ = [
    "ApiError",
    "ChatFormatting",
    "HFBackend",
    "LoraProblem",
    "ModelService",
    "SamplingParams",
    "ServeTarget",
    "ServerThread",
    "build_vllm_command",
    "create_app",
    "find_target",
    "lint_adapter",
    "lint_adapter_dir",
    "lint_lora",
    "load_service",
    "max_lora_rank",
    "plan_vllm_command",
    "serve_forever",
    "service_for",
    "vllm_command",
]


def service_for(
    target: ServeTarget,
    *,
    merge: bool = False,
    device: str | None = None,
    default_max_tokens: int = 1024,
    logits_processor_factory: ProcessorFactory | None = None,
    allow_pickle: bool = False,
    adapters: Sequence[tuple[str, Path]] = (),
) -> ModelService:
    """Load ``target`` with the hf back end and bind the family's formatting to it.

    ``adapters``: more LoRA adapters (NAME, DIR) on the same base (multi-LoRA), routed by the request's
    `model` as vLLM does: the base answers under its directory's name, ``target``'s own adapter (if any)
    under ``target.name``, each of ``adapters`` under its NAME.

    Generation stops on the view's stop tokens (`FamilyView.stop_tokens`: `serving.generation_eos` and
    the end-of-turn tokens). The prompt is rendered with the model's own chat template when its
    tokenizer carries one (the template it was trained with, as `dayzero run` does), else with the
    family's format, checkpoint overrides applied. Refused before loading: pickle-only weights unless
    ``allow_pickle``, and reward models (`guards.py`); refused after: a template that fails the
    start-up probe (`templates/probe.py`). A vision-language family (`vision:` in its file) loads with its
    `vision.processor.auto_class` and serves image parts through `sdk.vision_inputs`.
    """
    from dayzero.sdk.templates.probe import probe

    from .guards import check_servable

    check_servable(target.model_dir, target.adapter_dir, allow_pickle=allow_pickle)
    named = _named_adapters(target, adapters)
    for _, path in named.values():
        check_servable(target.model_dir, Path(path), allow_pickle=allow_pickle)
    vision = target.family.vision
    backend = HFBackend.load(
        target.model_dir, target.view.stop_tokens, adapter_dir=target.adapter_dir, merge=merge, device=device,
        logits_processor_factory=logits_processor_factory, allow_pickle=allow_pickle, quantization=target.quantization,
        adapters=[(key, Path(path)) for key, path in named.values()],
        auto_class=vision.processor.auto_class if vision is not None else "AutoModelForCausalLM",
    )
    source = getattr(backend.tokenizer, "chat_template", None)
    formatting = ChatFormatting.for_view(
        target.view, chat_template=source if isinstance(source, str) else None, tokenizer=backend.tokenizer
    )
    probe(formatting.render, f"the chat template of {target.adapter_dir or target.model_dir}")
    encoder = None
    if vision is not None:  # image parts: the processor saved with the export (an adapter's own first)
        from dayzero.sdk.vision_inputs import VisionEncoder

        encoder = VisionEncoder.load(vision, target.processor_dir, backend.tokenizer, config_dir=target.model_dir)
    if named:
        return ModelService(backend, formatting, model_name=_base_name(target), default_max_tokens=default_max_tokens,
                            root=str(target.model_dir), adapters=named, vision=encoder)
    return ModelService(backend, formatting, model_name=target.name, default_max_tokens=default_max_tokens,
                        root=str(target.adapter_dir or target.model_dir), vision=encoder)


def _base_name(target: ServeTarget) -> str:
    """The base's served name with several adapters: its directory's (as vLLM names it) when ``target`` is an
    adapter, else the target's own name."""
    return target.model_dir.name if target.adapter_dir is not None else target.name


def _named_adapters(target: ServeTarget, adapters: Sequence[tuple[str, Path]]) -> dict[str, tuple[str, str]]:
    """Served name -> (adapter name in the model, directory), for multi-LoRA; empty for one model."""
    if not adapters:
        return {}
    from dayzero.errors import ServeError, Where

    named: dict[str, tuple[str, str]] = {}
    if target.adapter_dir is not None:
        named[target.name] = ("adapter-0", str(target.adapter_dir))
    for k, (name, path) in enumerate(adapters, start=len(named)):
        if name in named or name == _base_name(target):
            raise ServeError(f"--adapter name {name!r} is already served", where=Where(field="--adapter"),
                             hint=f"names in use: {[_base_name(target), *named]}")
        named[name] = (f"adapter-{k}", str(Path(path).resolve()))
    return named


def load_service(spec: str | Path, *, family: str | None = None, name: str | None = None, **kwargs: Any) -> ModelService:
    """`find_target` then `service_for`: a MODEL_DIR, ADAPTER_DIR, RUN_DIR or RECIPE, ready to serve."""
    return service_for(find_target(spec, family=family, name=name), **kwargs)
