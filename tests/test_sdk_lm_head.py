"""The chunked LM head (`sdk.train.lm_head`) against autograd on full logits and transformers' own loss,
and the compile-time choice of head (`sdk.train.head_choice`)."""

from __future__ import annotations

import pytest
import torch

from dayzero.sdk.train import lm_head
from dayzero.sdk.train.head_choice import choose_head


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(lm_head, "CHUNK_ELEMENTS", 7 * 50)  # 16-row chunks at vocab 50: several per call


@pytest.mark.parametrize("trainable", [False, True])
def test_log_probs_stats_and_gradients_equal_full_logits(small_chunks, trainable: bool) -> None:
    torch.manual_seed(0)
    n, h, v = 37, 8, 50
    hidden, weight, bias = torch.randn(n, h), torch.randn(v, h), torch.randn(v)
    labels, upstream = torch.randint(0, v, (n,)), torch.randn(n)
    leaves = [t.clone().requires_grad_(True) for t in (hidden, weight, bias)]
    leaves[1].requires_grad_(trainable)
    leaves[2].requires_grad_(trainable)
    got = lm_head.token_log_probs(*leaves, labels, ("entropy", "mean_logits", "is_top1", "log_sum_sq_probs"))
    (got[0] * upstream).sum().backward()
    ref = [t.clone().requires_grad_(True) for t in (hidden, weight, bias)]
    z = ref[0] @ ref[1].t() + ref[2]
    logp = z.log_softmax(-1)
    expected = logp.gather(1, labels[:, None]).squeeze(1)
    (expected * upstream).sum().backward()
    torch.testing.assert_close(got[0], expected.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[1], -(logp.exp() * logp).sum(-1).detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[2], z.mean(-1).detach(), atol=1e-5, rtol=1e-5)
    assert torch.equal(got[3].bool(), z.argmax(-1) == labels)
    torch.testing.assert_close(got[4], torch.logsumexp(2 * logp, -1).detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(leaves[0].grad, ref[0].grad, atol=1e-5, rtol=1e-5)
    if trainable:
        torch.testing.assert_close(leaves[1].grad, ref[1].grad, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(leaves[2].grad, ref[2].grad, atol=1e-5, rtol=1e-5)


def _tiny_qwen2(tie: bool):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tie)
    return Qwen2ForCausalLM(config)


@pytest.mark.parametrize("tie", [False, True])
def test_installed_head_gives_transformers_loss_and_gradients(small_chunks, tie: bool) -> None:
    import copy

    from trl.trainer.utils import add_fused_lm_head

    model = _tiny_qwen2(tie)
    reference = copy.deepcopy(model)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    assert lm_head.install(model, ("entropy", "is_top1"))
    ids = torch.randint(0, 300, (3, 20))
    mask = torch.ones_like(ids)
    mask[2, 15:] = 0  # a padded row
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :6] = -100  # a prompt
    out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
    out.loss.backward()
    expected = reference(input_ids=ids, attention_mask=mask, labels=labels).loss
    expected.backward()
    torch.testing.assert_close(out.loss, expected, atol=1e-5, rtol=1e-5)
    assert out.label_mask.sum() == (labels[:, 1:] != -100).sum() and out.is_top1.dtype == torch.bool
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)
    plain = model(input_ids=ids, attention_mask=mask)  # without fused_lm_head: the model's own forward
    assert plain.logits.shape == (3, 20, 300)


def test_models_with_transformed_logits_keep_trls_head() -> None:
    from transformers import Gemma2Config

    assert "final_logit_softcapping" in lm_head.keeps_trl_head(Gemma2Config())
    assert lm_head.keeps_trl_head(_tiny_qwen2(False).config) is None


def test_head_choice_by_device_stage_and_recipe() -> None:
    assert choose_head("sft", cuda=False).head == "chunked"
    assert choose_head("dpo", cuda=True).head == "trl"
    assert choose_head("sft", cuda=False, moe=True).head == "chunked"
    assert choose_head("sft", cuda=True, moe=True).head == "chunked"
    assert choose_head("sft", cuda=True, requested="chunked").head == "chunked"
    assert choose_head("rm", cuda=False, requested="chunked").head == "model"
    assert choose_head("orpo", cuda=True).head == "model"


def test_the_plan_records_the_head() -> None:
    from dayzero.sdk import compile as compile_plan

    cpu = compile_plan("quickstart", cuda=False)
    assert cpu.trainer.lm_head == "chunked" and "CPU" in cpu.trainer.lm_head_reason
    assert "lm head   chunked" in cpu.render()
    assert compile_plan("quickstart", cuda=True, overrides=["train.precision=fp32"]).trainer.lm_head == "trl"
    forced = compile_plan("quickstart", cuda=False, overrides=["train.lm_head=trl"])
    assert forced.trainer.lm_head == "trl" and "recipe" in forced.trainer.lm_head_reason
    assert cpu.cost is not None and cpu.cost.trainable and "peak memory" in cpu.render()


def test_sharded_runs_keep_trls_head() -> None:
    """Under FSDP2 the LM head's weight is a DTensor shard, which the chunked head cannot multiply with."""
    from dayzero.sdk.train.head_choice import choose_head

    assert choose_head("sft", cuda=False).head == "chunked"
    assert choose_head("sft", cuda=False, sharded=True).head == "trl"


def test_chunked_head_adds_the_router_loss_on_granite_moe() -> None:
    """GraniteMoe names `num_local_experts` (TRL 1.16's head reads `num_experts` and errors) and divides its logits
    by `logits_scaling`: the chunked head gives the model's own loss, router load-balancing loss included."""
    import torch
    import transformers

    from dayzero import registry

    torch.manual_seed(0)
    arch = registry.get("granite3-moe").architecture
    config = transformers.GraniteMoeConfig(**arch.tiny, output_router_logits=True, router_aux_loss_coef=0.5,
                                           logits_scaling=4.0)
    assert not hasattr(config, "num_experts")
    model = transformers.AutoModelForCausalLM.from_config(config)
    ids = torch.randint(3, 512, (2, 12))
    expected = model(input_ids=ids, labels=ids, output_router_logits=True)
    assert float(expected.aux_loss) > 0
    assert lm_head.install(model, ("entropy",))
    got = model(input_ids=ids, labels=ids, fused_lm_head=True)
    torch.testing.assert_close(got.aux_loss, expected.aux_loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got.loss, expected.loss, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["llama4", "granite4", "granite3-moe", "qwen3-moe"])
@pytest.mark.parametrize("cuda", [False, True])
def test_compiled_plans_name_the_head_for_moe_families(family: str, cuda: bool) -> None:
    """The head of a MoE run is decided by the compiler from `architecture.moe` and written in the Plan,
    with its reason; no stage swaps it at train time (TRL 1.16's head fails on GraniteMoe and Llama4)."""
    from dayzero.sdk import compile as compile_plan

    recipe = {"name": "t", "model": {"id": f"tiny:{family}"}, "data": {"datasets": ["demo_sft"]}}
    plan = compile_plan(recipe, cuda=cuda)
    assert plan.trainer.lm_head == "chunked"
    assert "router" in plan.trainer.lm_head_reason and "num_local_experts" in plan.trainer.lm_head_reason
    assert f"lm head   chunked: {plan.trainer.lm_head_reason}" in plan.render()
    dense = compile_plan({**recipe, "model": {"id": "tiny:qwen2"}}, cuda=cuda)
    assert dense.trainer.lm_head == ("trl" if cuda else "chunked")
