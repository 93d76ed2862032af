"""The `distributed:` section compiled: strategy, trainer arguments and the launch command, as Plan data.

Every decision a multi-process run depends on is made here, at compile time, and lands in
`plan.distributed`: the FSDP2 wrap unit (the family's `architecture.decoder_layer`), the ZeRO-3 leaf
modules (its `architecture.moe.block_class`), the DeepSpeed config (generated, a user's file merged over
it, validated with DeepSpeed's own config classes), and the exact torchrun command. The trainer only
passes `trainer_args` on; `dayzero run --print-launch` prints `launch` for a scheduler (Slurm, a
cluster's own launcher) without running it.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import sys
from pathlib import Path
from typing import Any

from dayzero.registry.schema import Family

from .plan import DistributedPlan
from .recipe.distributed import DistributedSection
from .recipe.schema import Recipe


def distributed_plan(
    r: Recipe,
    family: Family,
    *,
    cuda: bool,
    base_dir: Path,
    recipe_arg: str | None,
    overrides: list[str] | tuple[str, ...],
    problems: list[str],
    warnings: list[str],
) -> DistributedPlan:
    """The plan's `distributed` part; problems and warnings are appended to the compiler's lists."""
    d = r.distributed
    world = d.world_size
    strategy = d.strategy if (world > 1 or d.strategy != "ddp") else "single"
    wrap: list[str] = []
    leaves: list[str] = []
    args: dict[str, Any] = {}
    if strategy == "fsdp2":
        wrap, args = _fsdp2(r, family, problems)
    elif strategy == "deepspeed":
        leaves, args = _deepspeed(r, family, cuda=cuda, base_dir=base_dir, problems=problems)
    if strategy in ("fsdp2", "deepspeed") and world == 1:
        warnings.append(f"[distributed.strategy] {strategy} with one process shards nothing; set `--nproc`")
    return DistributedPlan(
        strategy=strategy,
        world_size=world,
        nproc_per_node=d.nproc_per_node,
        nnodes=d.nnodes,
        node_rank=d.node_rank,
        wrap_classes=wrap,
        leaf_modules=leaves,
        trainer_args=args,
        launch=launch_command(d, recipe_arg, overrides) if world > 1 else None,
    )


def facts(plan: DistributedPlan) -> dict[str, Any]:
    """What families/rules.yaml sees of the strategy (`distributed.*` keys)."""
    ds = plan.trainer_args.get("deepspeed") or {}
    return {
        "strategy": plan.strategy,
        "world_size": plan.world_size,
        "zero_stage": (ds.get("zero_optimization") or {}).get("stage"),
    }


def launch_command(
    d: DistributedSection, recipe_arg: str | None, overrides: list[str] | tuple[str, ...]
) -> list[str]:
    """The torchrun command that starts this node's processes, each running `dayzero.sdk.launch`.

    One node: `--standalone` (torchrun picks a free local port). Several: a static rendezvous at
    master_addr:master_port with this node's rank, or a c10d rendezvous when `rdzv_endpoint` is set.
    """
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={d.nproc_per_node}"]
    if d.nnodes == 1 and d.rdzv_endpoint is None:
        cmd.append("--standalone")
    elif d.rdzv_endpoint is not None:
        cmd += [f"--nnodes={d.nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={d.rdzv_endpoint}"]
        cmd += [f"--rdzv-id={d.rdzv_id or 'dayzero'}"]
    else:
        cmd += [
            f"--nnodes={d.nnodes}",
            f"--node-rank={d.node_rank}",
            f"--master-addr={d.master_addr}",
            f"--master-port={d.master_port}",
        ]
    return [*cmd, "-m", "dayzero.sdk.launch", recipe_arg or "<recipe>", *overrides]


def _fsdp2(r: Recipe, family: Family, problems: list[str]) -> tuple[list[str], dict[str, Any]]:
    layer = family.architecture.decoder_layer
    if not layer:
        problems.append(
            f"[distributed.strategy] family {family.id} records no `architecture.decoder_layer`, FSDP2's wrap unit"
        )
    o = r.distributed.fsdp
    if o.activation_checkpointing and r.train.gradient_checkpointing:
        problems.append(
            "[distributed.fsdp.activation_checkpointing] use FSDP's activation checkpointing or "
            "`train.gradient_checkpointing`, not both (the latter adds an all-gather to every backward)"
        )
    config = {
        "version": 2,
        "transformer_layer_cls_to_wrap": [layer] if layer else [],
        "reshard_after_forward": o.reshard_after_forward,
        "cpu_offload": o.cpu_offload,
        "activation_checkpointing": o.activation_checkpointing,
        "state_dict_type": "SHARDED_STATE_DICT" if o.state_dict == "sharded" else "FULL_STATE_DICT",
    }
    return ([layer] if layer else []), {"fsdp": True, "fsdp_config": config}


def _deepspeed(
    r: Recipe, family: Family, *, cuda: bool, base_dir: Path, problems: list[str]
) -> tuple[list[str], dict[str, Any]]:
    o = r.distributed.deepspeed
    config = generated_deepspeed_config(
        o.zero_stage, offload_optimizer=o.offload_optimizer, offload_param=o.offload_param, cuda=cuda
    )
    if o.config:
        path = Path(o.config) if Path(o.config).is_absolute() else base_dir / o.config
        try:
            user = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"[distributed.deepspeed.config] cannot read {path}: {exc}")
            user = {}
        if not isinstance(user, dict):
            problems.append(f"[distributed.deepspeed.config] {path} must hold a JSON object")
            user = {}
        config = merge_config(config, user)
    stage = (config.get("zero_optimization") or {}).get("stage")
    leaves: list[str] = []
    moe = family.architecture.moe
    if stage == 3 and moe is not None:
        if moe.block_class:
            leaves = [moe.block_class]
        else:
            problems.append(
                f"[distributed.deepspeed.zero_stage] family {family.id} is MoE but records no `moe.block_class`: "
                "ZeRO-3 must treat the MoE block as a leaf module, or training hangs"
            )
    if importlib.util.find_spec("deepspeed") is None:
        problems.append(
            "[distributed.strategy] the deepspeed package is not installed "
            "(DS_BUILD_OPS=0 pip install --no-build-isolation deepspeed; see the README)"
        )
    else:
        for line in validate_deepspeed_config(config, r):
            problems.append(f"[distributed.deepspeed] DeepSpeed rejects the config: {line}")
    return leaves, {"deepspeed": config}


def generated_deepspeed_config(
    stage: int, *, offload_optimizer: bool, offload_param: bool, cuda: bool
) -> dict[str, Any]:
    """A ZeRO config in the shape HF's integration documents; "auto" values come from TrainingArguments."""
    zero: dict[str, Any] = {"stage": stage, "overlap_comm": cuda, "contiguous_gradients": True}
    if offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": cuda}
    if offload_param:
        zero["offload_param"] = {"device": "cpu", "pin_memory": cuda}
    if stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True  # the final save gathers full weights
    return {
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "zero_optimization": zero,
    }


