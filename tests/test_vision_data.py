"""Rows with images: both layouts (OpenAI parts, LLaMA-Factory's images column), and bad images as row problems."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from dayzero import registry
from dayzero.errors import DataError
from dayzero.sdk.data.images_rows import prepare_vision
from dayzero.sdk.data.spec import DataConfig
from dayzero.sdk.templates import IGNORE_INDEX, ChatTemplate

REG = registry.load()
DEMO = Path(registry.__file__).resolve().parent.parent / "recipes" / "data"


@pytest.fixture(scope="module")
def qwen2_vl() -> dict:
    from dayzero.sdk.tiny import tiny_tokenizer
    from dayzero.sdk.tiny_vision import image_processor

    family = REG.families["qwen2-vl"]
    return {
        "family": family,
        "tok": tiny_tokenizer(family),
        "proc": image_processor(family, tiny=True),
        "tpl": ChatTemplate.for_family(family),
    }


def _prepare(ctx: dict, datasets: list, **config: object) -> tuple[list, object]:
    cfg = DataConfig(datasets=datasets, cutoff_len=config.pop("cutoff_len", 512), **config)
    return prepare_vision(
        cfg, ctx["family"], template=ctx["tpl"], tokenizer=ctx["tok"], processor=ctx["proc"], base_dir=DEMO
    )


def test_openai_parts_and_llama_factory_images_column_give_the_same_rows(qwen2_vl: dict) -> None:
    parts, stats = _prepare(qwen2_vl, ["demo_vl"])
    column, _ = _prepare(qwen2_vl, ["demo_vl_sharegpt"])
    assert stats.rows_read == len(parts) == len(column) == 16
    for a, b in zip(parts, column, strict=True):
        assert a["input_ids"] == b["input_ids"] and a["labels"] == b["labels"]
        assert (
            a["image_grid_thw"] == b["image_grid_thw"] == [[1, 4, 4]]
        )  # 28 px -> 56 px (min_pixels): 4x4 patches
        assert a["pixel_values"] == b["pixel_values"]


def test_image_tokens_carry_no_label_and_mm_token_type_ids_mark_them(qwen2_vl: dict) -> None:
    rows, _ = _prepare(qwen2_vl, ["demo_vl"])
    pad = qwen2_vl["tok"].convert_tokens_to_ids("<|image_pad|>")
    for row in rows:
        positions = [i for i, t in enumerate(row["input_ids"]) if t == pad]
        assert len(positions) == 4  # 4x4 patches merged 2x2
        assert all(row["labels"][i] == IGNORE_INDEX for i in positions)
        assert [i for i, m in enumerate(row["mm_token_type_ids"]) if m == 1] == positions
        assert any(lab != IGNORE_INDEX for lab in row["labels"])


def _write(tmp_path: Path, rows: list[dict]) -> str:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "ok.png").write_bytes((DEMO / "vl_demo" / "red.png").read_bytes())
    return str(path)


def _row(image: object) -> dict:
    return {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": image}},
                    {"type": "text", "text": "Colour?"},
                ],
            },
            {"role": "assistant", "content": "Red."},
        ]
    }


def test_bad_images_are_row_problems_naming_file_line_image_and_reason(
    qwen2_vl: dict, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        [
            _row("ok.png"),
            _row("missing.png"),
            _row("https://example.com/cat.png"),
            _row("data:image/png;base64," + base64.b64encode(b"not a png").decode()),
            {
                "messages": [
                    {"role": "user", "content": "<image><image>Two?"},
                    {"role": "assistant", "content": "One."},
                ],
                "images": ["ok.png"],
            },
        ],
    )
    with pytest.raises(DataError) as info:
        _prepare(qwen2_vl, [path])
    text = str(info.value)
    assert (
        f"{path}:2: image_missing: image 1 of 1: image file" in text and "missing.png' does not exist" in text
    )
    assert f"{path}:3: image_url: image 1 of 1: image URL 'https://example.com/cat.png' refused" in text
    assert f"{path}:4: image_decode: image 1 of 1: the data URI is not a readable image" in text
    assert f"{path}:5: image_markers: 2 `<image>` markers up to message 0 but 1 images in the row" in text
    assert "4 bad rows" in text

    rows, stats = _prepare(qwen2_vl, [path], on_error="skip")
    assert len(rows) == 1
    assert dict(stats.problems) == {"image_missing": 1, "image_url": 1, "image_decode": 1, "image_markers": 1}


def test_a_row_too_long_with_its_image_tokens_is_dropped_not_cut(qwen2_vl: dict) -> None:
    with pytest.raises(DataError, match=r"too_long: \d+ tokens, over cutoff_len 20 \(with its image tokens"):
        _prepare(qwen2_vl, ["demo_vl"], cutoff_len=20)
