"""Serving a tiny Qwen2-VL: image parts through the OpenAI client, the bounds, the terminal chat, the vLLM flags.

The tiny model is the family's real class (`Qwen2VLForConditionalGeneration`, random weights) with the family's
PIL image processor saved beside it, and the official Qwen2-VL chat template (TRL's `qwen2_5_vl.jinja`, copied
below; `test_inline_template_is_trls` compares the copy with the reference file). Expected replies come from
plain transformers: the test expands the image tokens by hand (56x84 pixels -> 4x6 patches of 14 -> 6 tokens
after the 2x2 merge) and calls `model.generate` itself.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dayzero import registry

pytestmark = pytest.mark.slow

# TRL's trl/chat_templates/qwen2_5_vl.jinja (Qwen2-VL and Qwen2.5-VL), verbatim.
QWEN2_VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)


def _png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), colour)
    image.paste((255 - colour[0], colour[1], 90), (0, 0, width // 2, height // 3))  # not one flat colour
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _uri(data: bytes) -> str:
    from dayzero.sdk.serve.images import data_uri

    return data_uri(data)


@pytest.fixture(scope="module")
def vlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dayzero.sdk.tiny import save_tiny

    return save_tiny(
        registry.get("qwen2-vl"),
        tmp_path_factory.mktemp("vlm") / "tiny-qwen2-vl",
        chat_template=QWEN2_VL_TEMPLATE,
    )


@pytest.fixture(scope="module")
def service(vlm_dir: Path):
    from dayzero.sdk import serve

    svc = serve.load_service(vlm_dir, name="tiny-vl")
    yield svc
    svc.backend.close()


@pytest.fixture(scope="module")
def client(service):
    from openai import OpenAI

    from dayzero.sdk.serve import ServerThread, create_app
    from dayzero.sdk.serve.limits import Limits

    limits = Limits(max_images=2, max_image_pixels=80_000)
    with ServerThread(create_app(service, limits=limits)) as srv:
        yield OpenAI(base_url=srv.base_url, api_key="unused", timeout=120, max_retries=0)


def _expected_reply(
    vlm_dir: Path, images: list[bytes], question: str, max_new_tokens: int
) -> tuple[str, int]:
    """Plain transformers: the PIL image processor, the image tokens expanded by hand, greedy `generate`."""
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoTokenizer, Qwen2VLImageProcessorPil

    tok = AutoTokenizer.from_pretrained(str(vlm_dir))
    model = AutoModelForImageTextToText.from_pretrained(str(vlm_dir), dtype=torch.float32).eval()
    processor = Qwen2VLImageProcessorPil.from_pretrained(str(vlm_dir))
    pil = [Image.open(io.BytesIO(b)).convert("RGB") for b in images]
    pixels = processor(images=pil, return_tensors="pt")
    spans = "".join(
        "<|vision_start|>" + "<|image_pad|>" * (int(grid.prod()) // 4) + "<|vision_end|>"
        for grid in pixels["image_grid_thw"]
    )
    text = (
        f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{spans}{question}"
        "<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = tok(text, add_special_tokens=False, return_tensors="pt")
    types = (ids["input_ids"] == tok.convert_tokens_to_ids("<|image_pad|>")).long()
    stops = [tok.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]  # Qwen2's generation eos
    with torch.inference_mode():
        out = model.generate(
            **ids,
            **pixels,
            mm_token_type_ids=types,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=stops,
        )
    new = out[0, ids["input_ids"].shape[1] :].tolist()
    cut = min([new.index(s) for s in stops if s in new], default=len(new))
    return tok.decode(new[:cut], skip_special_tokens=False), int(ids["input_ids"].shape[1])


def _image_message(*images: bytes, question: str = "What colour is it?") -> list[dict]:
    parts = [{"type": "image_url", "image_url": {"url": _uri(b)}} for b in images]
    return [{"role": "user", "content": [*parts, {"type": "text", "text": question}]}]


def test_image_request_answers_as_plain_transformers(client, vlm_dir: Path) -> None:
    image = _png(56, 84, (200, 30, 30))
    r = client.chat.completions.create(
        model="tiny-vl", messages=_image_message(image), max_tokens=6, temperature=0
    )
    expected, prompt_tokens = _expected_reply(vlm_dir, [image], "What colour is it?", 6)
    assert r.choices[0].message.content == expected
    assert r.usage.prompt_tokens == prompt_tokens  # 6 image tokens for 56x84, counted by hand


def test_two_images_and_streaming(client, vlm_dir: Path) -> None:
    a, b = _png(56, 84, (10, 200, 10)), _png(84, 56, (10, 10, 200))
    messages = _image_message(a, b, question="Compare them.")
    expected, _ = _expected_reply(vlm_dir, [a, b], "Compare them.", 5)
    stream = client.chat.completions.create(
        model="tiny-vl", messages=messages, max_tokens=5, temperature=0, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == expected


def test_the_image_reaches_the_model(service) -> None:
    """Different pixels, same prompt ids: the pixel values the back end gets differ (they are not dropped)."""
    from dayzero.sdk.serve.schemas import ChatCompletionRequest

    preps = [
        service.prepare_chat(
            ChatCompletionRequest.model_validate(
                {"model": "tiny-vl", "messages": _image_message(_png(56, 84, colour))}
            )
        )
        for colour in ((250, 0, 0), (0, 0, 250))
    ]
    assert preps[0].prompt_ids == preps[1].prompt_ids
    assert preps[0].inputs["pixel_values"].shape == (24, 1176)  # 4x6 patches, 3 x 2 x 14 x 14 values each
    assert preps[0].inputs["image_grid_thw"].tolist() == [[1, 6, 4]]
    assert int(preps[0].inputs["mm_token_type_ids"].sum()) == 6
    assert not bool((preps[0].inputs["pixel_values"] == preps[1].inputs["pixel_values"]).all())


def test_request_bounds_through_the_client(client) -> None:
    import openai

    small = _png(28, 28, (1, 2, 3))
    with pytest.raises(openai.BadRequestError) as err:  # limits: 2 images per request
        client.chat.completions.create(
            model="tiny-vl", messages=_image_message(small, small, small), max_tokens=2
        )
    assert err.value.body["param"] == "messages.0.content.2"
    with pytest.raises(openai.APIStatusError) as err:  # 300 x 300 = 90,000 pixels > 80,000
        client.chat.completions.create(
            model="tiny-vl", messages=_image_message(_png(300, 300, (9, 9, 9))), max_tokens=2
        )
    assert err.value.status_code == 413
    url_part = [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                {"type": "text", "text": "hi"},
            ],
        }
    ]
    with pytest.raises(openai.BadRequestError) as err:  # no --allow-image-urls
        client.chat.completions.create(model="tiny-vl", messages=url_part, max_tokens=2)
    assert err.value.body["code"] == "image_url_not_allowed"


def test_text_only_family_refuses_image_parts_through_the_client(tmp_path: Path) -> None:
    import openai

    from dayzero.sdk import serve
    from dayzero.sdk.serve import ServerThread, create_app
    from dayzero.sdk.tiny import save_tiny

    svc = serve.load_service(save_tiny(registry.get("qwen2"), tmp_path / "tiny-qwen2"), name="tiny")
    try:
        with ServerThread(create_app(svc)) as srv:
            client = openai.OpenAI(base_url=srv.base_url, api_key="unused", timeout=60, max_retries=0)
            with pytest.raises(openai.BadRequestError) as err:
                client.chat.completions.create(
                    model="tiny", messages=_image_message(_png(28, 28, (1, 2, 3))), max_tokens=2
                )
            assert err.value.body["param"] == "messages.0.content.0"
            assert "text-only" in err.value.body["message"] and "qwen2" in err.value.body["message"]
            ok = client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=2
            )
            assert ok.choices[0].finish_reason in ("stop", "length")  # text still served
        from dayzero.sdk.serve.chat import chat_loop

        (tmp_path / "a.png").write_bytes(_png(28, 28, (1, 2, 3)))
        out = io.StringIO()
        answered = chat_loop(
            svc,
            stdin=io.StringIO(f"/image {tmp_path / 'a.png'}\nwhat is it?\nhello\n"),
            stdout=out,
            max_tokens=2,
            temperature=0,
        )
        text = out.getvalue()
        assert answered == 1 and "text-only" in text and "(the attached images were dropped)" in text
    finally:
        svc.backend.close()


def test_terminal_chat_attaches_an_image(service, vlm_dir: Path, tmp_path: Path) -> None:
    from dayzero.sdk.serve.chat import EMPTY_REPLY, chat_loop

    image = _png(56, 84, (200, 30, 30))
    (tmp_path / "red.png").write_bytes(image)
    script = io.StringIO(
        f"/image {tmp_path / 'missing.png'}\n/image {tmp_path / 'red.png'}\nWhat colour is it?\n/exit\n"
    )
    out = io.StringIO()
    assert chat_loop(service, stdin=script, stdout=out, max_tokens=6, temperature=0) == 1
    expected, _ = _expected_reply(vlm_dir, [image], "What colour is it?", 6)
    text = out.getvalue()
    assert "error: cannot read image" in text and "missing.png" in text
    assert "(image attached to the next message: 1 so far)" in text
    # the streamed answer, or the line saying the reply was empty (a random tiny model may end its turn at once)
    assert text.split("assistant> ", 1)[1].startswith(expected if expected.strip() else EMPTY_REPLY)


def test_vllm_command_carries_the_multimodal_limit(vlm_dir: Path) -> None:
    from dayzero.sdk.serve import find_target, vllm_command

    cmd = vllm_command(find_target(vlm_dir), launcher=["python", "-m", "vllm"])
    limits = registry.get("qwen2-vl").vision.serving.limit_mm_per_prompt  # the family file's fact
    assert limits == {"image": 4, "video": 1}  # as written in families/qwen2-vl.yaml
    assert cmd[cmd.index("--limit-mm-per-prompt") + 1] == '{"image":4,"video":1}'
    text_cmd = vllm_command(find_target(vlm_dir, family="qwen2"), launcher=["python", "-m", "vllm"])
    assert "--limit-mm-per-prompt" not in text_cmd


@pytest.mark.reference
def test_inline_template_is_trls(reference_dir: Path) -> None:
    official = (reference_dir / "trl" / "trl" / "chat_templates" / "qwen2_5_vl.jinja").read_text(
        encoding="utf-8"
    )
    assert official.rstrip("\n") == QWEN2_VL_TEMPLATE


def test_chat_command_takes_an_image_path(vlm_dir: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "red.png").write_bytes(_png(56, 84, (200, 30, 30)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dayzero",
            "chat",
            str(vlm_dir),
            "--image",
            str(tmp_path / "red.png"),
            "--max-tokens",
            "4",
            "--temperature",
            "0",
        ],
        input="What colour is it?\nand now without a picture\n",
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "error" not in proc.stdout
    assert len([line for line in proc.stdout.splitlines() if line.startswith("assistant> ")]) == 2


def test_concurrent_image_and_text_requests_each_get_their_own_answer(client) -> None:
    """Image jobs run alone (their pixel tensors match one unpadded row); text jobs may batch around them."""
    from concurrent.futures import ThreadPoolExecutor

    requests = [
        _image_message(_png(56, 84, (200, 30, 30))),
        [{"role": "user", "content": "just text"}],
        _image_message(_png(84, 56, (30, 30, 200)), question="And this one?"),
        [{"role": "user", "content": "more text"}],
    ]

    def ask(messages: list[dict]) -> str:
        r = client.chat.completions.create(model="tiny-vl", messages=messages, max_tokens=5, temperature=0)
        return r.choices[0].message.content

    alone = [ask(m) for m in requests]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(ask, requests))
    assert together == alone


VISION_FAMILIES = [f for f in registry.families() if f.vision is not None]


@pytest.mark.parametrize("family", VISION_FAMILIES, ids=[f.id for f in VISION_FAMILIES])
def test_every_vision_family_serves_an_image_or_names_the_gap(family, tmp_path: Path) -> None:
    """Each VLM family's tiny instance answers an image request, or refuses it with a 400 naming the family fact
    dayzero cannot serve yet (tiling decided by the processor, inputs only the full processor builds)."""
    import asyncio

    from dayzero.sdk import serve
    from dayzero.sdk.serve.api_errors import ApiError
    from dayzero.sdk.serve.schemas import ChatCompletionRequest
    from dayzero.sdk.tiny import save_tiny

    svc = serve.load_service(save_tiny(family, tmp_path / family.id), name="m")
    req = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "max_tokens": 3,
            "temperature": 0,
            "messages": _image_message(_png(60, 40, (200, 30, 30))),
        }
    )
    gap = family.vision.unbuilt_inputs or family.vision.expansion.kind == "processor"
    try:
        if gap:
            with pytest.raises(ApiError) as err:
                svc.prepare_chat(req)
            assert err.value.status == 400
            assert (
                "vision.expansion.kind" in err.value.message or "vision.unbuilt_inputs" in err.value.message
            )
            return
        prep = svc.prepare_chat(req)
        image_id = svc.tokenizer.convert_tokens_to_ids(family.vision.image_token)
        assert prep.prompt_ids.count(image_id) >= 1 and "pixel_values" in prep.inputs
        result = asyncio.run(svc.chat(req, prep))
        assert result.choices[0].finish_reason in ("stop", "length") and result.usage.completion_tokens >= 1
    finally:
        svc.backend.close()


def test_image_tokens_written_as_text_are_refused(client) -> None:
    """A user who types the image token (or the whole placeholder) would desynchronise image features and tokens:
    a 400, not a failed generation."""
    import openai

    for text in ("look: <|image_pad|>", "<|vision_start|><|image_pad|><|vision_end|> twice"):
        for messages in (
            _image_message(_png(56, 84, (1, 2, 3)), question=text),
            [{"role": "user", "content": text}],
        ):
            with pytest.raises(openai.BadRequestError) as err:
                client.chat.completions.create(model="tiny-vl", messages=messages, max_tokens=2)
            assert err.value.body["param"] == "messages"
