"""The vLLM command line for every family, checked against the family's registry facts.

The command is built and inspected here (vLLM itself runs in tests/test_vllm_real.py, where its
environment is present). Flag names are vLLM's own, read from its source
(`vllm/entrypoints/openai/cli_args.py`, `vllm/engine/arg_utils.py`, `vllm/config/lora.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dayzero import registry
from dayzero.errors import ServeError
from dayzero.registry.engines import engines
from dayzero.sdk.serve import find_target, lint_adapter, max_lora_rank, vllm_command

# Every flag dayzero may emit must be one vLLM's CLI defines.
VLLM_FLAGS = {
    "--host", "--port", "--served-model-name", "--hf-overrides", "--chat-template", "--generation-config",
    "--enable-auto-tool-choice", "--tool-call-parser", "--reasoning-parser", "--enable-lora", "--lora-modules",
    "--max-lora-rank", "--max-loras", "--api-key", "--model", "--tokenizer-mode",
    "--limit-mm-per-prompt",  # vllm/engine/arg_utils.py (MultiModalConfig.limit_per_prompt)
}
# vllm/config/lora.py: MaxLoRARanks = Literal[1, 8, 16, 32, 64, 128, 256, 320, 512]
VLLM_RANKS = {1, 8, 16, 32, 64, 128, 256, 320, 512}
FAMILIES = [f for f in registry.families() if f.serving.vllm_architecture]  # the others are refused (tested below)


@pytest.fixture(autouse=True)
def _no_vllm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The launcher part depends on $DAYZERO_VLLM_PYTHON; these tests pin the `vllm serve` form."""
    monkeypatch.delenv("DAYZERO_VLLM_PYTHON", raising=False)


def _model_dir(root: Path, family, architectures: list[str] | None = None) -> Path:
    """Just the files the command line reads (no weights are needed to build it)."""
    d = root / f"{family.id}-export"
    d.mkdir(parents=True, exist_ok=True)
    arch = architectures or [family.architecture.model_class]
    (d / "config.json").write_text(json.dumps({"architectures": arch, "model_type": family.architecture.model_type,
                                                "vocab_size": 512}))
    (d / "generation_config.json").write_text(json.dumps({"eos_token_id": [1]}))
    (d / "chat_template.jinja").write_text("{{ messages }}")
    return d


def _adapter(root: Path, base: Path, family, **config) -> Path:
    d = root / f"{family.id}-adapter"
    d.mkdir(parents=True, exist_ok=True)
    cfg = {"peft_type": "LORA", "r": 12, "lora_alpha": 24, "base_model_name_or_path": str(base),
           "target_modules": list(family.architecture.lora.attention), "use_dora": False, "modules_to_save": None}
    cfg.update(config)
    (d / "adapter_config.json").write_text(json.dumps(cfg))
    return d


def _flag(cmd: list[str], name: str) -> str | None:
    return cmd[cmd.index(name) + 1] if name in cmd else None


@pytest.mark.parametrize("family", FAMILIES, ids=[f.id for f in FAMILIES])
def test_vllm_command_follows_the_registry(tmp_path: Path, family) -> None:
    d = _model_dir(tmp_path, family)
    cmd = vllm_command(find_target(d, family=family.id, name="mine"), port=8123, api_key="k")
    assert cmd[:4] == ["vllm", "serve", "--model", str(d.resolve())]
    assert {c for c in cmd if c.startswith("--")} <= VLLM_FLAGS
    assert _flag(cmd, "--served-model-name") == "mine"
    assert _flag(cmd, "--port") == "8123" and _flag(cmd, "--host") == "127.0.0.1"
    assert _flag(cmd, "--chat-template") == str(d.resolve() / "chat_template.jinja")
    assert _flag(cmd, "--generation-config") == str(d.resolve())
    # A tool parser only where the template has a tools layout (the probed capability), else nothing to parse.
    caps = family.template.capabilities
    parses = family.serving.tool_call_parser is not None and (caps is None or caps.tools)
    assert _flag(cmd, "--tool-call-parser") == (family.serving.tool_call_parser if parses else None)
    assert ("--enable-auto-tool-choice" in cmd) == parses
    assert _flag(cmd, "--reasoning-parser") == family.serving.reasoning_parser
    assert _flag(cmd, "--api-key") == "k"
    limits = family.vision.serving.limit_mm_per_prompt if family.vision is not None else None
    assert _flag(cmd, "--limit-mm-per-prompt") == (json.dumps(limits, separators=(",", ":"), sort_keys=True)
                                                   if limits is not None else None)
    assert "--enable-lora" not in cmd
    overrides = _flag(cmd, "--hf-overrides")
    if family.serving.vllm_architecture == family.architecture.model_class:
        assert overrides is None
    else:
        assert json.loads(overrides) == {"architectures": [family.serving.vllm_architecture]}


@pytest.mark.parametrize("family", FAMILIES, ids=[f.id for f in FAMILIES])
def test_vllm_command_with_an_adapter(tmp_path: Path, family) -> None:
    base = _model_dir(tmp_path, family)
    adapter = _adapter(tmp_path, base, family, r=12)
    cmd = vllm_command(find_target(adapter, family=family.id, name="my-lora"))
    assert "--enable-lora" in cmd
    assert _flag(cmd, "--lora-modules") == f"my-lora={adapter.resolve()}"
    assert _flag(cmd, "--served-model-name") == base.name
    rank = int(_flag(cmd, "--max-lora-rank"))
    buckets = engines().vllm.lora.max_rank_buckets
    assert rank in buckets and rank in VLLM_RANKS
    assert rank >= 12 and all(b < 12 for b in buckets if b < rank)


