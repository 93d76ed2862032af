"""A release's small files, assembled from reference data when the hub cannot be reached.

`shared/reference/openvino.genai/tokenizer-configs.json` maps 166 hub ids to the bos / eos / pad / unk
tokens and chat template(s) of their `tokenizer_config.json`; llama.cpp, TRL and huggingface.js hold
more templates. A config.json is not in the reference data for most releases: its few facts
(architecture, model_type, and whatever else the caller can back) are given by the caller, who says
where they come from. The folder written here is what `dayzero day0`, `registry resolve` and the
compiler read: config.json, tokenizer_config.json, optionally generation_config.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dayzero.errors import ConformanceError, Where

OPENVINO_TABLE = "openvino.genai/tokenizer-configs.json"


def openvino_entry(reference: Path, hub_id: str) -> dict[str, Any]:
    """The table entry for `hub_id` (bos/eos/pad/unk tokens and chat_template)."""
    path = reference / OPENVINO_TABLE
    try:
        models = json.loads(path.read_text(encoding="utf-8"))["models"]
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise ConformanceError(
            f"cannot read the openvino.genai table: {exc}", where=Where(file=str(path))
        ) from None
    if hub_id not in models:
        raise ConformanceError(f"{hub_id!r} is not in the openvino.genai table", where=Where(file=str(path)))
    return dict(models[hub_id])


def write_release(
    out: Path,
    *,
    config: dict[str, Any],
    tokens: dict[str, Any],
    chat_template: str | None = None,
    token_ids: dict[str, int] | None = None,
    add_bos_token: bool | None = None,
    generation_config: dict[str, Any] | None = None,
) -> Path:
    """Write config.json, tokenizer_config.json (and generation_config.json) to `out`; return `out`.

    `tokens` holds bos_token / eos_token / pad_token / unk_token (an openvino entry fits); `token_ids`
    maps token text to id for `added_tokens_decoder`, so generation_config eos ids can be named.
    """
    out.mkdir(parents=True, exist_ok=True)
    tcfg: dict[str, Any] = {k: tokens.get(k) for k in ("bos_token", "eos_token", "pad_token", "unk_token")}
    template = chat_template if chat_template is not None else tokens.get("chat_template")
    if isinstance(template, dict):  # openvino keeps named variants: transformers' list form
        template = [{"name": name, "template": text} for name, text in template.items()]
    if template is not None:
        tcfg["chat_template"] = template
    if add_bos_token is not None:
        tcfg["add_bos_token"] = add_bos_token
    if token_ids:
        tcfg["added_tokens_decoder"] = {
            str(i): {"content": text, "special": True}
            for text, i in sorted(token_ids.items(), key=lambda kv: kv[1])
        }
    (out / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(
        json.dumps(tcfg, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    if generation_config is not None:
        (out / "generation_config.json").write_text(json.dumps(generation_config, indent=2), encoding="utf-8")
    return out
