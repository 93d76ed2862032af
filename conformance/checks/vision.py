"""Vision-language checks: where image tokens go, that they are never trained, and a train step on images.

- `template.image-placement`: the image battery (`IMAGE_CASES`) rendered by the family's format with its
  placeholders equals the official template's render of the same conversations as typed parts (cases in
  `vision.deviations` excepted), and each placeholder expands to the counted image tokens inside `expanded`.
- `template.image-masking`: with the prompt trained too (`train_on_prompt`), no image token and no vision token
  is ever a label, while the answer is.
- `train.image-step`: the tiny instance trains on the bundled demo pictures through `sdk.data.images_rows` and
  `VisionCollator`: the loss is finite and falls over a few steps, and it depends on the pixels (other pictures,
  another loss), so the step is image-conditioned.

Text families: not applicable.
"""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..result import NotApplicable, Outcome, Unavailable
from .base import check

STEPS = 6


def _vision(ctx: Context) -> Any:
    if ctx.family.vision is None:
        raise NotApplicable(f"{ctx.family.id} is a text family (no `vision` section)")
    return ctx.family.vision


def _cases(vision: Any) -> dict[str, list[dict[str, Any]]]:
    from dayzero.sdk.templates.vision import IMAGE_CASES

    return {k: v for k, v in IMAGE_CASES.items() if vision.multi_image or k != "two_images"}


@check(
    "template.image-placement",
    "image placeholders render where the official template puts them, and expand to the counted image tokens",
)
def placement(ctx: Context) -> Outcome:
    from dayzero.sdk.templates import IGNORE_INDEX, render_official
    from dayzero.sdk.templates.vision import encode_with_images, flatten

    vision = _vision(ctx)
    files = ctx.official_files()
    official = files.chat_template
    if not official:
        raise NotApplicable(f"no chat template in {files.source}")
    tok_cfg = files.tokenizer_config or {}
    bos = (
        tok_cfg.get("bos_token")
        if isinstance(tok_cfg.get("bos_token"), str)
        else ctx.family.tokenizer.bos or ""
    )
    eos = (
        tok_cfg.get("eos_token")
        if isinstance(tok_cfg.get("eos_token"), str)
        else ctx.family.tokenizer.eos or ""
    )
    deviations = {d.case for d in vision.deviations}
    template = ctx.chat_template()
    tokenizer = ctx.tiny_tokenizer()
    agreed, differing, skipped = [], {}, []
    for name, messages in _cases(vision).items():
        flat, refs = flatten(messages, vision)
        ours = template.render(flat)
        theirs = render_official(
            official, messages, bos_token=bos, eos_token=eos, **ctx.family.template.official_kwargs
        )
        if name in deviations:
            skipped.append(name)
        elif ours == theirs:
            agreed.append(name)
        else:
            differing[name] = {"ours": ours[-160:], "official": theirs[-160:]}
        counts = [
            3 + k for k in range(len(refs))
        ]  # a different count per image: each placeholder takes its own
        enc = encode_with_images(template, flat, tokenizer, vision, counts)
        image_id = tokenizer.convert_tokens_to_ids(vision.image_token)
        pieces = ours.split(vision.placeholder)
        expected = pieces[0] + "".join(
            vision.expanded.replace("{image}", vision.image_token * n) + rest
            for n, rest in zip(counts, pieces[1:], strict=True)
        )
        if enc.text != expected:
            differing[f"{name}:expansion"] = {"expected": expected[-200:], "got": enc.text[-200:]}
        if any(
            lab != IGNORE_INDEX for t, lab in zip(enc.input_ids, enc.labels, strict=True) if t == image_id
        ):
            differing[f"{name}:labels"] = {"trained image tokens": True}
    summary = (
        f"{len(agreed)}/{len(agreed) + len(differing)} image cases render as the official template"
        + (f" ({', '.join(skipped)}: recorded deviations)" if skipped else "")
        + (f"; differ: {sorted(differing)}" if differing else "")
    )
    return Outcome(not differing, summary, {"agreed": agreed, "differ": differing, "deviations": skipped})


