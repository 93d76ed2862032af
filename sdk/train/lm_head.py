"""The LM head on CPU: per-token log-probabilities in row chunks, gradients taken in the same pass.

TRL 1.16's trainers (SFT, DPO, KTO) always patch the model with `add_fused_lm_head`, which never builds the
`(batch, seq, vocab)` logits. On CUDA its tiles run as a Triton kernel and that is the right path. On CPU the
same tiles run as pure PyTorch (`trl/kernels/chunked_logprob.py`, `_use_triton` false): every position is
scored (prompt tokens included), the softmax is folded over vocabulary tiles in Python, and the backward
recomputes it all; profiled here, that was 84 % of an SFT step and about 4x LLaMA-Factory's CPU time, while
the plain path (full logits, what LLaMA-Factory trains with) costs a 4-5 GB peak at vocab 50k, batch 8 x 512.

This head keeps the fused head's contract (`model(..., labels=..., fused_lm_head=True)` returns TRL's
`FusedCausalLMOutput`, so the trainers' own loss and metric code runs unchanged) and computes it the lean
way for a CPU:

- only the positions whose next-token label is trained are projected (as TRL does on Triton devices);
- rows go through in chunks of about 32 MB of logits, so the peak holds one chunk, not the whole logits,
  and each chunk stays below glibc's mmap threshold (a reused heap block rather than fresh pages, which
  is where the plain path's system time goes);
- when the LM head's weight is frozen (LoRA and the other adapters), each token's gradient with respect to
  its hidden state is taken in the forward pass from the chunk's softmax (the Liger-Kernel "fused linear
  cross-entropy" method), so nothing is recomputed; when the weight trains (full fine-tuning), the
  backward recomputes the chunk once for both gradients.

The compiler decides where this head is used (`sdk.train.head_choice`); it scales the logits as TRL's head does
(`logit_scale`) and adds a MoE router's load-balancing loss; a soft-capped model is left to TRL's head.
"""

from __future__ import annotations

import functools
import types
import warnings
from typing import Any

CHUNK_ELEMENTS = 1 << 23  # logits per chunk: 32 MB in float32 (glibc's mmap threshold tops out at 32 MB)