def merge_config(base: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """`user` over `base`, nested objects merged key by key (the user's values win)."""
    out = copy.deepcopy(base)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate_deepspeed_config(config: dict[str, Any], r: Recipe) -> list[str]:
    """Problems DeepSpeed's own `DeepSpeedConfig` finds, with "auto" resolved as the Trainer will.

    The Trainer fills "auto" from TrainingArguments (micro batch, accumulation, clipping, precision);
    the same values are substituted here so the validation sees the config DeepSpeed will see.
    """
    precision = r.train.precision
    resolved = _resolve_auto(
        config,
        {
            "train_micro_batch_size_per_gpu": r.train.batch_size,
            "gradient_accumulation_steps": r.train.grad_accum,
            "gradient_clipping": r.train.max_grad_norm,
            "bf16.enabled": precision == "bf16",
            "fp16.enabled": precision == "fp16",
        },
    )
    for name in ("DeepSpeed", "deepspeed"):  # its accelerator probe logs a warning on CPU machines
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from deepspeed.runtime.config import DeepSpeedConfig
    except Exception as exc:  # an installed but broken deepspeed says why, once
        return [f"deepspeed does not import here: {type(exc).__name__}: {exc}"]
    try:
        DeepSpeedConfig(resolved)
    except Exception as exc:  # pydantic ValidationError, AssertionError, DeepSpeedConfigError ...
        text = " ".join(str(exc).split())
        return [f"{type(exc).__name__}: {text[:300]}"]
    return []


def _resolve_auto(config: dict[str, Any], values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out[key] = _resolve_auto(value, values, dotted + ".")
        elif value == "auto":
            out[key] = values.get(dotted, value)
        else:
            out[key] = value
    return out
