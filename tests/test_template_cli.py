"""`dayzero template ...` through the real entry point (subprocess-free: `main(argv)` with captured output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dayzero.cli import main
from dayzero.sdk.templates.testing import tiny_tokenizer

CONV = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi"}]


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


def test_render(messages: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["template", "render", "qwen3", "--messages", str(messages), "--thinking", "off"], capsys)
    assert code == 0
    assert out == "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHi<|im_end|>\n"
    code, out, _ = run(["template", "render", "qwen3", "--messages", str(messages), "--add-generation-prompt",
                        "--thinking", "off"], capsys)
    assert out.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_encode(messages: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tok = tiny_tokenizer(["<|im_start|>", "<|im_end|>"])
    tok.save_pretrained(tmp_path / "tok")
    code, out, _ = run(["template", "encode", "qwen2", "--messages", str(messages), "--tokenizer", str(tmp_path / "tok")],
                       capsys)
    assert code == 0
    data = json.loads(out)
    assert len(data["input_ids"]) == len(data["labels"])
    assert tok.decode([t for t, lab in zip(data["input_ids"], data["labels"], strict=True) if lab != -100]) == "Hi<|im_end|>"


def test_jinja(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["template", "jinja", "llama3"], capsys)
    assert code == 0 and "{%- generation -%}" in out and "<|eot_id|>" in out


def test_check_reports_parity_and_fails_on_mismatch(reference_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["template", "check", "qwen2", "--official",
                        str(reference_dir / "llama.cpp/models/templates/Qwen-Qwen2.5-7B-Instruct.jinja")], capsys)
    assert code == 0 and "cases ok" in out
    code, out, _ = run(["template", "check", "llama3", "--official",
                        str(reference_dir / "llama.cpp/models/templates/Qwen-Qwen2.5-7B-Instruct.jinja")], capsys)
    assert code == 1 and "mismatch" in out and "+++ official" in out


def test_caps_of_a_family_and_of_a_template(reference_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["template", "caps", "llama3"], capsys)
    assert code == 0 and json.loads(out)["parallel_tool_calls"] is False
    path = reference_dir / "llama.cpp/models/templates/Qwen-Qwen3-0.6B.jinja"
    code, out, _ = run(["template", "caps", str(path), "--family", "qwen3"], capsys)
    caps = json.loads(out)
    assert code == 0 and caps["reasoning"] == "hybrid" and caps["prefix_preserving"] is False


def test_errors_are_one_line_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"role": "user", "content": "a"},\n {"role": "robot"}]')
    code, _, err = run(["template", "render", "qwen2", "--messages", str(bad)], capsys)
    assert code == 2 and "messages[1].role" in err and err.count("\n") == 1
    bad.write_text("[{")
    code, _, err = run(["template", "render", "qwen2", "--messages", str(bad)], capsys)
    assert code == 2 and f"{bad}:1" in err


def test_an_official_file_check_cannot_read_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--official` goes through the one reader of reference formats (`conformance.official`); its errors
    stay one line naming the file, exit 2."""
    missing = tmp_path / "nope.jinja"
    code, _, err = run(["template", "check", "qwen2", "--official", str(missing)], capsys)
    assert code == 2 and str(missing) in err and err.count("\n") == 1
    table = tmp_path / "cases.json"
    table.write_text(json.dumps({"cases": [{"name": "a", "chat_template": "{{ x }}"}]}))
    code, _, err = run(["template", "check", "qwen2", "--official", f"{table}#b"], capsys)
    assert code == 2 and "no case named 'b'" in err and str(table) in err and err.count("\n") == 1
    no_template = tmp_path / "tokenizer_config.json"
    no_template.write_text(json.dumps({"eos_token": "</s>"}))
    code, _, err = run(["template", "check", "qwen2", "--official", str(no_template)], capsys)
    assert code == 2 and "chat_template" in err and str(no_template) in err