def chunk_rows(vocab: int) -> int:
    return max(16, min(4096, CHUNK_ELEMENTS // max(1, vocab)))


def _autograd_function() -> type:
    import torch

    class ChunkedTokenLogProb(torch.autograd.Function):
        """log p(label) per row of `hidden` under `hidden @ weight.T (+ bias)`, chunk by chunk; stats without gradient."""

        @staticmethod
        def forward(ctx: Any, hidden: Any, weight: Any, bias: Any, labels: Any, rows: int, stats: tuple[str, ...],
                    grad_hidden: bool, grad_weight: bool) -> Any:
            n = hidden.shape[0]
            out = {name: hidden.new_zeros(n, dtype=torch.float32) for name in ("log_probs", *stats)}
            eager = grad_hidden and not grad_weight  # frozen head: each row's gradient is final in the forward pass
            gh = torch.empty_like(hidden, dtype=torch.float32) if eager else None
            w32 = weight.float()
            for s in range(0, n, rows):
                e = min(n, s + rows)
                z = hidden[s:e].float() @ w32.t()
                if bias is not None:
                    z += bias.float()
                y = labels[s:e]
                lse = torch.logsumexp(z, dim=-1)
                out["log_probs"][s:e] = z.gather(1, y[:, None]).squeeze(1) - lse
                if "mean_logits" in stats:
                    out["mean_logits"][s:e] = z.mean(dim=-1)
                if "is_top1" in stats:
                    out["is_top1"][s:e] = (z.argmax(dim=-1) == y).float()
                if "log_sum_sq_probs" in stats:
                    out["log_sum_sq_probs"][s:e] = torch.logsumexp(2 * z, dim=-1) - 2 * lse
                if "entropy" in stats or eager:
                    logp = z.sub_(lse[:, None])  # in place: the chunk's log-softmax
                    p = logp.exp()
                    if "entropy" in stats:  # H = -sum p log p, as a batched dot product (no third buffer)
                        out["entropy"][s:e] = -torch.bmm(p[:, None, :], logp[:, :, None]).view(-1)
                    if eager:
                        p.neg_()[torch.arange(e - s), y] += 1.0  # d log p(y) / d z = onehot(y) - softmax
                        gh[s:e] = p @ w32
            ctx.rows, ctx.eager, ctx.grad_weight = rows, eager, grad_weight
            ctx.save_for_backward(gh if eager else hidden, weight, bias, labels)
            values = [out["log_probs"], *(out[name] for name in stats)]
            ctx.mark_non_differentiable(*values[1:])
            return tuple(values)

        @staticmethod
        def backward(ctx: Any, grad_logp: Any, *_: Any) -> Any:
            saved, weight, bias, labels = ctx.saved_tensors
            if ctx.eager:
                return (saved * grad_logp[:, None]).to(saved.dtype), None, None, None, None, None, None, None
            hidden = saved
            w32 = weight.float()
            gh = torch.zeros_like(hidden, dtype=torch.float32)
            gw = torch.zeros_like(w32) if ctx.grad_weight else None
            gb = torch.zeros(w32.shape[0], dtype=torch.float32, device=w32.device) if bias is not None else None
            rows = ctx.rows
            for s in range(0, hidden.shape[0], rows):
                e = min(hidden.shape[0], s + rows)
                h = hidden[s:e].float()
                z = h @ w32.t()
                if bias is not None:
                    z += bias.float()
                g = grad_logp[s:e]
                p = z.sub_(torch.logsumexp(z, dim=-1)[:, None]).exp_()
                p.neg_()[torch.arange(e - s), labels[s:e]] += 1.0
                p.mul_(g[:, None])
                gh[s:e] = p @ w32
                if gw is not None:
                    gw.addmm_(p.t(), h)
                if gb is not None:
                    gb += p.sum(dim=0)
            grad_w = gw.to(weight.dtype) if gw is not None and ctx.needs_input_grad[1] else None
            grad_b = gb.to(bias.dtype) if gb is not None and ctx.needs_input_grad[2] else None
            return gh.to(hidden.dtype), grad_w, grad_b, None, None, None, None, None

    return ChunkedTokenLogProb


@functools.cache
def _function() -> type:
    return _autograd_function()


def token_log_probs(hidden: Any, weight: Any, bias: Any, labels: Any, stats: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """(log_probs, *stats) for each row of `hidden` (N x H) and its label (N), through the chunked head."""
    import torch

    grad = torch.is_grad_enabled()
    grad_hidden = grad and hidden.requires_grad
    grad_weight = grad and (weight.requires_grad or (bias is not None and bias.requires_grad))
    rows = chunk_rows(weight.shape[0])
    return _function().apply(hidden, weight, bias, labels, rows, tuple(stats), grad_hidden, grad_weight)


def logit_scale(config: Any) -> float:
    """The factor between the LM head's output and the softmax (1.0: none).

    The same reading as TRL 1.16's `add_fused_lm_head`, which does it inline (no function to call): the head must
    score exactly what TRL's would, including its rule that HyperCLOVA X multiplies by `logits_scaling`."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    for name in ("logit_scale", "output_multiplier", "lm_head_multiplier"):
        if getattr(text, name, None) is not None:
            return float(getattr(text, name))
    scaling = getattr(text, "logits_scaling", None)
    if scaling is None:
        return 1.0
    return float(scaling) if getattr(text, "model_type", None) == "hyperclovax" else 1.0 / float(scaling)


def keeps_trl_head(config: Any, *, bias: bool = False) -> str | None:
    """Why a model keeps TRL's head (its logits are soft-capped, or scaled on a head with a bias), or None."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    if getattr(text, "final_logit_softcapping", None) not in (None, 1, 1.0):
        return "its config sets `final_logit_softcapping`"
    if bias and logit_scale(config) != 1.0:
        return "its config scales the logits of an LM head with a bias"
    return None


def router_experts(config: Any) -> tuple[int, int]:
    """(experts, experts per token) for the load-balancing loss: `num_experts`, or `num_local_experts`
    (GraniteMoe, GraniteMoeHybrid, Mixtral), where TRL 1.16's head reads `num_experts` only."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    experts = getattr(text, "num_experts", None) or getattr(text, "num_local_experts", None)
    per_token = getattr(text, "num_experts_per_tok", None)
    if not experts or not per_token:
        raise TypeError(f"{type(config).__name__} asks for router logits but names no expert count")
    return int(experts), int(per_token)


def backbone(model: Any) -> Any:
    """The decoder under a causal-LM head: `base_model`, or where the class's `base_model_prefix` names no
    attribute (Llama4ForCausalLM says `language_model` but holds `model`, so `base_model` is the model itself),
    its one child that is a PreTrainedModel."""
    base = model.base_model
    if base is not model:
        return base
    from transformers import PreTrainedModel

    children = [m for m in model.children() if isinstance(m, PreTrainedModel)]
    if len(children) != 1:
        raise TypeError(f"{type(model).__name__}: no decoder under the LM head (base_model is the model itself)")
    return children[0]


def install(model: Any, outputs: tuple[str, ...] = ("entropy", "is_top1", "mean_logits")) -> bool:
    """Serve `fused_lm_head=True` calls on `model` (a PreTrainedModel TRL patched) with the chunked head.

    Call it after the trainer is built (TRL patches in `__init__`); other calls go to the forward TRL left.
    Returns False, leaving TRL's head, for a model `keeps_trl_head` names.
    """
    lm_head = model.get_output_embeddings()
    reason = keeps_trl_head(model.config, bias=getattr(lm_head, "bias", None) is not None)
    if reason is not None:
        warnings.warn(f"dayzero keeps TRL's fused LM head for this model: {reason}", stacklevel=2)
        return False
    from trl.trainer.utils import FusedCausalLMOutput

    previous = model.forward
    stats = tuple(name for name in ("entropy", "mean_logits", "is_top1", "log_sum_sq_probs") if name in outputs)
    text = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    scale = logit_scale(model.config)
    # the class computes a router loss of its own (Mixtral, Qwen3-MoE, GraniteMoe set `router_aux_loss_coef` on the
    # causal LM); Llama4ForCausalLM computes none, so none is added for it
    router_loss = hasattr(model, "router_aux_loss_coef")

    @functools.wraps(type(model).forward)
    def forward(self: Any, *args: Any, fused_lm_head: bool = False, labels: Any = None, shift_labels: Any = None,
                num_items_in_batch: Any = None, **kwargs: Any) -> Any:
        if not fused_lm_head or shift_labels is not None:
            return previous(*args, fused_lm_head=fused_lm_head, labels=labels, shift_labels=shift_labels,
                            num_items_in_batch=num_items_in_batch, **kwargs)
        kwargs["use_cache"] = False
        if getattr(text, "output_router_logits", False):  # as TRL's head and the model's own forward do
            kwargs.setdefault("output_router_logits", True)
        out = backbone(self)(*args, **kwargs)
        hidden = out.last_hidden_state[:, :-1]
        if scale != 1.0:  # (h @ W.T) * s == (h * s) @ W.T for a head without a bias (keeps_trl_head)
            hidden = hidden * scale
        lm_head = self.get_output_embeddings()
        targets = labels[:, 1:].to(lm_head.weight.device)
        mask = targets != -100
        values = token_log_probs(hidden.to(lm_head.weight.device)[mask], lm_head.weight, lm_head.bias,
                                 targets[mask], stats)
        # masked_scatter keeps the output connected to the graph even when no position is trained
        full = {name: v.new_zeros(mask.shape).masked_scatter(mask, v)
                for name, v in zip(("log_probs", *stats), values, strict=True)}
        if "is_top1" in full:
            full["is_top1"] = full["is_top1"].bool()
        denominator = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        loss = -full["log_probs"].sum() / denominator
        aux = None
        if router_loss and kwargs.get("output_router_logits") and getattr(out, "router_logits", None) is not None:
            # TRL 1.16's head: Mixtral's load-balancing loss, weighted by router_aux_loss_coef
            from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

            experts, per_token = router_experts(model.config)
            aux = load_balancing_loss_func(out.router_logits, experts, per_token, kwargs.get("attention_mask"))
            loss = loss + getattr(text, "router_aux_loss_coef", 0.0) * aux
        return FusedCausalLMOutput(loss=loss, label_mask=mask, aux_loss=aux, **full)

    model.forward = types.MethodType(forward, model)
    return True


def install_on_trainer(trainer: Any, outputs: tuple[str, ...]) -> bool:
    """The chunked head on a built TRL trainer's policy (the base under a peft wrapper) and reference model."""
    model = trainer.model
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    done = install(base, outputs)
    ref = getattr(trainer, "ref_model", None)
    if done and ref is not None:
        install(ref, ("log_probs",))
    return done
