"""The `distributed:` section: how many processes, on how many machines, and which engine shards.

dayzero runs no engine of its own: `ddp` and `fsdp2` go through transformers' Trainer and accelerate
(FSDP2 is torch's `fully_shard`), `deepspeed` through the Trainer's DeepSpeed integration, and the
processes are started by torchrun. This section only says what to ask those engines for; the plan
(`sdk.distributed`) turns it into trainer arguments and the exact launch command.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import Section


class FsdpOptions(Section):
    """FSDP2 (`torch.distributed.fsdp.fully_shard`) through accelerate's plugin."""

    reshard_after_forward: bool = Field(
        default=True,
        description="Free the gathered parameters after forward (ZeRO-3-like); false keeps them (ZeRO-2-like).",
    )
    cpu_offload: bool = Field(
        default=False, description="Keep sharded parameters and optimizer states in CPU memory."
    )
    activation_checkpointing: bool = Field(
        default=False,
        description="FSDP's own activation checkpointing (use it instead of `train.gradient_checkpointing`).",
    )
    state_dict: Literal["sharded", "full"] = Field(
        default="sharded",
        description="Checkpoint format: `sharded` (torch.distributed.checkpoint; resumes on another world size) or "
        "`full` (one file, gathered on rank 0). The final model is always gathered into normal weights.",
    )


class DeepSpeedOptions(Section):
    """DeepSpeed ZeRO through the Trainer's integration (needs the `deepspeed` package)."""

    zero_stage: Literal[2, 3] = Field(
        default=2, description="ZeRO stage: 2 shards optimizer states and gradients, 3 also parameters."
    )
    offload_optimizer: bool = Field(
        default=False, description="ZeRO-Offload: optimizer states in CPU memory."
    )
    offload_param: bool = Field(default=False, description="ZeRO-3 only: parameters in CPU memory.")
    config: str | None = Field(
        default=None,
        description="A DeepSpeed JSON file of your own, relative to the recipe file; merged over the generated config "
        "(your keys win) and validated with DeepSpeed's own config classes.",
    )

    @model_validator(mode="after")
    def _offload_param_needs_zero3(self) -> DeepSpeedOptions:
        if self.offload_param and self.zero_stage != 3:
            raise ValueError("`offload_param` needs `zero_stage: 3` (ZeRO-2 does not partition parameters)")
        return self


Strategy = Literal["ddp", "fsdp2", "deepspeed"]


class DistributedSection(Section):
    """Processes, machines and the sharding strategy; `dayzero run` options override the counts and addresses."""

    strategy: Strategy = Field(
        default="ddp", description="ddp (replicate), fsdp2 (shard with torch FSDP2) or deepspeed (ZeRO)."
    )
    nproc_per_node: int = Field(
        default=1, ge=1, description="Processes per machine (one per GPU; on CPU, gloo)."
    )
    nnodes: int = Field(default=1, ge=1, description="Machines taking part.")
    node_rank: int = Field(default=0, ge=0, description="This machine's index, 0 .. nnodes-1.")
    master_addr: str = Field(default="127.0.0.1", description="Address of node 0 (static rendezvous).")
    master_port: int = Field(default=29500, ge=1, le=65535, description="Port on node 0 (static rendezvous).")
    rdzv_endpoint: str | None = Field(
        default=None,
        description="`host:port` of a c10d rendezvous (elastic launch) instead of master_addr/port.",
    )
    rdzv_id: str | None = Field(default=None, description="Job id shared by every node of a c10d rendezvous.")
    fsdp: FsdpOptions = Field(default_factory=FsdpOptions)
    deepspeed: DeepSpeedOptions = Field(default_factory=DeepSpeedOptions)

    @model_validator(mode="after")
    def _rank_in_range(self) -> DistributedSection:
        if self.node_rank >= self.nnodes:
            raise ValueError(f"`node_rank` must be below `nnodes` ({self.nnodes}), got {self.node_rank}")
        return self

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes
