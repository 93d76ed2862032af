"""`dayzero serve --backend vllm` for real: vLLM launched from its own environment, two LoRA adapters on one
base answered by name, stopped cleanly.

Needs vLLM's environment (`.ci/setup-vllm-env DIR`, then DAYZERO_VLLM_PYTHON=DIR/bin/python); skipped
with the reason otherwise. One server launch (about 40 s on an idle machine, minutes on a loaded one).
The per-family checks (prompt ids, parsers, LoRA against the merged export) are conformance's
`serve.vllm`; this test covers the command line: launch, routing by `model`, and shutdown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dayzero import registry

PYTHON = os.environ.get("DAYZERO_VLLM_PYTHON")
pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        not PYTHON or not Path(PYTHON).is_file(),
        reason="vLLM's environment is absent (set DAYZERO_VLLM_PYTHON; .ci/setup-vllm-env DIR makes one)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _adapter(base: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter with random (non-zero) B matrices, so that it visibly changes the base's answer."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    config = LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False
    )
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(str(out))  # base_model_name_or_path: the local base directory
    return out


def _peft_logprobs(base: Path, adapter: Path | None, prompt: list[int]) -> list[float]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    with torch.no_grad():
        logits = model.eval()(torch.tensor([prompt])).logits[0, -1]
    return [float(v) for v in torch.log_softmax(logits, -1)]


def _vllm_logprobs(url: str, model: str, prompt: list[int]) -> dict[int, float]:
    import httpx

    body = {
        "model": model,
        "prompt": prompt,
        "max_tokens": 1,
        "temperature": 0,
        "logprobs": 5,
        "return_tokens_as_token_ids": True,
    }
    resp = httpx.post(f"{url}/v1/completions", json=body, timeout=300)
    assert resp.status_code == 200, resp.text
    top = resp.json()["choices"][0]["logprobs"]["top_logprobs"][0]
    return {int(k.removeprefix("token_id:")): v for k, v in top.items()}


def test_two_adapters_by_name_then_a_clean_stop(tmp_path: Path) -> None:
    import httpx

    from dayzero.sdk.serve.vllm_tiny import vllm_tiny_overrides
    from dayzero.sdk.templates import ChatTemplate
    from dayzero.sdk.tiny import save_tiny

    family = registry.get("qwen2")
    base = save_tiny(
        family,
        tmp_path / "base",
        chat_template=ChatTemplate.for_family(family).to_jinja(),
        extra=vllm_tiny_overrides(family),
    )
    first, second = _adapter(base, tmp_path / "first", 1), _adapter(base, tmp_path / "second", 2)
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "dayzero",
        "serve",
        str(first),
        "--backend",
        "vllm",
        "--served-model-name",
        "alpha",
        "--adapter",
        f"beta={second}",
        "--port",
        str(port),
        "--vllm-python",
        str(PYTHON),
        "--vllm-args",
        "--dtype float32 --enforce-eager --max-model-len 1024 --max-num-seqs 2",
    ]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        names = sorted(m["id"] for m in httpx.get(f"{url}/v1/models", timeout=60).json()["data"])
        assert names == ["alpha", "base", "beta"]
        prompt = [5, 17, 42, 99, 7]
        got = {name: _vllm_logprobs(url, name, prompt) for name in ("base", "alpha", "beta")}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()[-3000:]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=5)  # vLLM is gone with the command that started it
    # each name answers with its own weights: as transformers + peft computes them, and not as the others
    expected = {
        "base": _peft_logprobs(base, None, prompt),
        "alpha": _peft_logprobs(base, first, prompt),
        "beta": _peft_logprobs(base, second, prompt),
    }
    for name, top in got.items():
        for other, ref in expected.items():
            gap = max(abs(v - ref[i]) for i, v in top.items())
            assert (gap < 2e-3) == (name == other), (name, other, gap)


def test_conformance_serve_vllm_on_qwen2(reference_dir: Path) -> None:
    """The conformance check on one family: prompt ids, the hermes parser, LoRA vs base and merged."""
    from dayzero.conformance.result import Status
    from dayzero.conformance.runner import run_family

    check = run_family("qwen2", reference_dir=reference_dir, only=["serve.vllm"]).checks[0]
    assert check.status == Status.passed, check.summary
    ev = check.evidence
    assert ev["vllm"].startswith("0.") and ev["models"] == ["base", "lora"]
    assert {"single", "system", "tool_call", "parallel_calls"} <= set(ev["tokenize_same"])
    assert ev["tokenize_different"] == []
    parsed = [list(c) for c in ev["tool_call_parser"]["parsed"]]  # tuples in memory, lists in the JSON report
    assert ev["tool_call_parser"]["ok"] and parsed == [["get_weather", {"city": "Paris"}]]
    assert ev["lora"]["base_vs_adapter_max_gap"] > 1e-2 and ev["lora"]["adapter_vs_merged_max_gap"] < 2e-3
