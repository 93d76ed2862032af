"""What a run will cost before it starts: parameters, trainable parameters, estimated peak memory.

Computed from the model's config alone: the model is built on the meta device (shapes, no memory, no
weights), its Linear layers give the adapter's trainable count, and the memory is the sum of

- weights: every parameter in the dtype it trains in (fp32 on CPU, where dayzero upcasts 16-bit
  checkpoints; the checkpoint's dtype on CUDA), 4-bit NF4 with double quantization about 0.52 bytes and
  8-bit 1 byte per parameter of a quantized Linear;
- gradients and AdamW's two moments for the trainable parameters, in their dtype (peft keeps adapters in
  fp32; transformers' Trainer keeps no fp32 master copy, so bf16 full tuning is 2 + 2 + 4 = 8 bytes a
  parameter, where LLaMA-Factory's table says ~18 for AMP with fp32 master weights; 16 in fp32);
- activations saved for the backward at the recipe's batch x cutoff (every row padded to the cutoff, the
  worst case), per decoder layer and token about 10 hidden + 4 kv + 4 intermediate values (norms, q/k/v/o,
  rotary, attention output, the gated MLP; attention scores are not stored, as SDPA's flash kernels keep
  only the log-sum-exp); with gradient checkpointing, one hidden vector per layer plus one layer's worth;
- the LM head: the full logits three times over (logits, log-softmax, gradient) when the model's own loss
  computes them; one 32 MB chunk pair for dayzero's chunked head; one 4096-token tile for TRL's.

- the backward's working set, as large again as the saved activations: the gradients flowing back through
  the layers, and on CPU the heap blocks glibc keeps after the forward's temporaries are freed (saved
  tensors, counted with autograd's saved-tensor hooks, match the activations term within 10 %; the step's
  peak RSS rose by about twice that);
- the runtime: on CPU the resident size of Python with torch, transformers, TRL, peft and datasets imported
  and a tokenizer loaded (measured here: 500-580 MB); on CUDA the context and library workspaces (not
  measured here, no GPU was lent: a typical 0.5 GB).

Gradients and activations are not held together: the trainer frees the gradients before each forward
(``zero_grad(set_to_none=True)``) and the backward frees a layer's activations as it writes its gradients, so
the peak is the larger of (activations + working set + LM head) and (gradients + the optimizer step's
temporaries, one trainable-sized buffer for foreach AdamW), on top of weights, optimizer states and runtime.

DPO doubles the rows (chosen and rejected go through together). It is an estimate for planning, checked
against measured peaks in ``benchmarks/plan_estimate.py`` (within 25 % on CPU for a tiny and a small model,
results in ``benchmarks/results/plan_estimate.json``), not a guarantee.
"""

from __future__ import annotations

from typing import Any

from .plan import AdapterPlan, CostPlan

_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_QUANT_BYTES = {"bnb-4bit": 0.516, "bnb-8bit": 1.0}  # NF4 + double-quantized absmax (4.13 bits); int8 + scales
CHUNK_BYTES = 2 * (1 << 25)  # sdk.train.lm_head: a 32 MB logits chunk and its softmax
TRL_TILE_BYTES = 4096 * 32768 * 4  # trl: TOKEN_CHUNK_SIZE x _CHUNKED_LOGPROB_CHUNK_SIZE, fp32
RUNTIME_CPU_BYTES = 580 << 20  # peak RSS of the imported stack and a tokenizer (benchmarks/plan_estimate.py)
RUNTIME_CUDA_BYTES = 512 << 20  # CUDA context + cuBLAS/cuDNN workspaces: typical, not measured here


def meta_model(config: Any, *, trust_remote_code: bool = False, model_class: str | None = None) -> Any:
    """The model a config describes, on the meta device: every shape, no memory."""
    import torch
    import transformers

    with torch.device("meta"):
        if model_class == "AutoModelForSequenceClassification":
            return transformers.AutoModelForSequenceClassification.from_config(config)
        return transformers.AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)


def linear_shapes(model: Any) -> list[tuple[str, int, int]]:
    """(qualified name, in_features, out_features) of every Linear layer."""
    import torch

    return [(name, m.in_features, m.out_features) for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)]


