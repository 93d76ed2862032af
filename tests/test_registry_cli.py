"""`dayzero registry ...` as a user or another tool calls it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from registry_helpers import replace_top_level, scratch_registry

from dayzero import registry

CLI = [sys.executable, "-m", "dayzero"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def test_list_json_lists_every_family():
    doc = json.loads(run("registry", "list", "--json").stdout)
    assert doc["registry_version"] == registry.version
    assert {f["id"] for f in doc["families"]} == {f.id for f in registry.families()}


def test_show_json_is_the_entry():
    doc = json.loads(run("registry", "show", "qwen2", "--json").stdout)
    assert doc == registry.get("qwen2").model_dump(mode="json", by_alias=True)


def test_resolve_json_for_hub_id():
    doc = json.loads(run("registry", "resolve", "Qwen/Qwen2.5-7B-Instruct", "--json").stdout)
    assert doc["family"] == "qwen2" and doc["matched_by"] == "hub_id"
    assert doc["checkpoint"]["modelscope"] == "Qwen/Qwen2.5-7B-Instruct"


def test_unknown_family_is_one_line_and_exit_2():
    proc = run("registry", "show", "no-such-family", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr


def test_validate_bad_file_is_one_line_and_exit_2(tmp_path):
    root = scratch_registry(tmp_path)
    path = root / "qwen2.yaml"
    replace_top_level(path, "revision", "revision: one")
    proc = run("registry", "validate", "--root", str(root), check=False)
    assert proc.returncode == 2
    assert "qwen2.yaml:" in proc.stderr and "field `revision`" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_validate_ok():
    assert run("registry", "validate").stdout.startswith("ok: ")


def test_export_schema_and_diff(tmp_path):
    out = tmp_path / "registry.json"
    run("registry", "export", str(out))
    doc = json.loads(out.read_text())
    assert doc["registry_version"] == registry.version and len(doc["sha256"]) == 64
    assert set(doc["families"]) == {f.id for f in registry.families()}

    changed = json.loads(out.read_text())
    changed["families"]["qwen2"]["tokenizer"]["eos"] = "<|endoftext|>"
    del changed["families"][next(iter(changed["families"]))]
    changed["families"]["brand-new"] = {"id": "brand-new"}
    new = tmp_path / "new.json"
    new.write_text(json.dumps(changed))
    proc = run("registry", "diff", str(out), str(new), "--json", check=False)
    delta = json.loads(proc.stdout)
    assert delta["added"] == ["brand-new"]
    assert len(delta["removed"]) == 1
    if "qwen2" not in delta["removed"]:
        assert delta["changed"]["qwen2"] == {"tokenizer.eos": ["<|im_end|>", "<|endoftext|>"]}
        assert delta["not_bumped"] == ["qwen2"]  # a fact changed, the revision did not
    assert delta["registry_version_not_bumped"] is True and proc.returncode == 1

    # the same change, versioned: the family's revision and the registry's version go up -> nothing flagged
    changed["families"]["qwen2"]["revision"] += 1
    changed["registry_version"] = "99.0.0"
    new.write_text(json.dumps(changed))
    delta = json.loads(run("registry", "diff", str(out), str(new), "--json").stdout)
    assert delta["not_bumped"] == [] and delta["registry_version_not_bumped"] is False
    text = run("registry", "diff", str(out), str(new)).stdout
    assert "!" not in text.replace("|", "")

    schema = json.loads(run("registry", "schema").stdout)
    assert "Family" in schema["$defs"]


def test_schema_describes_the_export_document(tmp_path):
    out = tmp_path / "registry.json"
    run("registry", "export", str(out))
    doc = json.loads(out.read_text())
    schema = json.loads(run("registry", "schema").stdout)
    assert set(schema["required"]) == set(doc) == set(schema["properties"])
    assert schema["properties"]["export_format"]["const"] == doc["export_format"]

    def refs(node):
        if isinstance(node, dict):
            yield from ([node["$ref"]] if "$ref" in node else [])
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    # every $ref resolves from the document's root (nested per-model $defs would not)
    targets = set(refs(schema))
    assert "#/$defs/Family" in targets and "#/$defs/Tokenizer" in targets
    for target in targets:
        assert target.startswith("#/$defs/") and target.removeprefix("#/$defs/") in schema["$defs"], target


def test_export_is_deterministic(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    run("registry", "export", str(a))
    run("registry", "export", str(b))
    assert json.loads(a.read_text())["sha256"] == json.loads(b.read_text())["sha256"]


def test_rules_json_has_ids_and_messages():
    items = json.loads(run("registry", "rules", "--json").stdout)
    assert items and all(r["id"] and r["message"] for r in items)
    assert {r["id"] for r in items} == {r.id for r in registry.rules()}


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from dayzero.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('torch','transformers'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize("group", ["registry"])
def test_group_help_does_not_import_torch(group: str):
    code = (
        "import sys\nfrom dayzero.cli import main\n"
        f"try:\n    main(['{group}', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("dayzero")
    proc = subprocess.run([str(exe), "registry", "list", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["families"]


def test_group_homes_name_every_command_group():
    """`main` registers only the invoked group's module: its table must know every group there is."""
    from dayzero import cli

    cli._register()
    assert {info.name for info in cli.app.registered_groups} == set(cli.GROUP_HOMES)
    for name, module in cli.GROUP_HOMES.items():  # each defined where the table says, alone
        probe = (
            f"from dayzero import cli; cli._register([{name!r}, '--help']); "
            f"print(sorted(i.name for i in cli.app.registered_groups))"
        )
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert name in out.stdout, (name, module, out.stdout)


def test_show_json_from_a_cold_cache_and_a_warm_one_are_the_entry(tmp_path):
    env = {**os.environ, "DAYZERO_REGISTRY_CACHE": str(tmp_path / "cache")}
    shows = [
        subprocess.run([*CLI, "registry", "show", "llama3", "--json"], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]
    docs = [json.loads(proc.stdout) for proc in shows]
    assert docs[0] == docs[1] == registry.get("llama3").model_dump(mode="json", by_alias=True)
