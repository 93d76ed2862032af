"""`dayzero chat` driven through a pipe, and finding what to serve in model, adapter and run directories."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from serve_script import script_factory

from dayzero import registry
from dayzero.errors import ServeError
from dayzero.sdk.serve import find_target

EOT = "<|im_end|>"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dayzero.sdk.tiny import save_tiny

    return save_tiny(registry.get("qwen2"), tmp_path_factory.mktemp("cli") / "tiny-qwen2")


@pytest.mark.slow
def test_chat_loop_streams_answers_and_keeps_history(model_dir: Path) -> None:
    from transformers import AutoTokenizer

    from dayzero.sdk.serve import load_service
    from dayzero.sdk.serve.chat import chat_loop

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    seen: list[str] = []

    def pick(prompt: str) -> str:
        seen.append(prompt)
        turn = prompt.count("<|im_start|>user")
        return f"answer {turn}{EOT}"

    svc = load_service(model_dir, logits_processor_factory=script_factory(tok, pick))
    out = io.StringIO()
    answered = chat_loop(svc, stdin=io.StringIO("first question\nsecond question\n/reset\nthird\n/exit\nignored\n"),
                         stdout=out, max_tokens=20, temperature=0)
    svc.backend.close()
    assert answered == 3
    assert out.getvalue().splitlines() == [
        "assistant> answer 1", "assistant> answer 2", "(conversation reset)", "assistant> answer 1",
    ]
    assert "first question" in seen[1] and "answer 1" in seen[1]  # the history went into the second prompt
    assert "first question" not in seen[2]  # and was forgotten after /reset


@pytest.mark.slow
def test_chat_says_what_an_empty_reply_means(model_dir: Path) -> None:
    from transformers import AutoTokenizer

    from dayzero.sdk.serve import load_service
    from dayzero.sdk.serve.chat import EMPTY_REPLY, chat_loop

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    svc = load_service(model_dir, logits_processor_factory=script_factory(tok, lambda prompt: EOT))  # ends at once
    out = io.StringIO()
    chat_loop(svc, stdin=io.StringIO("hello\n/exit\n"), stdout=out, max_tokens=8, temperature=0)
    svc.backend.close()
    assert out.getvalue().splitlines() == [f"assistant> {EMPTY_REPLY}"]
    assert "ended its turn" in EMPTY_REPLY


@pytest.mark.slow
def test_chat_command_through_a_pipe(model_dir: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "dayzero", "chat", str(model_dir), "--max-tokens", "4", "--temperature", "0"],
        input="hello\nagain\n", capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("assistant> ")]
    assert len(lines) == 2


def test_model_dir_resolves_by_config(model_dir: Path) -> None:
    target = find_target(model_dir)
    assert target.family.id == "qwen2" and target.adapter_dir is None and target.name == "tiny-qwen2"


def test_run_dir_serves_its_export(model_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "export").mkdir(parents=True)
    for f in model_dir.iterdir():
        (run / "export" / f.name).write_bytes(f.read_bytes())
    (run / "run.json").write_text(json.dumps({"family": "qwen2", "status": "done"}))
    target = find_target(run)
    assert target.model_dir == (run / "export").resolve() and target.family.id == "qwen2"
    assert target.name == "run"  # called by the run's name, not `export`


def test_run_dir_with_an_adapter(model_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    (run / "final" / "adapter_config.json").write_text(
        json.dumps({"r": 8, "base_model_name_or_path": str(model_dir), "target_modules": ["q_proj"]}))
    (run / "run.json").write_text(json.dumps({"family": "qwen2"}))
    target = find_target(run, name="lora")
    assert target.adapter_dir == (run / "final").resolve()
    assert target.model_dir == model_dir.resolve() and target.name == "lora"


def test_unfinished_run_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"family": "qwen2", "status": "running"}))
    with pytest.raises(ServeError, match="no exported or trained model"):
        find_target(tmp_path)


def test_adapter_with_a_hub_base_is_refused(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(
        json.dumps({"r": 8, "base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}))
    with pytest.raises(ServeError, match="not a local model directory"):
        find_target(tmp_path)


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dayzero.cli import main

    with pytest.raises(SystemExit) as info:
        main(["serve", str(tmp_path / "missing-dir")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_recipe_serves_its_run(model_dir: Path, tmp_path: Path) -> None:
    from dayzero.sdk.recipe.load import bundled_dir

    run = tmp_path / "qs-run"
    recipe = tmp_path / "recipe.yaml"
    text = (bundled_dir() / "quickstart.yaml").read_text()
    assert "output_dir: runs/{name}" in text
    recipe.write_text(text.replace("output_dir: runs/{name}", f"output_dir: {run}"))
    with pytest.raises(ServeError, match="has not been run"):
        find_target(recipe)
    (run / "export").mkdir(parents=True)
    for f in model_dir.iterdir():
        (run / "export" / f.name).write_bytes(f.read_bytes())
    (run / "run.json").write_text(json.dumps({"family": "qwen2"}))
    target = find_target(recipe)
    assert target.model_dir == (run / "export").resolve() and target.name == "qs-run"


@pytest.mark.slow
@pytest.mark.parametrize("family_id", ["qwen2", "qwen3", "llama3"])
def test_exported_template_renders_like_training(family_id: str, tmp_path: Path) -> None:
    """A model whose tokenizer carries the training template (an export) is served with it, through the
    sandboxed official renderer: the prompt equals the training renderer's text."""
    from dayzero.sdk.serve import find_target, service_for
    from dayzero.sdk.serve.schemas import ChatCompletionRequest
    from dayzero.sdk.templates import ChatTemplate
    from dayzero.sdk.tiny import save_tiny

    family = registry.get(family_id)
    training = ChatTemplate.for_family(family)
    d = save_tiny(family, tmp_path / family_id, chat_template=training.to_jinja())
    svc = service_for(find_target(d))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Who are you?"}]
    prep = svc.prepare_chat(ChatCompletionRequest(model=svc.model_name, messages=messages))
    expected = training.render(messages, add_generation_prompt=True)
    assert svc.tokenizer.decode(prep.prompt_ids, skip_special_tokens=False) == expected
    assert prep.prompt_ids == svc.tokenizer(expected, add_special_tokens=False)["input_ids"]
