"""`dayzero run quickstart-vl`: a tiny Qwen2-VL trains on the bundled colour pictures, is exported (checked on an
image prompt), served on loopback, and answers one image question; then its export, reloaded, names the colour
of each bundled picture through the OpenAI client, which it can only do by reading the pixels (the question is
the same for every picture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

COLOURS = ("red", "green", "blue", "yellow")  # recipes/data/vl_demo/<colour>.png (make_vl_demo.py)


def test_quickstart_vl_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openai import OpenAI

    from dayzero.cli import main
    from dayzero.sdk import serve
    from dayzero.sdk.recipe.load import bundled_dir
    from dayzero.sdk.serve import ServerThread, create_app
    from dayzero.sdk.serve.images import data_uri

    monkeypatch.chdir(tmp_path)
    main(["run", "quickstart-vl"])  # its time is measured by benchmarks/quickstart.py --recipe quickstart-vl, not asserted here
    run = tmp_path / "runs" / "quickstart-vl"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "done" and info["family"] == "qwen2-vl"
    vision = info["export"]["vision"]
    assert vision["image_probe_max_logit_diff"] <= 1e-5 and vision["image_tokens"] > 0
    assert vision["trained_image_max_logit_diff"] <= 1e-5  # the full fine-tune as it was in memory
    assert {"preprocessor_config.json", "processor_config.json", "chat_template.jinja"} <= set(
        info["export"]["files"]
    )
    # the sample: the recipe's image (blue.png) and question, answered through the server
    assert Path(info["sample"]["image"]).name == "blue.png"
    assert "blue" in info["sample"]["reply"].lower()

    svc = serve.load_service(run, name="vl")
    try:
        with ServerThread(create_app(svc)) as srv:
            client = OpenAI(base_url=srv.base_url, api_key="unused", timeout=120, max_retries=0)
            replies = {}
            for colour in COLOURS:
                picture = (bundled_dir() / "data" / "vl_demo" / f"{colour}.png").read_bytes()
                r = client.chat.completions.create(
                    model="vl",
                    max_tokens=12,
                    temperature=0,
                    messages=[
                        {
                            "role": "user",
                            "content": [
                                {"type": "image_url", "image_url": {"url": data_uri(picture)}},
                                {"type": "text", "text": "What colour is the square?"},
                            ],
                        }
                    ],
                )
                replies[colour] = r.choices[0].message.content.lower()
    finally:
        svc.backend.close()
    assert all(colour in replies[colour] for colour in COLOURS), replies
    assert len(set(replies.values())) == len(COLOURS)