def test_rank_buckets() -> None:
    assert set(engines().vllm.lora.max_rank_buckets) == VLLM_RANKS
    assert [max_lora_rank(r) for r in (1, 2, 8, 9, 16, 17, 300, 512)] == [1, 8, 8, 16, 16, 32, 320, 512]
    with pytest.raises(ServeError, match="max_rank_buckets"):
        max_lora_rank(513)


@pytest.mark.parametrize(
    ("config", "quoted"),
    [
        ({"use_dora": True}, "families/engines.yaml vllm.lora.dora"),
        ({"modules_to_save": ["lm_head"]}, "families/engines.yaml vllm.lora.modules_to_save"),
        ({"trainable_token_indices": [5, 6]}, "families/engines.yaml vllm.lora.added_tokens"),
        ({"r": 1024}, "families/engines.yaml vllm.lora.max_rank_buckets"),
        ({"init_lora_weights": "pissa"}, "families/engines.yaml vllm.lora.init_lora_weights"),
        ({"peft_type": "OFT"}, "families/engines.yaml vllm.lora.peft_types"),
        ({"target_modules": ["q_proj", "router_proj"]}, "families/qwen2.yaml serving.lora.packed_modules"),
    ],
)
def test_adapters_vllm_would_refuse(tmp_path: Path, config: dict, quoted: str) -> None:
    family = registry.get("qwen2")
    adapter = _adapter(tmp_path, _model_dir(tmp_path, family), family, **config)
    with pytest.raises(ServeError, match="vLLM would not serve") as info:
        lint_adapter(adapter, family)
    assert quoted in str(info.value)
    with pytest.raises(ServeError):
        vllm_command(find_target(adapter, family="qwen2"))


def test_packed_module_names_are_accepted(tmp_path: Path) -> None:
    family = registry.get("qwen2")  # packed: qkv_proj, gate_up_proj
    adapter = _adapter(tmp_path, _model_dir(tmp_path, family), family, target_modules=["qkv_proj", "down_proj"], r=8)
    assert lint_adapter(adapter, family) == 8


def test_no_vllm_architecture_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    family = registry.get("qwen2")
    bare = family.model_copy(update={"serving": family.serving.model_copy(update={"vllm_architecture": None})})
    target = find_target(_model_dir(tmp_path, family), family="qwen2")
    target = type(target)(model_dir=target.model_dir, view=target.view.model_copy(update={"family": bare}), name=target.name)
    with pytest.raises(ServeError, match=r"no vLLM architecture.*serving.vllm_architecture"):
        vllm_command(target)


def test_family_template_written_when_export_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dayzero.sdk.templates.chat_template import ChatTemplate

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    family = registry.get("qwen3")
    d = _model_dir(tmp_path, family)
    (d / "chat_template.jinja").unlink()
    cmd = vllm_command(find_target(d, family="qwen3"))
    path = Path(_flag(cmd, "--chat-template"))
    assert path.read_text() == ChatTemplate.for_family(family).to_jinja()


def test_cli_prints_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    from dayzero.cli import main

    d = _model_dir(tmp_path, registry.get("qwen3"))
    main(["serve", str(d), "--backend", "vllm", "--print-vllm-command", "--family", "qwen3", "--port", "9001"])
    cmd = shlex.split(capsys.readouterr().out)
    assert cmd[:4] == ["vllm", "serve", "--model", str(d.resolve())]
    assert _flag(cmd, "--reasoning-parser") == "qwen3" and _flag(cmd, "--port") == "9001"


def test_cli_without_vllm_installed_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from dayzero.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no `vllm` executable anywhere
    d = _model_dir(tmp_path, registry.get("qwen2"))
    with pytest.raises(SystemExit) as info:
        main(["serve", str(d), "--backend", "vllm", "--family", "qwen2"])
    assert info.value.code == 2
    assert "vllm is not installed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("family_id", "expected"),
    [
        ("deepseek-r1-distill", "<think>\nThe user asks about Paris.\n</think>\n\nIt is sunny."),
        ("qwen3", "<think>\nThe user asks about Paris.\n</think>\n\nIt is sunny."),
        # the prompt ends with `<think>\n` (R1-Llama's template opens the block): the model writes the rest
        ("deepseek-r1-distill-llama", "The user asks about Paris.\n</think>\n\nIt is sunny."),
    ],
)
def test_scripted_thinking_answer_is_what_the_model_writes(family_id: str, expected: str, tmp_path: Path) -> None:
    """serve.vllm feeds vLLM's reasoning parser the text a thinking model writes after the prompt. R1's
    template strips reasoning from every rendered answer, so the render alone would give the parser no
    reasoning at all (what failed on vLLM: the answer was read as reasoning); the block must be there."""
    from dayzero.conformance.checks.serve_vllm import _thinking_answer
    from dayzero.conformance.context import Context

    fam = registry.get(family_id)
    ctx = Context(family=fam, registry=registry.default(), workdir=tmp_path, reference_dir=None, official=None,
                  previous=None)
    answer = {"role": "assistant", "content": "It is sunny.", "reasoning_content": "The user asks about Paris."}
    thinking = "on" if fam.template.reasoning.mode == "hybrid" else None
    text = _thinking_answer(ctx, {"role": "user", "content": "Weather?"}, answer, thinking)
    assert text == expected
