"""What `dayzero serve` refuses before loading a model: pickle weights and models that are not chat models.

The same defaults as training (`sdk/loading.py`): only safetensors weights load unless asked
(`--allow-pickle`: unpickling a `pytorch_model.bin` runs whatever code it holds), and a directory
whose config says it is a sequence classifier (a reward model export) is refused with the reason,
instead of being loaded as a causal LM with a random head that chats noise.
"""

from __future__ import annotations

from pathlib import Path

from dayzero.errors import ServeError, Where
from dayzero.yamlio import read_json_object

_NOT_GENERATIVE = ("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering")


def check_servable(model_dir: Path, adapter_dir: Path | None = None, *, allow_pickle: bool = False) -> None:
    """Raise a `ServeError` when the weights are pickle-only (and pickle is not allowed) or not a generator."""
    config_path = model_dir / "config.json"
    config = read_json_object(config_path, ServeError)
    archs = config.get("architectures") or []
    heads = [a for a in archs if isinstance(a, str) and a.endswith(_NOT_GENERATIVE)]
    if heads:
        raise ServeError(
            f"{model_dir} is a {heads[0]} model (a reward model or classifier), not a chat model: it scores text, "
            "it does not generate it",
            where=Where(file=str(config_path), field="architectures"),
            hint="serve the policy model trained against it, or load it with transformers to score text",
        )
    if adapter_dir is not None and (adapter_dir / "adapter_config.json").is_file():
        adapter = read_json_object(adapter_dir / "adapter_config.json", ServeError)
        if adapter.get("task_type") == "SEQ_CLS":
            raise ServeError(
                "the adapter was trained for sequence classification (a reward model), not chat",
                where=Where(file=str(adapter_dir / "adapter_config.json"), field="task_type"),
            )
    for folder, stem in ((model_dir, "model"), (adapter_dir, "adapter_model")):
        if folder is None or allow_pickle:
            continue
        pickles = [
            p.name
            for p in (*folder.glob("*.bin"), *folder.glob("*.pt"), *folder.glob("*.pth"))
            if p.name != "training_args.bin"
        ]
        if pickles and not any(folder.glob("*.safetensors")):
            raise ServeError(
                f"{folder} holds only pickle weights ({', '.join(sorted(pickles)[:3])}); loading them runs "
                "whatever code they contain",
                where=Where(file=str(folder)),
                hint=f"convert them to safetensors ({stem}.safetensors), or pass --allow-pickle if you trust the source",
            )
