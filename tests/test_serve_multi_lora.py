"""Several LoRA adapters on one base with the hf back end, routed by the request's `model` (as vLLM does).

Two adapters with different random (non-zero) B matrices on a tiny Qwen2: through the OpenAI client each
name must answer what peft's own model with that adapter generates greedily, the base name what the plain
base generates, `/v1/models` must list the three, and an unknown name gets OpenAI's 404.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dayzero import registry

pytestmark = pytest.mark.slow

PROMPT = "Hello there, how"
NEW = 6


def _adapter(base: Path, out: Path, seed: int) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base))
    peft_model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"])
    )
    torch.manual_seed(seed)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(0, 0.5)
    peft_model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    from dayzero.sdk.tiny import save_tiny

    root = tmp_path_factory.mktemp("multi-lora")
    base = save_tiny(registry.get("qwen2"), root / "base")
    return base, _adapter(base, root / "a", 1), _adapter(base, root / "b", 2)


def _reference(base: Path, adapter: Path | None, prompt_ids: list[int], stop_ids: list[int]) -> list[int]:
    """Greedy tokens from transformers (+ peft), independent of the server."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base))
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    ids = torch.tensor([prompt_ids])
    with torch.no_grad():
        out = model.eval().generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=NEW,
            do_sample=False,
            eos_token_id=stop_ids,
        )
    new = out[0, len(prompt_ids) :].tolist()
    return [t for t in new if t not in stop_ids]


def test_two_adapters_answer_by_name(models: tuple[Path, Path, Path]) -> None:
    import openai

    from dayzero.sdk.serve import ServerThread, create_app, find_target, service_for

    base, a, b = models
    service = service_for(find_target(base, name="tiny"), adapters=[("alpha", a), ("beta", b)])
    tok = service.tokenizer
    prompt_ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    stops = service.backend.stop_ids
    with ServerThread(create_app(service)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="none", timeout=120, max_retries=0)
        assert sorted(m.id for m in client.models.list().data) == ["alpha", "beta", "tiny"]
        answers = {}
        for name in ("tiny", "alpha", "beta", "alpha"):  # alpha twice: switching back to an adapter works
            got = client.completions.create(model=name, prompt=PROMPT, max_tokens=NEW, temperature=0)
            answers.setdefault(name, []).append((got.choices[0].text, got.usage.completion_tokens))
        with pytest.raises(openai.NotFoundError, match="gamma"):
            client.completions.create(model="gamma", prompt=PROMPT, max_tokens=2)
    service.backend.close()
    expected = {
        "tiny": _reference(base, None, prompt_ids, stops),
        "alpha": _reference(base, a, prompt_ids, stops),
        "beta": _reference(base, b, prompt_ids, stops),
    }
    assert len({tuple(v) for v in expected.values()}) == 3  # the adapters do change the answer, differently
    for name, outputs in answers.items():
        # random tiny-model tokens are often pieces of UTF-8 characters: compare the whole characters
        want = tok.decode(expected[name], skip_special_tokens=True).replace("\ufffd", "")
        for text, count in outputs:
            assert (text.replace("\ufffd", ""), count) == (want, len(expected[name])), name
    assert len({outputs[0][0] for outputs in answers.values()}) == 3


def test_adapter_names_must_not_clash(models: tuple[Path, Path, Path]) -> None:
    from dayzero.errors import ServeError
    from dayzero.sdk.serve import find_target, service_for

    base, a, _ = models
    with pytest.raises(ServeError, match="already served"):
        service_for(find_target(base, name="tiny"), adapters=[("tiny", a)])
    with pytest.raises(ServeError, match="merged"):
        service_for(find_target(base, name="tiny"), adapters=[("alpha", a)], merge=True)
