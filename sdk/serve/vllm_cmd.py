"""The `vllm serve` command line for a model, built from the registry, and a lint for adapters.

vLLM lives in its own environment (it pins its own torch and transformers), so dayzero does not
import it: it writes the command line from the family's serving facts and, when a `vllm` executable
is on PATH, runs it. Flag names follow vLLM's own CLI (`vllm/entrypoints/openai/cli_args.py`,
`vllm/engine/arg_utils.py`, `vllm/config/lora.py`).

An adapter vLLM would refuse at load time (or worse, load and serve wrongly) is refused here, with
the family's serving constraint quoted: DoRA, modules_to_save, added tokens, a rank above the
largest `--max-lora-rank` bucket, target modules vLLM's model does not know.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dayzero.errors import ServeError, Where
from dayzero.registry import Family

from .model_dir import ServeTarget


def require_vllm_architecture(family: Family) -> str:
    arch = family.serving.vllm_architecture
    if not arch:
        raise ServeError(
            f"family `{family.id}` has no vLLM architecture (serving.vllm_architecture is null): vLLM cannot "
            "serve it", where=Where(file=f"families/{family.id}.yaml", field="serving.vllm_architecture"),
            hint="serve it with `--backend hf`",
        )
    return arch


def max_lora_rank(rank: int, family: Family) -> int:
    """The smallest `--max-lora-rank` bucket vLLM allows that holds ``rank``."""
    buckets = sorted(family.serving.lora.max_rank_buckets)
    for bucket in buckets:
        if bucket >= rank:
            return bucket
    raise ServeError(
        f"LoRA rank {rank} is above the largest rank vLLM serves for `{family.id}` "
        f"(serving.lora.max_rank_buckets: {buckets})",
        where=Where(file=f"families/{family.id}.yaml", field="serving.lora.max_rank_buckets"),
        hint=f"train with r <= {buckets[-1]}, or merge the adapter and serve the merged export",
    )


def known_lora_modules(family: Family) -> set[str]:
    """Leaf module names an adapter may target for vLLM: the family's LoRA presets and packed modules."""
    lora = family.architecture.lora
    names = {*lora.attention, *lora.mlp, *lora.all_linear}
    for packed, parts in family.serving.lora.packed_modules.items():
        names.add(packed)
        names.update(parts)
    return names


def lint_adapter(adapter_dir: Path, family: Family, base_vocab: int | None = None) -> int:
    """Check an adapter against the family's vLLM LoRA constraints; returns its rank.

    All problems are reported at once, each quoting the registry field that forbids it.
    """
    config_path = adapter_dir / "adapter_config.json"
    config = _read_json(config_path)
    facts = family.serving.lora
    field = f"families/{family.id}.yaml serving.lora"
    problems: list[str] = []
    if config.get("use_dora") and not facts.dora:
        problems.append(f"DoRA adapter (use_dora: true), but {field}.dora is false")
    if config.get("modules_to_save") and not facts.modules_to_save:
        problems.append(f"modules_to_save {config['modules_to_save']} present, but {field}.modules_to_save is false")
    added = added_tokens(adapter_dir, config, base_vocab)
    if added and not facts.added_tokens:
        problems.append(f"the adapter adds tokens ({added}), but {field}.added_tokens is false")
    ranks = [int(config.get("r", 8)), *(int(v) for v in (config.get("rank_pattern") or {}).values())]
    rank = max(ranks)
    buckets = sorted(facts.max_rank_buckets)
    if rank > buckets[-1]:
        problems.append(f"rank {rank} is above the largest bucket of {field}.max_rank_buckets {buckets}")
    known = known_lora_modules(family)
    unknown = sorted(set(adapter_targets(adapter_dir, config)) - known)
    if unknown:
        problems.append(
            f"target modules {unknown} are not among the family's LoRA modules or {field}.packed_modules "
            f"({sorted(known)})"
        )
    if config.get("target_parameters"):
        problems.append(f"target_parameters {config['target_parameters']} (LoRA on fused expert parameters) "
                        "is not among the modules vLLM serves LoRA for")
    if problems:
        raise ServeError(
            f"vLLM would not serve the adapter in {adapter_dir}: " + "; ".join(problems),
            where=Where(file=str(config_path)),
            hint="merge the adapter (`dayzero export --merge`) and serve the merged model, or use `--backend hf`",
        )
    return rank


