"""Writes the bundled vision-language demo set (deterministic, offline; Pillow only). From the repo root:

    .venv/bin/python recipes/data/make_vl_demo.py

`vl_demo/*.png`: four 28x28 pictures, each a square of one colour filling the picture but for a thin grey
border, about a hundred bytes each. `vl_demo.jsonl`: OpenAI-style messages with `image` parts naming them;
`vl_demo_sharegpt.json`: the same rows in LLaMA-Factory's layout (`<image>` markers and an `images`
column). The answer depends on the picture only (the questions are shared), so a falling loss means the
model reads the image. Re-running must leave `git diff` empty.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "vl_demo"
COLOURS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (30, 60, 220), "yellow": (230, 210, 30)}
QUESTIONS = [
    "What colour is the square?",
    "Which colour do you see?",
    "Name the colour in the picture.",
    "What is the colour of the shape?",
]


def write_images() -> dict[str, str]:
    from PIL import Image, ImageDraw

    OUT.mkdir(exist_ok=True)
    paths = {}
    for name, rgb in COLOURS.items():
        image = Image.new("RGB", (28, 28), (128, 128, 128))
        ImageDraw.Draw(image).rectangle([2, 2, 25, 25], fill=rgb)
        path = OUT / f"{name}.png"
        image.save(path, format="PNG", optimize=True)
        paths[name] = f"vl_demo/{name}.png"
    return paths


def main() -> None:
    paths = write_images()
    openai_rows, sharegpt_rows = [], []
    for q_index, question in enumerate(QUESTIONS):
        for name, path in paths.items():
            answer = f"The square is {name}."
            image_first = q_index % 2 == 0  # both orders of image and text occur
            parts = [{"type": "image", "image": path}, {"type": "text", "text": question}]
            openai_rows.append(
                {
                    "messages": [
                        {"role": "user", "content": parts if image_first else parts[::-1]},
                        {"role": "assistant", "content": [{"type": "text", "text": answer}]},
                    ]
                }
            )
            sharegpt_rows.append(
                {
                    "conversations": [
                        {
                            "from": "human",
                            "value": f"<image>{question}" if image_first else f"{question}<image>",
                        },
                        {"from": "gpt", "value": answer},
                    ],
                    "images": [path],
                }
            )
    (HERE / "vl_demo.jsonl").write_text("".join(json.dumps(r) + "\n" for r in openai_rows))
    (HERE / "vl_demo_sharegpt.json").write_text(json.dumps(sharegpt_rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
