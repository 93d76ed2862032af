"""The one vLLM LoRA lint: what vLLM would refuse (or load and serve wrongly) in an adapter.

One function, three callers: an adapter-only export reports the problems, `dayzero serve --backend
vllm` refuses on them, and compile's rules (S002, S004, S005) fire on their codes for the adapter a
recipe will produce. Each problem names the fact that forbids it: engine facts that hold for every
family (rank buckets, DoRA, modules_to_save, added tokens, PEFT types) come from the engine table
(`families/engines.yaml`, read for a vLLM version range); what differs per family (the
architecture, the module names vLLM knows) from the family file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dayzero.errors import ServeError, Where
from dayzero.registry import Family
from dayzero.registry.engines import engines
from dayzero.registry.schema.engines import VllmEngine

ENGINE_FIELD = "families/engines.yaml vllm.lora"


@dataclass(frozen=True)
class LoraProblem:
    """One reason vLLM would not serve an adapter: a stable ``code`` (what rules match on), the
    message, and the registry field that says so."""

    code: str
    message: str
    field: str

    def __str__(self) -> str:
        return f"{self.message} ({self.field})"


def adapter_rank(config: dict[str, Any]) -> int:
    """The largest rank in an adapter config (``r`` and ``rank_pattern``); peft's default r is 8."""
    return max([int(config.get("r") or 8), *(int(v) for v in (config.get("rank_pattern") or {}).values())])


def max_lora_rank(rank: int, engine: VllmEngine | None = None) -> int:
    """The smallest `--max-lora-rank` value vLLM accepts that holds ``rank``."""
    buckets = sorted((engine or engines().vllm).lora.max_rank_buckets)
    for bucket in buckets:
        if bucket >= rank:
            return bucket
    raise ServeError(
        f"LoRA rank {rank} is above the largest rank vLLM serves ({ENGINE_FIELD}.max_rank_buckets: {buckets})",
        where=Where(file="families/engines.yaml", field="vllm.lora.max_rank_buckets"),
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


def lint_lora(
    family: Family,
    config: dict[str, Any],
    *,
    targets: list[str] | None = None,
    added_tokens: int = 0,
    engine: VllmEngine | None = None,
) -> list[LoraProblem]:
    """Every problem vLLM would have with an adapter of ``config`` (a peft adapter_config) on ``family``.

    ``targets``: the leaf module names that really carry LoRA weights (None: not known yet, as at
    compile time); ``added_tokens``: how many tokens the adapter adds to the base vocabulary.
    """
    facts = (engine or engines().vllm).lora
    fam_file = f"families/{family.id}.yaml"
    problems: list[LoraProblem] = []

    def add(code: str, message: str, field: str) -> None:
        problems.append(LoraProblem(code, message, field))

    if family.serving.vllm_architecture is None:
        add(
            "architecture",
            "vLLM has no implementation of this family's architecture",
            f"{fam_file} serving.vllm_architecture",
        )
    peft_type = str(config.get("peft_type") or "LORA")
    if peft_type not in facts.peft_types:
        add(
            "peft-type",
            f"vLLM serves LoRA adapters only, this is {peft_type}: merge it instead",
            f"{ENGINE_FIELD}.peft_types",
        )
    if config.get("use_dora") and not facts.dora:
        add(
            "dora",
            "a DoRA adapter (use_dora: true), which vLLM does not serve: merge it instead",
            f"{ENGINE_FIELD}.dora",
        )
    if config.get("lora_bias") and not facts.lora_bias:
        add("lora-bias", "an adapter with LoRA bias, which vLLM does not serve", f"{ENGINE_FIELD}.lora_bias")
    init = config.get("init_lora_weights", True)
    if init not in facts.init_lora_weights:
        add(
            "init",
            f"init_lora_weights {init!r} (PiSSA-style: relative to a rewritten base, not the released "
            "one): merge it instead",
            f"{ENGINE_FIELD}.init_lora_weights",
        )
    saved = [m for m in (config.get("modules_to_save") or []) if m not in facts.modules_to_save]
    if saved:
        add(
            "modules-to-save",
            f"modules_to_save {saved}, which vLLM does not load "
            f"(it accepts only {facts.modules_to_save or 'none'})",
            f"{ENGINE_FIELD}.modules_to_save",
        )
    if added_tokens and not facts.added_tokens:
        add(
            "added-tokens",
            f"the adapter adds {added_tokens} token(s) to the vocabulary, which vLLM does not serve",
            f"{ENGINE_FIELD}.added_tokens",
        )
    rank = adapter_rank(config)
    buckets = sorted(facts.max_rank_buckets)
    if rank > buckets[-1]:
        add(
            "rank",
            f"rank {rank} is above the largest --max-lora-rank {buckets[-1]}",
            f"{ENGINE_FIELD}.max_rank_buckets",
        )
    if config.get("target_parameters") and not facts.target_parameters:
        add(
            "target-parameters",
            f"target_parameters {config['target_parameters']} (LoRA on fused expert "
            "parameters), which vLLM does not load",
            f"{ENGINE_FIELD}.target_parameters",
        )
    if targets is not None:
        known = known_lora_modules(family)
        unknown = sorted(set(targets) - known)
        if unknown:
            add(
                "targets",
                f"target modules {unknown} are not among the family's LoRA modules or packed modules "
                f"({sorted(known)})",
                f"{fam_file} serving.lora.packed_modules",
            )
    return problems


def lint_adapter_dir(adapter_dir: Path, family: Family, base_vocab: int | None = None) -> list[LoraProblem]:
    """`lint_lora` for a saved adapter folder: targets read from its weights, added tokens counted."""
    config = read_json(adapter_dir / "adapter_config.json")
    return lint_lora(
        family,
        config,
        targets=adapter_targets(adapter_dir, config),
        added_tokens=added_tokens(adapter_dir, config, base_vocab),
    )


def lint_adapter(adapter_dir: Path, family: Family, base_vocab: int | None = None) -> int:
    """Refuse an adapter vLLM would not serve (every problem at once); else its rank."""
    problems = lint_adapter_dir(adapter_dir, family, base_vocab)
    if problems:
        raise ServeError(
            f"vLLM would not serve the adapter in {adapter_dir}: " + "; ".join(map(str, problems)),
            where=Where(file=str(adapter_dir / "adapter_config.json")),
            hint="merge the adapter (`dayzero export` without --adapter-only) and serve the merged model, "
            "or use `--backend hf`",
        )
    return adapter_rank(read_json(adapter_dir / "adapter_config.json"))


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
        count = len(read_json(path))
    indices = config.get("trainable_token_indices")
    if indices:
        count = max(
            count, len(indices) if isinstance(indices, list) else sum(len(v) for v in indices.values())
        )
    tok_file = adapter_dir / "tokenizer.json"
    if base_vocab and tok_file.is_file():
        data = read_json(tok_file)
        vocab = len(data.get("model", {}).get("vocab", {}))
        extra = {t["id"] for t in data.get("added_tokens", []) if t.get("id", 0) >= vocab}
        count = max(count, vocab + len(extra) - base_vocab)
    return max(count, 0)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ServeError(f"cannot read {path.name}: {exc}", where=Where(file=str(path))) from None
