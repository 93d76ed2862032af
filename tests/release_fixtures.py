"""Small files of real releases, assembled from ../shared/reference (see conformance/release_files.py).

Each builder says where every fact comes from. Tokens and templates are the reference data's, byte for
byte; config facts that are not in the reference data are named in the builder's docstring.
"""

from __future__ import annotations

from pathlib import Path

from dayzero.conformance.release_files import openvino_entry, write_release


def r1_distill_llama_8b(reference: Path, out: Path) -> Path:
    """deepseek-ai/DeepSeek-R1-Distill-Llama-8B.

    tokenizer_config: bos/eos/pad and chat template from the openvino.genai table (its template is
    byte-identical to llama.cpp/models/templates/deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja).
    config: LlamaForCausalLM with Llama 3's 128256-token vocabulary (the model is distilled into
    Llama-3.1-8B); DeepSeek renamed ids 128000 / 128001 (Llama 3's begin/end of text) to its own bos / eos,
    which generation_config names as eos.
    """
    entry = openvino_entry(reference, "deepseek-ai/DeepSeek-R1-Distill-Llama-8B")
    bos, eos = entry["bos_token"], entry["eos_token"]
    return write_release(
        out,
        config={
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": 128256,
            "bos_token_id": 128000,
            "eos_token_id": 128001,
            "tie_word_embeddings": False,
        },
        tokens=entry,
        add_bos_token=True,
        token_ids={bos: 128000, eos: 128001},
        generation_config={"bos_token_id": 128000, "eos_token_id": 128001},
    )
