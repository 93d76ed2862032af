"""One vLLM command builder and one LoRA lint, whoever asks: `dayzero plan`, `dayzero serve`, export.

The plan prints the command before anything is trained; serving builds it from the exported files.
For the same export (merged or adapter-only) and the same environment they must be the same string.
The lint's problems are what export reports, what serving refuses on and what compile's rules
(S002, S004-S006) fire on.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from dayzero import registry, sdk
from dayzero.errors import RecipeError, ServeError
from dayzero.sdk.serve import find_target, lint_adapter_dir, vllm_command


def _recipe(root: Path, name: str, *, merge: bool, **method: Any) -> dict[str, Any]:
    return {
        "name": name,
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": ["demo_sft"], "max_samples": 4, "cutoff_len": 128},
        "method": {"stage": "sft", "adapter": "lora", "r": 12, "alpha": 24, **method},
        "train": {"max_steps": 1, "batch_size": 2, "report_to": "none", "output_dir": str(root / "{name}")},
        "export": {"enabled": True, "merge": merge, "ollama": False},
        "serve": {"backend": "vllm", "port": 8123},
        "sample": {"prompt": None},
    }


@pytest.fixture()
def no_vllm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAYZERO_VLLM_PYTHON", raising=False)


@pytest.mark.slow
@pytest.mark.parametrize("merge", [True, False], ids=["merged", "adapter"])
def test_the_plan_prints_the_command_serve_runs(
    tmp_path: Path, merge: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dayzero.cli import main

    fake_python = tmp_path / "vllm-env" / "bin" / "python"  # the launcher part follows the environment
    fake_python.parent.mkdir(parents=True)
    fake_python.write_text("")
    monkeypatch.setenv("DAYZERO_VLLM_PYTHON", str(fake_python))
    monkeypatch.chdir(tmp_path)
    recipe = _recipe(Path("runs"), "cmd", merge=merge)
    plan = sdk.compile(recipe)
    result = sdk.run(recipe, console=False)
    capsys.readouterr()
    main(["serve", str(result.run_dir), "--backend", "vllm", "--print-vllm-command", "--port", "8123"])
    printed = capsys.readouterr().out.strip()
    assert printed == shlex.join(plan.serve_command)
    cmd = shlex.split(printed)
    assert cmd[:3] == [str(fake_python), "-m", "vllm.entrypoints.openai.api_server"]
    export = (tmp_path / "runs" / "cmd" / "export").resolve()
    assert cmd[cmd.index("--chat-template") + 1] == str(export / "chat_template.jinja")
    assert (export / "chat_template.jinja").is_file()
    if merge:
        assert cmd[cmd.index("--model") + 1] == str(export) and "--enable-lora" not in cmd
    else:  # the adapter on its base, named by the run; rank 12 needs vLLM's bucket 16
        assert cmd[cmd.index("--lora-modules") + 1] == f"cmd={export}"
        assert cmd[cmd.index("--max-lora-rank") + 1] == "16"
        base = Path(cmd[cmd.index("--model") + 1])
        assert (base / "config.json").is_file() and base == (tmp_path / "runs" / "cmd" / "base").resolve()


def _adapter(root: Path, base: Path, name: str, **config: Any) -> Path:
    d = root / name
    d.mkdir(parents=True)
    cfg = {
        "peft_type": "LORA",
        "r": 8,
        "lora_alpha": 16,
        "base_model_name_or_path": str(base),
        "target_modules": ["q_proj", "v_proj"],
        **config,
    }
    (d / "adapter_config.json").write_text(json.dumps(cfg))
    return d


def _base(root: Path) -> Path:
    d = root / "base"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"], "vocab_size": 512}))
    (d / "chat_template.jinja").write_text("{{ messages }}")
    return d


def test_several_adapters_on_one_base(tmp_path: Path, no_vllm_env: None) -> None:
    base = _base(tmp_path)
    first = _adapter(tmp_path, base, "a", r=8)
    second = _adapter(tmp_path, base, "b", r=32)
    cmd = vllm_command(find_target(first, name="alpha"), adapters=[("beta", second)])
    i = cmd.index("--lora-modules")
    assert cmd[i + 1 : i + 3] == [f"alpha={first.resolve()}", f"beta={second.resolve()}"]
    assert cmd[cmd.index("--max-lora-rank") + 1] == "32" and cmd[cmd.index("--max-loras") + 1] == "2"
    bad = _adapter(tmp_path, base, "c", use_dora=True)
    with pytest.raises(ServeError, match=r"vLLM would not serve the adapter in .*/c: .*vllm\.lora\.dora"):
        vllm_command(find_target(first, name="alpha"), adapters=[("gamma", bad)])


def test_the_interpreter_of_vllms_environment_launches_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _base(tmp_path)
    monkeypatch.setenv("DAYZERO_VLLM_PYTHON", "/opt/vllm/bin/python")
    cmd = vllm_command(find_target(base, family="qwen2"))
    assert cmd[:5] == [
        "/opt/vllm/bin/python",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(base.resolve()),
    ]


def test_serve_refuses_on_exactly_the_problems_export_reports(tmp_path: Path) -> None:
    family = registry.get("qwen2")
    adapter = _adapter(tmp_path, _base(tmp_path), "bad", use_dora=True, r=1024, modules_to_save=["lm_head"])
    problems = lint_adapter_dir(adapter, family)
    assert {p.code for p in problems} == {"dora", "rank", "modules-to-save"}
    with pytest.raises(ServeError) as err:
        vllm_command(find_target(adapter, family="qwen2"))
    for problem in problems:
        assert str(problem) in str(err.value)


@pytest.mark.parametrize(
    ("method", "rule"),
    [
        ({"adapter": "dora"}, "S002"),
        ({"adapter": "oft", "oft_block_size": 8}, "S004"),
        ({"adapter": "full"}, "S004"),
        ({"r": 1024}, "S005"),
        ({"adapter": "pissa"}, "S006"),
    ],
)
def test_compile_rules_consult_the_lint(method: dict[str, Any], rule: str) -> None:
    recipe = {
        "name": "t",
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": ["demo_sft"]},
        "method": method,
        "export": {"merge": False},
        "serve": {"backend": "vllm"},
    }
    with pytest.raises(RecipeError, match=rf"\[{rule}\]"):
        sdk.compile(recipe, cuda=False)
    sdk.compile({**recipe, "export": {"merge": True}}, cuda=False)  # merged weights: nothing for the lint


def _mistral_dir(root: Path, *files: str) -> Path:
    d = root / "nemo"
    d.mkdir(parents=True)
    (d / "config.json").write_text(
        json.dumps({"architectures": ["MistralForCausalLM"], "vocab_size": 131072})
    )
    (d / "chat_template.jinja").write_text("{{ messages }}")
    for name in files:
        (d / name).write_text("{}")
    return d


@pytest.mark.parametrize(
    ("files", "mode"),
    [
        (["tekken.json"], "mistral"),  # mistral_common's tokenizer only: vLLM's default would not find one
        (["tokenizer.model.v3"], "mistral"),
        (
            ["tekken.json", "tokenizer.json"],
            None,
        ),  # the HF tokenizer dayzero trained with is there: vLLM's default
        (["tokenizer.json"], None),
    ],
)
def test_tokenizer_mode_mistral_only_where_the_checkpoint_needs_it(
    tmp_path: Path, no_vllm_env: None, files: list[str], mode: str | None
) -> None:
    cmd = vllm_command(find_target(_mistral_dir(tmp_path, *files), family="mistral-nemo"))
    got = cmd[cmd.index("--tokenizer-mode") + 1] if "--tokenizer-mode" in cmd else None
    assert got == mode


def test_tokenizer_mode_is_a_mistral_fact(tmp_path: Path, no_vllm_env: None) -> None:
    """A qwen2 directory holding a file named like mistral_common's gets no mistral mode (the engine table
    lists the families), and every family the table lists exists and is a Mistral architecture."""
    from dayzero.registry.engines import engines

    base = _base(tmp_path)
    (base / "tekken.json").write_text("{}")
    assert "--tokenizer-mode" not in vllm_command(find_target(base, family="qwen2"))
    for fact in engines().vllm.tokenizer_modes.values():
        for family_id in fact.families:
            assert registry.get(family_id).serving.vllm_architecture in (
                "MistralForCausalLM",
                "MixtralForCausalLM",
            )


def test_auto_tool_choice_only_with_a_tools_layout(tmp_path: Path, no_vllm_env: None) -> None:
    """DeepSeek-R1-Distill names vLLM's deepseek_v3 parser but its format writes no tools list: no
    `--enable-auto-tool-choice`; Qwen2 writes one: the flag and its hermes parser."""
    from dayzero.registry.view import view_of
    from dayzero.sdk.serve.vllm_cmd import serves_tools

    reg = registry.default()
    assert registry.get("deepseek-r1-distill").serving.tool_call_parser == "deepseek_v3"
    assert not serves_tools(view_of(reg, reg.get("deepseek-r1-distill")))
    r1 = vllm_command(find_target(_base(tmp_path), family="deepseek-r1-distill"))
    assert "--enable-auto-tool-choice" not in r1 and "--tool-call-parser" not in r1
    qwen = vllm_command(find_target(tmp_path / "base", family="qwen2"))
    assert qwen[
        qwen.index("--enable-auto-tool-choice") + 1 : qwen.index("--enable-auto-tool-choice") + 3
    ] == [
        "--tool-call-parser",
        "hermes",
    ]
    for family in registry.families():  # the flag follows the format's tools layout for every family
        cmd_has = serves_tools(view_of(reg, family))
        fmt = registry.formats()[family.template.format]
        assert cmd_has == bool(family.serving.tool_call_parser and fmt.tools and family.template.tool_dialect)
