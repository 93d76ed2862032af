"""What a newcomer trips over in the first ten minutes: hints that name commands that exist, one rule for
relative paths, packing refused at plan time, recipe locks that check what they pin, the loss plot's axis,
and a console with no raw metric dicts."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from dayzero.cli import _register, app
from dayzero.errors import RecipeError, RegistryError
from dayzero.sdk import compile as compile_plan
from dayzero.sdk import load_recipe

MINIMAL = 'name: t\nmodel:\n  id: "tiny:qwen2"\ndata:\n  datasets: [demo_sft]\n'


def _commands(group: Any = None, prefix: str = "dayzero") -> dict[str, Any]:
    if group is None:
        _register()  # the command modules add themselves to `app` on import
        group = get_command(app)
    out = {prefix: group}
    for name, sub in getattr(group, "commands", {}).items():
        out |= _commands(sub, f"{prefix} {name}")
    return out


def test_help_names_only_commands_that_exist() -> None:
    commands = _commands()
    recipe_help = commands["dayzero recipe"].help
    assert "describe" not in recipe_help.lower()
    words = set(re.findall(r"[a-z]+", recipe_help.lower()))
    # every verb the recipe group's help advertises is one of its subcommands
    assert {"validate", "lock", "schema"} <= words and set(commands["dayzero recipe"].commands) == {
        "validate", "lock", "schema"}


def test_unknown_field_hint_names_the_right_schema_command(tmp_path: Path) -> None:
    commands = _commands()
    bad = tmp_path / "r.yaml"
    bad.write_text(MINIMAL + "trian: {max_steps: 5}\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(bad)
    assert "`dayzero recipe schema`" in str(err.value) and "dayzero recipe schema" in commands
    from dayzero.registry.schema import Family
    from dayzero.yamlio import validate

    with pytest.raises(RegistryError) as err2:
        from dayzero import registry

        data = registry.get("qwen2").model_dump(mode="json", by_alias=True) | {"nonsense": 1}
        validate(Family, data, source="f.yaml", text=None, error=RegistryError)
    assert "`dayzero registry schema`" in str(err2.value) and "dayzero registry schema" in commands


def test_dora_refusal_hints_a_real_export_command(tmp_path: Path) -> None:
    import importlib

    lint = importlib.import_module("dayzero.sdk.serve.vllm_lint")  # the one vLLM lint holds the refusal
    source = Path(lint.__file__).read_text()
    export = _commands()["dayzero export"]
    options = {opt for p in export.params for opt in getattr(p, "opts", [])}
    assert "--merge" not in options and "--adapter-only" in options
    assert "dayzero export --merge" not in source and "`dayzero export` without --adapter-only" in source


def test_packing_with_dpo_fails_at_plan() -> None:
    recipe = {"name": "t", "model": {"id": "tiny:qwen2"}, "method": {"stage": "dpo"},
              "data": {"datasets": ["demo_preference"], "packing": True}}
    with pytest.raises(RecipeError, match=r"\[M004\]"):
        compile_plan(recipe, cuda=False)
    recipe["method"]["stage"] = "sft"
    recipe["data"]["datasets"] = ["demo_sft"]
    assert compile_plan(recipe, cuda=False).data["packing"] is True


def test_relative_paths_resolve_against_the_recipe_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dayzero import registry
    from dayzero.sdk.data.pipeline import resolve_specs
    from dayzero.sdk.tiny import save_tiny

    project = tmp_path / "project"
    (project / "data" / "local-hub").mkdir(parents=True)
    save_tiny(registry.get("qwen2"), project / "models" / "tiny")
    (project / "rows.jsonl").write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                                                 {"role": "assistant", "content": "yo"}]}) + "\n")
    recipe = project / "r.yaml"
    recipe.write_text(
        "name: t\nmodel:\n  id: models/tiny\ndata:\n  datasets:\n"
        "    - {path: rows.jsonl}\n    - {hf: data/local-hub}\n    - {hf: ./data/local-hub}\n    - {hf: org/name}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory plays no part
    loaded = load_recipe(recipe)
    assert loaded.recipe.model.inferred_source(loaded.base_dir) == "local"
    plan = compile_plan(loaded, cuda=False)
    assert plan.model.source == "local" and plan.model.family == "qwen2"
    from dayzero.sdk.loading import model_dir

    assert model_dir(plan, tmp_path / "run", loaded.base_dir) == project / "models" / "tiny"
    specs = resolve_specs(loaded.recipe.data, "sft", loaded.base_dir)
    assert specs[0].path == str(project / "rows.jsonl")
    assert specs[1].hf == specs[2].hf == str(project / "data" / "local-hub")
    assert specs[3].hf == "org/name"  # a hub id stays a hub id


def test_recipe_lock_checks_the_recipe_its_parent_and_the_libraries(tmp_path: Path) -> None:
    from dayzero.cli import main

    parent = tmp_path / "base.yaml"
    parent.write_text(MINIMAL)
    child = tmp_path / "r.yaml"
    child.write_text("extends: base.yaml\ntrain: {max_steps: 3}\n")
    main(["recipe", "lock", str(child)])
    lock_file = tmp_path / "r.yaml.lock.json"
    lock = json.loads(lock_file.read_text())
    assert set(lock["recipe_files"]) == {"r.yaml", "base.yaml"}
    assert lock["libraries"]["transformers"] and lock["model"] == {"id": "tiny:qwen2", "source": "tiny", "revision": None}
    compile_plan(child, cuda=False)  # unchanged: fine

    parent.write_text(MINIMAL.replace("demo_sft", "identity"))  # the parent changes, the child does not
    with pytest.raises(RecipeError, match=r"recipe file base\.yaml changed"):
        compile_plan(child, cuda=False)
    parent.write_text(MINIMAL)
    child.write_text("extends: base.yaml\ntrain: {max_steps: 4}\n")
    with pytest.raises(RecipeError, match=r"recipe file r\.yaml changed"):
        compile_plan(child, cuda=False)
    child.write_text("extends: base.yaml\ntrain: {max_steps: 3}\n")
    lock["libraries"]["transformers"] = "0.0.1"
    lock_file.write_text(json.dumps(lock))
    with pytest.raises(RecipeError, match=r"transformers: locked 0\.0\.1, installed"):
        compile_plan(child, cuda=False)
    compile_plan(child, cuda=False, ignore_lock=True)


def test_recipe_lock_pins_the_hub_revision(tmp_path: Path) -> None:
    from dayzero import registry
    from dayzero.sdk.recipe.lock import write_lock

    path = tmp_path / "r.yaml"
    path.write_text("name: t\nmodel:\n  id: Qwen/Qwen2.5-7B-Instruct\ndata:\n  datasets: [demo_sft]\n")
    plan = compile_plan(path, cuda=False)
    lock_file = write_lock(path, registry.default(), registry.get("qwen2"), plan=plan)
    lock = json.loads(lock_file.read_text())
    assert lock["model"]["id"] == "Qwen/Qwen2.5-7B-Instruct"  # offline here: the hub could not be asked
    lock["model"]["revision"] = "0123456789abcdef0123456789abcdef01234567"  # as the hub would have answered
    lock_file.write_text(json.dumps(lock))
    assert compile_plan(path, cuda=False).model.revision == lock["model"]["revision"]  # the run loads that commit
    path.write_text(path.read_text().replace("Instruct\n", "Instruct\n  revision: main\n"))
    lock["recipe_files"]["r.yaml"] = __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    lock_file.write_text(json.dumps(lock))
    with pytest.raises(RecipeError, match=r"\[model.revision\] the recipe asks for 'main'; its lock pins"):
        compile_plan(path, cuda=False)


def test_loss_curves_use_the_optimizer_step_and_the_eval_loss(tmp_path: Path) -> None:
    from dayzero.sdk.runinfo import loss_curves, plot_losses

    # logging_steps 5, eval every 10 steps: what TRL's log history holds
    history = [{"loss": 3.0, "step": 5}, {"loss": 2.0, "step": 10}, {"eval_loss": 2.5, "step": 10},
               {"loss": 1.5, "step": 15}, {"train_loss": 2.1, "step": 15}]
    curves = loss_curves(history)
    assert curves["train"] == ([5, 10, 15], [3.0, 2.0, 1.5]) and curves["eval"] == ([10], [2.5])
    plot_losses(history, tmp_path / "loss.png", "t")
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert loss_curves([{"train_runtime": 1.0, "step": 3}]) == {}


def _console(terminal: bool) -> Any:
    from rich.console import Console

    return Console(file=io.StringIO(), force_terminal=terminal, width=100, color_system=None)


def test_plain_console_prints_greppable_step_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from dayzero.sdk.console import RunConsole

    monkeypatch.delenv("NO_COLOR", raising=False)
    out = RunConsole(_console(False))
    assert out.plain
    cb = out.progress_callback()
    state = SimpleNamespace(global_step=0, max_steps=10)
    cb.on_train_begin(None, state, None)
    state.global_step = 5
    cb.on_log(None, state, None, logs={"loss": "2.5", "learning_rate": "0.001", "num_tokens": "1000", "epoch": "0.5"})
    cb.on_log(None, state, None, logs={"train_runtime": "1.0", "train_loss": "2.0"})
    text = out.console.file.getvalue()
    assert re.search(r"^train step 5/10  loss 2\.5000  lr 1\.00e-03  tokens/s \d+  eta \d+s$", text, re.M)
    assert "{" not in text and "train_runtime" not in text
    monkeypatch.setenv("NO_COLOR", "1")
    assert RunConsole(_console(True)).plain  # NO_COLOR: plain even on a terminal
    monkeypatch.delenv("NO_COLOR")
    assert not RunConsole(_console(True)).plain


def test_plan_table_shows_the_plan() -> None:
    from dayzero.sdk.console import plan_table

    plan = compile_plan({"name": "t", "model": {"id": "tiny:qwen2"}, "data": {"datasets": ["demo_sft"]},
                         "method": {"adapter": "qlora"}}, cuda=False)
    console = _console(True)
    console.print(plan_table(plan))
    text = console.file.getvalue()
    for label in ("model", "adapter", "quantized", "trainer", "export", "warning"):
        assert re.search(rf"^{label} ", text, re.M), label
    assert "nf4 + double quant, compute float32" in text and "[Q003]" in text and "tiny:qwen2 [tiny]" in text


def test_library_chatter_is_quiet_unless_verbose() -> None:
    import logging

    import transformers.utils.logging as tf_logging

    from dayzero.sdk.console import quiet_libraries

    before = tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled(), logging.getLogger("peft").level
    with quiet_libraries(verbose=False):
        assert tf_logging.get_verbosity() == tf_logging.ERROR and not tf_logging.is_progress_bar_enabled()
        assert logging.getLogger("peft").level == logging.ERROR and logging.getLogger("trl").level == logging.ERROR
        import warnings

        with warnings.catch_warnings(record=True) as seen:
            warnings.warn("a library talking about its internals", UserWarning, stacklevel=1)
        assert not seen  # ignored inside the run (catch_warnings(record) keeps the active filter)
    assert (tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled(), logging.getLogger("peft").level) == before
    with quiet_libraries(verbose=True):
        assert tf_logging.get_verbosity() == before[0]  # --verbose: the libraries speak as they would
