"""A release's small files: config.json, tokenizer_config.json, generation_config.json, chat template.

Conformance and `day0` read the facts a model author published, never the weights. The files come
from a local directory, from the Hugging Face Hub (`huggingface_hub.hf_hub_download`, one file at a
time, so nothing large is ever fetched) or from ModelScope (`modelscope`'s single-file download), or,
in tests, from the family's `template.official` file under shared/reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dayzero.errors import ConformanceError, Where
from dayzero.yamlio import read_json_object

SMALL_FILES = ("config.json", "tokenizer_config.json", "generation_config.json", "chat_template.jinja")


@dataclass(frozen=True)
class OfficialFiles:
    """The parsed small files of one release; any of them may be missing (None)."""

    source: str
    config: dict[str, Any] | None = None
    tokenizer_config: dict[str, Any] | None = None
    generation_config: dict[str, Any] | None = None
    chat_template_text: str | None = None

    @property
    def chat_template(self) -> str | None:
        """The official Jinja: `chat_template.jinja` wins over `tokenizer_config.json` (as in transformers)."""
        if self.chat_template_text:
            return self.chat_template_text
        tc = self.tokenizer_config or {}
        tpl = tc.get("chat_template")
        if isinstance(tpl, list):  # named templates: [{"name": "default", "template": ...}, ...]
            named = {t.get("name"): t.get("template") for t in tpl if isinstance(t, dict)}
            tpl = named.get("default") or next(iter(named.values()), None)
        return tpl if isinstance(tpl, str) else None

    def token(self, name: str) -> str | None:
        """A special token named in tokenizer_config.json (`bos_token`, `eos_token`, `pad_token`...)."""
        value = (self.tokenizer_config or {}).get(name)
        if isinstance(value, dict):  # AddedToken serialised as a dict
            value = value.get("content")
        return value if isinstance(value, str) else None

    def added_tokens(self) -> dict[str, int]:
        """Special tokens listed in tokenizer_config.json's `added_tokens_decoder`: content -> id."""
        decoder = (self.tokenizer_config or {}).get("added_tokens_decoder") or {}
        return {v["content"]: int(k) for k, v in decoder.items() if isinstance(v, dict) and "content" in v}