@check("template.image-masking", "no image or vision token is ever trained, even with train_on_prompt")
def masking(ctx: Context) -> Outcome:
    from dayzero.sdk.templates import IGNORE_INDEX
    from dayzero.sdk.templates.vision import IMAGE_CASES, encode_with_images, flatten

    vision = _vision(ctx)
    tokenizer = ctx.tiny_tokenizer()
    never = {tokenizer.convert_tokens_to_ids(t) for t in vision.tokens()}
    flat, refs = flatten(IMAGE_CASES["image_first"], vision)
    problems = []
    trained_total = 0
    for train_on_prompt in (False, True):
        enc = encode_with_images(
            ctx.chat_template(), flat, tokenizer, vision, [4] * len(refs), train_on_prompt=train_on_prompt
        )
        trained = [t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE_INDEX]
        if any(t in never for t in trained):
            problems.append(f"a vision token is trained (train_on_prompt={train_on_prompt})")
        if not trained:
            problems.append(f"nothing is trained (train_on_prompt={train_on_prompt})")
        trained_total += len(trained)
    answer = tokenizer.encode("A red square.", add_special_tokens=False)
    return Outcome(
        not problems,
        "; ".join(problems)
        or f"{len(never)} vision token ids never labelled; the answer ({len(answer)} ids) is",
        {"vision_token_ids": len(never), "trained_tokens": trained_total},
    )


def _demo_rows(ctx: Context, tokenizer: Any, model: Any) -> list[dict[str, Any]]:
    import json
    from pathlib import Path

    import dayzero.recipes
    from dayzero.sdk.data.images_rows import encode_row
    from dayzero.sdk.tiny_vision import image_processor

    data = Path(dayzero.recipes.__file__).parent / "data"
    processor = image_processor(ctx.family, tiny=True)
    rows = []
    for line in (data / "vl_demo.jsonl").read_text(encoding="utf-8").splitlines()[:8]:
        rows.append(
            encode_row(
                json.loads(line),
                ctx.family,
                ctx.chat_template(),
                tokenizer,
                processor,
                base_dir=data,
                model_config=model.config,
            )
        )
    return rows


@check(
    "train.image-step",
    "image-conditioned SFT steps on the tiny instance: finite, falling loss that depends on the pixels",
)
def image_step(ctx: Context) -> Outcome:
    import math

    import torch

    from dayzero.errors import NotSupportedError
    from dayzero.sdk.tiny import tiny_model
    from dayzero.sdk.train.vision import VisionCollator

    _vision(ctx)
    tokenizer = ctx.tiny_tokenizer()
    torch.manual_seed(0)
    model = tiny_model(ctx.family, tokenizer, seed=0)
    try:
        rows = _demo_rows(ctx, tokenizer, model)
    except NotSupportedError as exc:
        raise Unavailable(f"image rows for this family ({exc.message})") from None
    collate = VisionCollator(tokenizer.pad_token_id, tokenizer.padding_side)
    batch = collate(rows[:4])
    swapped = dict(
        batch, pixel_values=batch["pixel_values"].flip(0)
    )  # the same rows with each other's pictures
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    losses = []
    for step in range(STEPS):
        loss = model(**collate(rows[(step % 2) * 4 : (step % 2) * 4 + 4])).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss))
    with torch.no_grad():  # after the steps: some projectors start at zero (Gemma 3's input projection)
        base, other = float(model(**batch).loss), float(model(**swapped).loss)
    problems = []
    if not all(math.isfinite(x) for x in losses):
        problems.append(f"non-finite loss in {losses}")
    elif not min(losses[-2:]) < losses[0]:
        problems.append(f"loss did not fall: {[round(x, 4) for x in losses]}")
    if abs(base - other) < 1e-6:
        problems.append("the loss does not depend on the pixels (swapped pictures, same loss)")
    evidence = {
        "losses": [round(x, 4) for x in losses],
        "loss_swapped_pictures_delta": round(abs(base - other), 6),
        "images": int(batch["pixel_values"].shape[0])
        if "image_grid_thw" not in batch
        else len(batch["image_grid_thw"]),
    }
    summary = "; ".join(problems) or (
        f"{STEPS} steps on {len(rows)} picture rows, loss {losses[0]:.4f} -> "
        f"{losses[-1]:.4f}; swapping pictures moves the loss by {abs(base - other):.2e}"
    )
    return Outcome(not problems, summary, evidence)
