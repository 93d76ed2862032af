"""The families' quantization facts hold on their tiny instances loaded in 4 bits (bitsandbytes, CPU):
every nn.Linear outside `skip_modules` is quantized; fused 3-D expert weights stay full precision and are
exactly the family's `not_quantized`; a family where 4-bit does not apply says why."""

from __future__ import annotations

import pytest

from dayzero import registry
from dayzero.conformance.runner import run_family

pytest.importorskip("bitsandbytes")

MOE = ["gpt-oss", "qwen3-moe", "deepseek-v3", "mixtral"]


def _layout(fid: str, reg: object = None) -> dict:
    report = run_family(fid, registry=reg, only=["quantization.bnb-4bit-layout"])
    (check,) = report.checks
    return {"status": check.status.value, "summary": check.summary, "evidence": check.evidence}


@pytest.mark.parametrize("fid", [*MOE, "qwen2"])
def test_layout_matches_the_family_facts(fid: str) -> None:
    result = _layout(fid)
    assert result["status"] == "pass", result["summary"]
    facts = registry.get(fid).quantization
    hits = result["evidence"]["not_quantized_hits"]
    assert set(hits) == set(facts.not_quantized) and all(n > 0 for n in hits.values())
    assert result["evidence"]["full_precision_linear"] == ["lm_head"]  # only skip modules stay nn.Linear


def test_moe_families_record_their_fused_experts_as_not_quantized() -> None:
    for fid in MOE:
        facts = registry.get(fid).quantization
        fused = registry.get(fid).architecture.moe.fused_parameters
        assert {p.rsplit(".", 1)[-1] for p in facts.not_quantized} == set(fused), fid
        assert facts.note and "nn.Linear" in facts.note, fid
        router = registry.get(fid).architecture.moe.router.rsplit(".", 1)[-1]
        assert router in facts.skip_modules, fid


def test_undeclared_full_precision_weights_fail_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = registry.default()
    family = reg.get("qwen3-moe")
    quant = family.quantization.model_copy(update={"not_quantized": ["mlp.experts.gate_up_proj"]})
    monkeypatch.setitem(reg.families, "qwen3-moe", family.model_copy(update={"quantization": quant}))
    result = _layout("qwen3-moe", reg)
    assert result["status"] == "fail"
    assert "does not declare" in result["summary"] and "down_proj" in result["summary"]