def _read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when the release has no such file."""
    return read_json_object(path, ConformanceError) if path.is_file() else None


def read_dir(directory: Path) -> OfficialFiles:
    """The small files found in a local model directory (a clone, a snapshot, an export)."""
    if not directory.is_dir():
        raise ConformanceError(f"not a directory: {directory}", hint="pass a model directory or a hub id")
    jinja = directory / "chat_template.jinja"
    files = OfficialFiles(
        source=str(directory),
        config=_read_json(directory / "config.json"),
        tokenizer_config=_read_json(directory / "tokenizer_config.json"),
        generation_config=_read_json(directory / "generation_config.json"),
        chat_template_text=jinja.read_text(encoding="utf-8") if jinja.is_file() else None,
    )
    if files.config is None and files.tokenizer_config is None:
        raise ConformanceError(
            "neither config.json nor tokenizer_config.json found", where=Where(file=str(directory))
        )
    return files


def read_reference(path: Path) -> OfficialFiles:
    """A family's `template.official` file: a `.jinja` template, or a tokenizer_config.json (its folder's
    config.json and generation_config.json are read too)."""
    text_path, _, case = str(path).partition("#")
    if case:  # `chat-template-expected.json#<case>`: an inline template of llama.cpp's test (no token files)
        return _read_case(Path(text_path), case)
    if not path.is_file():
        raise ConformanceError(f"official template file not found: {path}", where=Where(field="template.official"))
    if path.suffix == ".jinja":
        return OfficialFiles(source=str(path), chat_template_text=path.read_text(encoding="utf-8"))
    return OfficialFiles(
        source=str(path),
        config=_read_json(path.parent / "config.json"),
        tokenizer_config=_read_json(path),
        generation_config=_read_json(path.parent / "generation_config.json"),
    )


def _read_case(path: Path, case: str) -> OfficialFiles:
    data = _read_json(path)
    if data is None:
        raise ConformanceError(f"official template file not found: {path}", where=Where(field="template.official"))
    if isinstance(data.get("models"), dict):  # openvino.genai's table: the tokens and template of `#<hub id>`
        entry = data["models"].get(case)
        if entry is None:
            raise ConformanceError(f"no model {case!r} in this table", where=Where(file=str(path),
                                                                                field="template.official"))
        template = entry.get("chat_template")
        if isinstance(template, dict):  # named variants, kept as transformers' list form
            template = [{"name": name, "template": text} for name, text in template.items()]
        tokens = {k: entry.get(k) for k in ("bos_token", "eos_token", "pad_token", "unk_token")}
        return OfficialFiles(source=f"{path}#{case}", tokenizer_config={**tokens, "chat_template": template})
    for item in data.get("cases", []):
        if item.get("template_name_or_file") == case:
            return OfficialFiles(source=f"{path}#{case}", chat_template_text=item["template_str"])
        if item.get("name") == case and "chat_template" in item:  # huggingface.js: the template and its context
            data = item.get("data") or {}
            # the context's tokens stand for the release's only when it names both (Zephyr's names eos alone)
            tokens = {k: data[k] for k in ("bos_token", "eos_token") if k in data}
            return OfficialFiles(source=f"{path}#{case}", tokenizer_config=tokens if len(tokens) == 2 else None,
                                 chat_template_text=item["chat_template"])
    raise ConformanceError(f"no case named {case!r}", where=Where(file=str(path), field="template.official"))


def fetch(hub_id: str, *, hub: str = "hf", revision: str | None = None, cache_dir: Path | None = None) -> OfficialFiles:
    """Download the small files of ``hub_id`` one by one (never weights) and read them.

    ``hub`` is ``hf`` (Hugging Face, honours HF_HUB_OFFLINE and the local cache) or ``modelscope``.
    A file the repository does not have is simply absent; no file at all is an error.
    """
    found: dict[str, Path] = {}
    for name in SMALL_FILES:
        try:
            found[name] = Path(_download(hub_id, name, hub=hub, revision=revision, cache_dir=cache_dir))
        except Exception as exc:  # missing file, offline, gated: each library raises its own type
            last = exc
            continue
    if not found:
        raise ConformanceError(
            f"could not fetch any of {', '.join(SMALL_FILES)} for {hub_id!r} from {hub}: {last}",
            hint="check the id, your network / HF_HUB_OFFLINE, or pass a local directory",
        )
    jinja = found.get("chat_template.jinja")
    return OfficialFiles(
        source=f"{hub}:{hub_id}" + (f"@{revision}" if revision else ""),
        config=_read_json(found["config.json"]) if "config.json" in found else None,
        tokenizer_config=_read_json(found["tokenizer_config.json"]) if "tokenizer_config.json" in found else None,
        generation_config=(
            _read_json(found["generation_config.json"]) if "generation_config.json" in found else None
        ),
        chat_template_text=jinja.read_text(encoding="utf-8") if jinja else None,
    )


def _download(hub_id: str, name: str, *, hub: str, revision: str | None, cache_dir: Path | None) -> str:
    if hub == "hf":
        from huggingface_hub import hf_hub_download

        return hf_hub_download(hub_id, name, revision=revision, cache_dir=cache_dir)
    if hub == "modelscope":
        from modelscope.hub.file_download import model_file_download

        return model_file_download(hub_id, name, revision=revision or "master",
                                   cache_dir=str(cache_dir) if cache_dir else None)
    raise ConformanceError(f"unknown hub {hub!r}", hint="use `hf` or `modelscope`")


def load(model: str | Path, *, hub: str = "hf", revision: str | None = None) -> OfficialFiles:
    """``model`` as a local directory when it is one, else as a hub id."""
    path = Path(model)
    if path.exists():
        return read_dir(path)
    return fetch(str(model), hub=hub, revision=revision)
