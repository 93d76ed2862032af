"""Which LM head computes the training loss: decided at compile time and recorded in the Plan.

TRL 1.16's SFT, DPO and KTO trainers always score tokens through their fused LM head
(`trl.trainer.utils.add_fused_lm_head`). It is the right head where its Triton kernel runs (CUDA): the
`(batch, seq, vocab)` logits never exist, which is what lets a 150k vocabulary train at long cutoffs. On a
CPU the same head runs as pure-PyTorch tiles that score every position and recompute in the backward;
measured on a tiny Qwen2 (vocab 50k, batch 8 x 512, LoRA) it took 9.3 CPU-seconds a step against 2.4 for
plain full logits (LLaMA-Factory's path) and 0.8 for dayzero's chunked head (`sdk.train.lm_head`), which
also peaked at 0.6 GB against 2.9 and 4.8 GB. Hence:

- `trl`: TRL's fused head, on CUDA (and whenever asked);
- `chunked`: dayzero's chunked head, on CPU (and whenever asked): the same outputs and metrics, lighter there;
- `model`: the stage's trainer has no fused head (reward models, ORPO, SimPO): nothing to choose.

MoE families (`architecture.moe`) get the chunked head on every device: it adds the router's load-balancing loss
as TRL's head does, where TRL 1.16's head fails on GraniteMoe configs (no `num_experts`) and on Llama4ForCausalLM
(`base_model` is the model itself). A model whose config soft-caps its logits keeps TRL's head at run time
(`lm_head.keeps_trl_head`).
"""

from __future__ import annotations

from dataclasses import dataclass

# Stages whose TRL trainer patches the model with the fused LM head.
FUSED_HEAD_STAGES = ("pt", "sft", "dpo", "kto")


@dataclass(frozen=True)
class HeadChoice:
    head: str  # trl | chunked | model
    reason: str


def choose_head(
    stage: str, *, cuda: bool, requested: str = "auto", moe: bool = False, sharded: bool = False
) -> HeadChoice:
    """The LM head for a run: the recipe's `train.lm_head` when it names one, else by device and architecture."""
    if stage == "grpo":
        return HeadChoice("trl", "GRPO keeps TRL's fused head (the chunked head is not measured on its rollouts)")
    if stage not in FUSED_HEAD_STAGES:
        return HeadChoice("model", f"the {stage} trainer computes its loss from the model's own logits")
    if requested != "auto":
        return HeadChoice(requested, "set by the recipe (`train.lm_head`)")
    if sharded:  # FSDP2 / ZeRO-3 hold lm_head as a shard (a DTensor or a partition): the chunked head reads it whole
        return HeadChoice("trl", "sharded weights (FSDP2 / DeepSpeed): TRL's head runs inside the engine's gathering")
    if moe:
        return HeadChoice("chunked", "a MoE model: dayzero's chunked head adds the router's load-balancing loss as "
                          "TRL's does, reading `num_experts` or `num_local_experts` (TRL 1.16 reads `num_experts` only, "
                          "absent on GraniteMoe) and the decoder where `base_model` is the model itself (Llama4)")
    if cuda:
        return HeadChoice("trl", "CUDA: TRL's fused head runs as a Triton kernel and never builds the full logits")
    return HeadChoice(
        "chunked",
        "CPU: TRL's fused head falls back to pure-PyTorch tiles (about 4x the CPU time of plain logits); the "
        "chunked head scores only trained positions, in 32 MB chunks, without recomputing",
    )


def head_outputs(trainer_name: str, *, use_weighting: bool = False) -> tuple[str, ...]:
    """The per-token fields each TRL trainer reads from the fused head (as its `add_fused_lm_head` call asks)."""
    if trainer_name == "DPOTrainer":
        return ("entropy", "mean_logits", "is_top1") + (("log_sum_sq_probs",) if use_weighting else ())
    if trainer_name == "KTOTrainer":
        return ("entropy", "mean_logits")
    return ("entropy", "is_top1")  # SFTTrainer: the entropy and mean_token_accuracy metrics
