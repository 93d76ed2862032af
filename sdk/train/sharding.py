"""What the training stage does for the plan's `distributed` strategy; the engines do the sharding.

- FSDP2 goes through accelerate's plugin (torch `fully_shard`, wrap unit from the plan). accelerate 1.15
  enables FSDP only for accelerator devices: on CPU it sets `MULTI_CPU` and drops the plugin
  (`accelerate/state.py`, the FSDP branch lists GPU-like types only), although `fully_shard` itself works
  over gloo. `cpu_fsdp_trainer` lifts that one gate for CPU runs, so the same accelerate code path that
  shards on GPUs is the one tested here.
- ZeRO-3 on MoE families: the sparse-MoE block is registered as a leaf module before training
  (`deepspeed.utils.set_z3_leaf_modules`), or ranks routing to different experts wait forever.
- DeepSpeed on CPU: its shared-memory all-reduce op (`deepspeed_shm_comm`) is switched off. DeepSpeed
  JIT-compiles it with g++ when its comm backend starts (measured: 100 s on a loaded 2-core machine), maps
  66 MB of /dev/shm per rank (more than a container's default 64 MB), and its peers spin forever when one
  rank's kernel faults (DeepSpeed's own comment in `comm/torch.py`). It serves only
  `inference_all_reduce`, which training never calls: ZeRO's collectives go through gloo either way.
- The final model is gathered from the shards into normal weights on rank 0, so the export stage
  (merge, verify, serve) sees the same files as after a one-process run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..plan import Plan


def cpu_fsdp_trainer(trainer_cls: type) -> type:
    """`trainer_cls` that keeps accelerate's FSDP plugin on a multi-process CPU run (see the module doc)."""

    class CpuFsdp(trainer_cls):  # type: ignore[misc, valid-type]
        def create_accelerator_and_postprocess(self) -> None:
            super().create_accelerator_and_postprocess()
            from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

            state = self.accelerator.state
            if state.distributed_type == DistributedType.MULTI_CPU and self.args.fsdp_plugin_args is not None:
                state.distributed_type = DistributedType.FSDP
                state.fsdp_plugin = FullyShardedDataParallelPlugin(**self.args.fsdp_plugin_args)
                self.is_fsdp_enabled = True

    CpuFsdp.__name__ = CpuFsdp.__qualname__ = f"CpuFsdp{trainer_cls.__name__}"
    return CpuFsdp


def strategy_trainer(plan: Plan, trainer_cls: type) -> type:
    """The trainer class for the plan's strategy (unchanged except for FSDP2 on CPU)."""
    if plan.distributed.strategy == "fsdp2" and not plan.runtime.get("cuda"):
        return cpu_fsdp_trainer(trainer_cls)
    return trainer_cls


def prepare_engine(plan: Plan) -> None:
    """Before the engine starts: on a CPU DeepSpeed run, keep DeepSpeed from building its shm op (module doc)."""
    if plan.distributed.strategy != "deepspeed" or plan.runtime.get("cuda"):
        return
    import deepspeed.ops

    # DeepSpeed probes every op once and keeps the answers in this one dict; `build_shm_op` reads it.
    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False


def prepare_model(model: Any, plan: Plan) -> None:
    """Register the plan's ZeRO-3 leaf modules (MoE blocks) on the model, before the engine wraps it."""
    if not plan.distributed.leaf_modules:
        return
    from deepspeed.utils import set_z3_leaf_modules

    wanted = set(plan.distributed.leaf_modules)
    classes = {type(m) for m in model.modules() if type(m).__name__ in wanted}
    missing = wanted - {c.__name__ for c in classes}
    if missing:
        from dayzero.errors import RecipeError

        raise RecipeError(
            f"the model has no module of class {sorted(missing)} (the family's `moe.block_class`)"
        )
    set_z3_leaf_modules(model, sorted(classes, key=lambda c: c.__name__))


def shard_fraction(model: Any) -> float:
    """Share of the parameter elements this rank holds (1.0 unsharded; 1/world for FSDP2 full shards)."""
    local = total = 0
    for p in model.parameters():
        if hasattr(p, "ds_numel"):  # DeepSpeed ZeRO-3: the rank's partition is `ds_tensor`
            full, mine = int(p.ds_numel), int(p.ds_tensor.numel())
        else:  # FSDP2 DTensor (its local shard) or a plain, replicated tensor
            full = p.numel()
            to_local = getattr(p, "to_local", None)
            mine = to_local().numel() if to_local else full
        local += mine
        total += full
    return local / total if total else 1.0


def save_final(trainer: Any, final: Path) -> None:
    """Save the trained model under final/ as normal (unsharded) weights; every rank must call it.

    FSDP2: every rank takes part in gathering the full state dict, rank 0 writes it. The gathered
    tensors are cloned first: safetensors reads their storage, and accelerate's own gather
    (`get_state_dict` with cpu_offload) hands back tensors whose storage is not valid on a CPU run.
    """
    if not getattr(trainer, "is_fsdp_enabled", False):
        trainer.save_model(str(final))
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    model = trainer.model
    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if trainer.is_world_process_zero():
        state = {k: v.detach().clone().contiguous() for k, v in state.items()}
        model.save_pretrained(str(final), state_dict=state, safe_serialization=True)
    if os.environ.get("WORLD_SIZE", "1") != "1":
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()


def leave_engine(plan: Plan) -> None:
    """After training: forget the DeepSpeed config transformers keeps globally.

    While it is set, every `from_pretrained` in this process builds the model under `zero.Init`
    (partitioned across ranks), so rank 0's export would wait on ranks that have already finished.
    """
    if plan.distributed.strategy == "deepspeed":
        from transformers.integrations.deepspeed import unset_hf_deepspeed_config

        unset_hf_deepspeed_config()
