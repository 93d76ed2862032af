"""Compile resolves, the stages only execute: after `compile`, nothing looks the family up in the registry.

Two ways: a scan of the stage modules' source for a registry lookup (an import of the lookup API,
`format_of`, `content_hash`, `view_of`), and a tiny run whose stages (setup, data preparation,
training, export, serving) run after compile with every registry lookup patched to raise.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The stages after compile. Entry points that resolve (sdk/compiler.py, sdk/serve/model_dir.py for a model
# dayzero did not export, the convenience constructors taking a family id) are deliberately not listed.
STAGE_MODULES = [
    "sdk/runner.py",
    "sdk/training_data.py",
    "sdk/loading.py",
    "sdk/exporter.py",
    "sdk/train/adapters.py",
    "sdk/train/trainers.py",
    "sdk/train/rl.py",
    "sdk/data/pipeline.py",
    "sdk/data/preprocess.py",
    "sdk/data/packing.py",
    "sdk/serve/__init__.py",
    "sdk/serve/service.py",
    "sdk/serve/hf_backend.py",
    "sdk/serve/hf_generate.py",
    "sdk/serve/app.py",
    "sdk/serve/chat_output.py",
    "sdk/serve/text_stream.py",
    "sdk/serve/vllm_cmd.py",
    "sdk/serve/vllm_lint.py",
    "sdk/serve/vllm_launch.py",
    "sdk/gguf_export.py",
    "sdk/quantize.py",
    "sdk/train/sharding.py",
    "sdk/launch.py",
]

# Registry modules that hold lookups; `dayzero.registry.schema` (types) and `dayzero.registry.view`'s
# FamilyView (the frozen view the Plan carries) are what a stage may import.
LOOKUP_MODULES = {"dayzero.registry", "dayzero.registry.store", "dayzero.registry.matching"}
LOOKUP_NAMES = {"format_of", "content_hash", "view_of", "default"}


def _lookups(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if node.module in LOOKUP_MODULES and not names <= {"Family", "ChatFormat"}:
                found.append(f"line {node.lineno}: from {node.module} import {sorted(names)}")
            if node.module == "dayzero" and "registry" in names:
                found.append(f"line {node.lineno}: from dayzero import registry")
            if names & {"view_of"}:
                found.append(f"line {node.lineno}: imports view_of")
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name in LOOKUP_MODULES]
        elif isinstance(node, ast.Attribute) and node.attr in LOOKUP_NAMES - {"default"}:
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


@pytest.mark.parametrize("module", STAGE_MODULES)
def test_stage_module_has_no_registry_lookup(module: str) -> None:
    path = ROOT / module
    assert path.is_file(), f"{module} moved: update STAGE_MODULES"
    assert _lookups(path) == []


def test_the_scan_finds_a_lookup(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from dayzero import registry\nfmt = registry.default().format_of(f)\n")
    assert len(_lookups(bad)) == 2


@pytest.mark.slow
def test_stages_after_compile_run_with_the_registry_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import urllib.request

    import dayzero.registry as registry_mod
    from dayzero.registry import store, view
    from dayzero.sdk import compile as compile_plan
    from dayzero.sdk import runner
    from dayzero.sdk.exporter import export
    from dayzero.sdk.recipe import load_recipe
    from dayzero.sdk.serve import ServerThread, create_app, service_for
    from dayzero.sdk.serve.model_dir import ServeTarget

    recipe = {
        "name": "plan-only",
        "model": {"id": "tiny:qwen3"},
        "method": {"stage": "sft", "adapter": "lora", "r": 4, "alpha": 8},
        "data": {"datasets": ["demo_sft"], "cutoff_len": 256, "max_samples": 8},
        "train": {"max_steps": 2, "batch_size": 2, "logging_steps": 1, "save_steps": 100,
                  "output_dir": str(tmp_path / "run"), "report_to": "none"},
        "export": {"enabled": True, "merge": True, "ollama": True},
    }
    loaded = load_recipe(recipe)
    plan = compile_plan(loaded, cuda=False)
    run_dir = Path(plan.run_dir)
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"plan": plan.model_dump(mode="json"),
                                                  "recipe_base_dir": str(loaded.base_dir)}))

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a stage after compile looked the family up in the registry")

    monkeypatch.setattr(registry_mod, "default", unreachable)
    monkeypatch.setattr(store.Registry, "get", unreachable)
    monkeypatch.setattr(store.Registry, "format_of", unreachable)
    monkeypatch.setattr(store.Registry, "content_hash", unreachable)
    monkeypatch.setattr(view, "view_of", unreachable)

    setup = runner.setup(plan, loaded, run_dir)
    dataset, _eval, info = runner.prepare_data(plan, loaded, setup)
    assert info["rows"] > 0
    _metrics, losses = runner.train(plan, setup, dataset, run_dir)
    assert len(losses) == 2
    report = export(run_dir)
    assert report.merged and (report.out / "Modelfile").is_file()
    # serving reads the view the export recorded (find_target's registry check for changes is the one lookup
    # serving makes, and it is not a stage: the service is built from the target alone)
    recorded = json.loads((report.out / "dayzero_export.json").read_text())
    target = ServeTarget(model_dir=report.out, view=view.FamilyView.model_validate(recorded["view"]), name="m")
    service = service_for(target)
    try:
        with ServerThread(create_app(service)) as server:
            body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
            request = urllib.request.Request(f"{server.base_url}/chat/completions", data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=120) as response:
                assert json.load(response)["choices"][0]["finish_reason"] in ("stop", "length")
    finally:
        service.backend.close()
