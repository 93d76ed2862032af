"""`dayzero data list | preview | stats` as a user calls them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dayzero.cli import _register, app, main


@pytest.fixture(scope="module")
def cli():
    from typer.testing import CliRunner

    _register()
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_list_json_names_the_demo_datasets(cli):
    doc = json.loads(cli("data", "list", "--json"))
    assert doc["demo_sft"]["format"] == "openai" and doc["demo_kto"]["kind"] == "kto"
    assert doc["identity"]["path"].endswith("recipes/data/identity.json")


def test_preview_shows_rendered_rows_with_counts(cli):
    out = cli("data", "preview", "demo_sft", "--family", "qwen2", "-n", "2")
    assert out.count("sft_demo.jsonl:") == 2 and "tokens" in out and "trained)" in out
    assert "<|im_start|>assistant" in out and "21 + 13 = 34.<|im_end|>" in out  # the first demo row
    pref = cli("data", "preview", "demo_preference", "-f", "qwen2", "-n", "1")
    assert "[prompt]" in pref and "[chosen]" in pref and "[rejected]" in pref


def test_stats_json_figures(cli):
    doc = json.loads(cli("data", "stats", "demo_pretrain", "-f", "qwen2", "--cutoff-len", "128", "--json"))
    assert doc["stage"] == "pt" and doc["rows_read"] == 86 and doc["packed_rows"] > 0
    assert 0 <= doc["pad_fraction"] < 1 and sum(c for _, c in doc["histogram"]) == doc["rows_kept"]
    sft = json.loads(cli("data", "stats", "demo_sft", "-f", "qwen2", "--cutoff-len", "100", "--json"))
    assert sft["too_long"] + sft["rows_kept"] == 240 and sft["too_long"] > 0


def test_stats_counts_bad_rows(cli, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n'
                    '{"messages": [{"role": "user", "content": "q"}]}\n', encoding="utf-8")
    doc = json.loads(cli("data", "stats", str(path), "-f", "qwen2", "--json"))
    assert doc["problems"] == {"bad_order": 1} and doc["problem_examples"][0].startswith(f"{path}:2: bad_order")


def test_preview_and_stats_of_a_recipe(cli):
    from dayzero.sdk.recipe.load import bundled_dir

    recipe = str(bundled_dir() / "quickstart.yaml")  # tiny:qwen2 on the identity set, sft
    out = cli("data", "preview", recipe, "-n", "1")
    assert "tiny qwen2" in out and "stage sft" in out and "identity.json row 1" in out and "Quokka" in out
    doc = json.loads(cli("data", "stats", recipe, "--json"))
    assert doc["stage"] == "sft" and doc["rows_read"] == 36


def test_unknown_dataset_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["data", "preview", "no_such_dataset", "--family", "qwen2"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 'no_such_dataset' is neither a dataset in the catalog") and err.count("\n") == 1


def test_data_help_does_not_import_heavy_libraries():
    code = (
        "import sys\nfrom dayzero.cli import main\n"
        "try:\n    main(['data', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