def adapter_targets(adapter_dir: Path, config: dict[str, Any]) -> list[str]:
    """Leaf names of the modules that really carry LoRA weights (read from the weights when present)."""
    weights = adapter_dir / "adapter_model.safetensors"
    if weights.is_file():
        from safetensors import safe_open

        with safe_open(str(weights), framework="numpy") as f:
            keys = list(f.keys())
        leaves = {k.split(".lora_")[0].rsplit(".", 1)[-1] for k in keys if ".lora_" in k}
        if leaves:
            return sorted(leaves)
    targets = config.get("target_modules") or []
    if isinstance(targets, str):  # a regex or `all-linear`: only the weights could tell
        return []
    return sorted({t.rsplit(".", 1)[-1] for t in targets})


def added_tokens(adapter_dir: Path, config: dict[str, Any], base_vocab: int | None) -> int:
    """How many tokens the adapter adds to the base vocabulary (0 when none)."""
    count = 0
    path = adapter_dir / "added_tokens.json"
    if path.is_file():
        count = len(_read_json(path))
    indices = config.get("trainable_token_indices")
    if indices:
        count = max(count, len(indices) if isinstance(indices, list) else sum(len(v) for v in indices.values()))
    tok_file = adapter_dir / "tokenizer.json"
    if base_vocab and tok_file.is_file():
        data = _read_json(tok_file)
        vocab = len(data.get("model", {}).get("vocab", {}))
        extra = {t["id"] for t in data.get("added_tokens", []) if t.get("id", 0) >= vocab}
        size = vocab + len(extra)
        count = max(count, size - base_vocab)
    return max(count, 0)


def vllm_command(
    target: ServeTarget,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """`vllm serve ...` for ``target``, every flag taken from the registry or the export."""
    family = target.family
    arch = require_vllm_architecture(family)
    serving = family.serving
    cmd = ["vllm", "serve", str(target.model_dir), "--host", host, "--port", str(port)]
    base_name = target.model_dir.name if target.adapter_dir else target.name
    cmd += ["--served-model-name", base_name]
    if _config_architectures(target.model_dir) != [arch]:
        cmd += ["--hf-overrides", json.dumps({"architectures": [arch]})]
    template = chat_template_for(target)
    if template is not None:
        cmd += ["--chat-template", str(template)]
    if target.generation_config_dir is not None:
        cmd += ["--generation-config", str(target.generation_config_dir)]
    if serving.tool_call_parser:
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", serving.tool_call_parser]
    if serving.reasoning_parser:
        cmd += ["--reasoning-parser", serving.reasoning_parser]
    if target.adapter_dir is not None:
        base_vocab = _read_json(target.model_dir / "config.json").get("vocab_size")
        rank = lint_adapter(target.adapter_dir, family, base_vocab if isinstance(base_vocab, int) else None)
        cmd += ["--enable-lora", "--lora-modules", f"{target.name}={target.adapter_dir}",
                "--max-lora-rank", str(max_lora_rank(rank, family))]
    if api_key:
        cmd += ["--api-key", api_key]
    return [*cmd, *extra]


def chat_template_for(target: ServeTarget) -> Path | None:
    """The template vLLM should render with: the export's file; the tokenizer's own (None: vLLM
    reads it); else the family's format as Jinja, written once to the cache (what training used)."""
    if target.chat_template_file is not None:
        return target.chat_template_file
    tok_config = target.model_dir / "tokenizer_config.json"
    if tok_config.is_file() and _read_json(tok_config).get("chat_template"):
        return None
    from dayzero.sdk.templates import ChatTemplate

    family = target.family
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dayzero" / "chat_templates"
    path = cache / f"{family.id}-r{family.revision}.jinja"
    text = ChatTemplate.for_family(family).to_jinja()
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        from dayzero.atomic import atomic_write_text

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    return path


def exec_vllm(cmd: list[str]) -> None:
    """Replace this process with vLLM; a clear error when it is not installed here."""
    exe = shutil.which(cmd[0])
    if exe is None:
        raise ServeError(
            "vllm is not installed in this environment (it pins its own torch and transformers)",
            hint="install it in its own environment with a GPU, or print the command with --print-vllm-command",
        )
    os.execv(exe, cmd)


def _config_architectures(model_dir: Path) -> list[str]:
    archs = _read_json(model_dir / "config.json").get("architectures")
    return list(archs) if isinstance(archs, list) else []


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ServeError(f"cannot read {path.name}: {exc}", where=Where(file=str(path))) from None
