"""`dayzero template render|check|caps` take a family id, a hub id (checkpoint overrides apply) or a model folder.

Expected strings are the official templates' own renders (reference data), not dayzero's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from release_fixtures import r1_distill_llama_8b

from dayzero import registry
from dayzero.cli import main
from dayzero.sdk.templates import render_official

CONV = [
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi"},
    {"role": "user", "content": "Again"},
]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def messages(tmp_path: Path) -> Path:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(CONV))
    return path


def test_hub_id_renders_its_checkpoint_template(reference_dir: Path, messages: Path, capsys) -> None:
    """A Llama 3.2 id renders the Llama 3.2 template (today's date), not the family's 3.1 one."""
    argv = [
        "template",
        "render",
        "meta-llama/Llama-3.2-3B-Instruct",
        "--messages",
        str(messages),
        "--add-generation-prompt",
    ]
    code, out, _ = run(argv, capsys)
    source = (reference_dir / "llama.cpp/models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja").read_text()
    assert code == 0
    assert out == render_official(source, CONV, add_generation_prompt=True, bos_token="<|begin_of_text|>")
    _, family_out, _ = run([*argv[:2], "llama3", *argv[3:]], capsys)
    assert family_out != out  # the family's default (3.1) template pins another date line


def test_model_folder_renders_and_checks_like_its_own_template(
    reference_dir: Path, tmp_path: Path, messages: Path, capsys
) -> None:
    folder = r1_distill_llama_8b(reference_dir, tmp_path / "r1")
    code, out, _ = run(
        ["template", "render", str(folder), "--messages", str(messages), "--add-generation-prompt"], capsys
    )
    entry = json.loads((folder / "tokenizer_config.json").read_text())
    assert code == 0
    assert out == render_official(
        entry["chat_template"],
        CONV,
        add_generation_prompt=True,
        bos_token=entry["bos_token"],
        eos_token=entry["eos_token"],
    )
    code, out, _ = run(["template", "check", str(folder)], capsys)
    assert code == 0, out
    code, out, _ = run(["template", "caps", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"], capsys)
    assert (
        code == 0
        and json.loads(out)["reasoning"] == registry.get("deepseek-r1-distill-llama").template.reasoning.mode
    )
