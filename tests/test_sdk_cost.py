"""`sdk.cost`: parameter counts and the memory estimate, on a hand-worked case and against peft's own count."""

from __future__ import annotations

import copy

import pytest

from dayzero.sdk.cost import RUNTIME_CPU_BYTES, estimate, human, trainable_parameters
from dayzero.sdk.plan import AdapterPlan

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def config():
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=10, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                       num_key_value_heads=2, tie_word_embeddings=False)


def lora(r: int = 2, **flags) -> AdapterPlan:
    kwargs = {"r": r, "lora_alpha": 4, "target_modules": TARGETS, "task_type": "CAUSAL_LM", **flags}
    return AdapterPlan(kind="lora", peft_config="LoraConfig", peft_kwargs=kwargs, target_modules=TARGETS)


def test_hand_worked_llama_layer(config) -> None:
    # parameters: embed 10x16 = 160; q, k, v, o 4 x 16x16 = 1024; gate, up 2 x 16x32 = 1024; down 512;
    # norms 16 + 16 (layer) + 16 (final) = 48; lm_head 160 -> 2,928
    # LoRA r2: q, k, v, o 4 x 2(16+16) = 256; gate, up 2 x 2(16+32) = 192; down 2(32+16) = 96 -> 544
    cost = estimate(config, lora(), stage="sft", lm_head="chunked", batch=1, cutoff=4, cuda=False)
    assert (cost.parameters, cost.trainable) == (2928, 544)
    assert (cost.weights_bytes, cost.gradients_bytes, cost.optimizer_bytes) == (4 * 2928, 4 * 544, 8 * 544)
    # activations: 4 tokens x 4 bytes x (1 layer x (10x16 + 4x16 + 4x32) + 3x16) = 16 x 400
    assert cost.activations_bytes == 6400
    assert cost.lm_head_bytes == 2 * 4 * 10 * 4  # the chunk (all 4 rows) and its softmax
    # peak: runtime + weights + Adam states + the larger of (activations, as much again for the backward, the
    # head) and (gradients + the optimizer step's one trainable-sized buffer): 6400 + 6400 + 320 > 4 x 544 x 2
    assert cost.workspace_bytes == 6400 and cost.runtime_bytes == RUNTIME_CPU_BYTES
    assert cost.total_bytes == RUNTIME_CPU_BYTES + 4 * 2928 + 8 * 544 + 6400 + 6400 + 320
    # the model's own loss keeps the full logits three times over; DPO doubles the rows
    assert estimate(config, lora(), stage="sft", lm_head="model", batch=1, cutoff=4, cuda=False).lm_head_bytes == 480
    assert estimate(config, lora(), stage="dpo", lm_head="chunked", batch=1, cutoff=4, cuda=False).tokens_per_step == 8


def test_full_tuning_in_bf16_on_cuda_is_eight_bytes_a_parameter(config) -> None:
    config = copy.deepcopy(config)
    config.dtype = "bfloat16"
    full = AdapterPlan(kind="full", peft_config=None)
    cost = estimate(config, full, stage="sft", lm_head="trl", batch=1, cutoff=4, cuda=True)
    assert cost.trainable == 2928 and cost.dtype == "bfloat16"
    assert cost.weights_bytes + cost.gradients_bytes + cost.optimizer_bytes == 8 * 2928
    cpu = estimate(config, full, stage="sft", lm_head="chunked", batch=1, cutoff=4, cuda=False)
    assert cpu.weights_bytes + cpu.gradients_bytes + cpu.optimizer_bytes == 16 * 2928  # fp32 on CPU
    # at 4 tokens the optimizer step (gradients 4 x 2928 + its buffer 4 x 2928) outweighs the activations
    assert cpu.total_bytes == RUNTIME_CPU_BYTES + 4 * 2928 + 8 * 2928 + 8 * 2928


def test_lora_count_matches_peft_and_dora_adds_magnitudes() -> None:
    import peft

    from dayzero import registry
    from dayzero.sdk.cost import meta_model
    from dayzero.sdk.tiny import tiny_config

    config = tiny_config(registry.get("qwen2"))
    model = peft.get_peft_model(meta_model(config).to_empty(device="cpu"), peft.LoraConfig(r=4, target_modules=TARGETS))
    counted = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable_parameters(meta_model(config), lora(r=4)) == counted
    dora = trainable_parameters(meta_model(config), lora(r=4, use_dora=True))
    assert dora > counted


def test_human() -> None:
    assert (human(512), human(2048), human(3 * 1024**3)) == ("512 B", "2.0 KB", "3.0 GB")