def trainable_parameters(model: Any, adapter: AdapterPlan) -> int | None:
    """How many parameters the adapter trains (None for OFT, whose count depends on peft's block layout)."""
    total = sum(p.numel() for p in model.parameters())
    if adapter.kind == "full":
        return total
    if adapter.kind == "freeze":
        n_layers = int(model.config.num_hidden_layers)
        keep = adapter.trainable_layers or 1
        prefixes = tuple((adapter.layers or "").format(i) + "." for i in range(n_layers - keep, n_layers))
        return sum(p.numel() for name, p in model.named_parameters() if name.startswith(prefixes))
    if adapter.peft_config != "LoraConfig":
        return None
    r = int(adapter.peft_kwargs.get("r", 8))
    targets = set(adapter.target_modules)
    lm_head = {name for name, _, _ in linear_shapes(model) if name.endswith("lm_head")}
    count = 0
    for name, n_in, n_out in linear_shapes(model):
        if name.rsplit(".", 1)[-1] in targets and name not in lm_head:
            count += r * (n_in + n_out) + (n_out if adapter.peft_kwargs.get("use_dora") else 0)
    return count


def activation_bytes(config: Any, tokens: int, act_bytes: int, checkpointing: bool) -> int:
    """Activations kept for the backward by the decoder layers, for `tokens` tokens in one step."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    h = int(text.hidden_size)
    layers = int(text.num_hidden_layers)
    heads = int(getattr(text, "num_attention_heads", 1) or 1)
    head_dim = int(getattr(text, "head_dim", None) or h // heads)
    kv = int(getattr(text, "num_key_value_heads", None) or heads) * head_dim
    inter = int(getattr(text, "intermediate_size", None) or 4 * h)
    per_layer = 10 * h + 4 * kv + 4 * inter
    if checkpointing:
        return tokens * act_bytes * (layers * h + per_layer)
    return tokens * act_bytes * (layers * per_layer + 3 * h)


def head_bytes(lm_head: str, tokens: int, vocab: int) -> int:
    if lm_head == "chunked":
        return min(CHUNK_BYTES, 2 * tokens * vocab * 4)
    if lm_head == "trl":
        return min(TRL_TILE_BYTES, tokens * vocab * 4)
    return 3 * tokens * vocab * 4  # logits, log-softmax and their gradient, in fp32


def estimate(
    config: Any, adapter: AdapterPlan, *, stage: str, lm_head: str, batch: int, cutoff: int, cuda: bool,
    dtype: str = "auto", checkpointing: bool = False, trust_remote_code: bool = False, model_class: str | None = None,
) -> CostPlan:
    """The cost of one run of `config` with the plan's adapter, batch and cutoff."""
    model = meta_model(config, trust_remote_code=trust_remote_code, model_class=model_class)
    params = sum(p.numel() for p in model.parameters())
    if dtype == "auto":
        dtype = str(getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or "float32")
        dtype = dtype.removeprefix("torch.")
    w_bytes = _DTYPE_BYTES.get(dtype, 4) if cuda else 4
    weights = params * w_bytes
    quant = (adapter.quantization or {}).get("method")
    if quant in _QUANT_BYTES:
        skip = set((adapter.quantization or {}).get("llm_int8_skip_modules") or [])
        quantized = sum(n_in * n_out for name, n_in, n_out in linear_shapes(model)
                        if not (set(name.split(".")) & skip) and not name.endswith("lm_head"))
        weights -= int(quantized * (w_bytes - _QUANT_BYTES[quant]))
    trainable = trainable_parameters(model, adapter)
    t_bytes = 4 if adapter.peft_config else w_bytes  # peft keeps adapter weights in fp32
    grads = (trainable or 0) * t_bytes
    optimizer = 2 * (trainable or 0) * t_bytes
    rows = batch * (2 if stage in ("dpo", "orpo", "simpo", "rm") else 1)
    tokens = rows * cutoff
    vocab = int((config.get_text_config() if hasattr(config, "get_text_config") else config).vocab_size)
    acts = activation_bytes(config, tokens, w_bytes, checkpointing)
    head = head_bytes(lm_head, tokens, vocab) if stage != "rm" else 0
    workspace = acts  # the backward's gradients through the layers, and the allocator's retained blocks
    runtime = RUNTIME_CUDA_BYTES if cuda else RUNTIME_CPU_BYTES
    step = grads + (trainable or 0) * t_bytes  # the optimizer step: gradients and one foreach temporary
    total = runtime + weights + optimizer + max(acts + workspace + head, step)
    return CostPlan(
        parameters=params, trainable=trainable, weights_bytes=int(weights), gradients_bytes=int(grads),
        optimizer_bytes=int(optimizer), activations_bytes=int(acts), workspace_bytes=int(workspace),
        lm_head_bytes=int(head), runtime_bytes=runtime, total_bytes=int(total), tokens_per_step=tokens,
        dtype=dtype if cuda else "float32",
    )


def human(n: float) -> str:
    """Bytes as a short figure (KB, MB, GB; powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover
