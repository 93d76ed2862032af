"""`dayzero eval`: metrics on hand-worked answers, the CLI's refusals, and lm-eval on a local task."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from dayzero import registry
from dayzero.sdk.data.problems import Origin
from dayzero.sdk.data.prompts import PromptRow
from dayzero.sdk.evaluate import score
from dayzero.sdk.recipe.rl import RewardSpec


def rows(*refs: str | None) -> list[PromptRow]:
    return [
        PromptRow([{"role": "user", "content": "q"}], None, ref, Origin("t", i + 1))
        for i, ref in enumerate(refs)
    ]


def test_reference_metrics_on_hand_worked_answers() -> None:
    family = registry.get("qwen3")
    got = score(
        ["<think>\nsure\n</think>\n\nthe cat on the mat", "Paris", "nothing alike", "no reference here"],
        rows("the cat sat on the mat", "Paris", "Lima", None),
        family=family,
    ).metrics
    assert got["exact_match"] == pytest.approx(1 / 3)  # three rows have a reference; one answer is exact
    # ROUGE-L F1: LCS 5 of 5 hypothesis / 6 reference words -> 2PR/(P+R) = 10/11; exact -> 1; disjoint -> 0.
    assert got["rougeL"] == pytest.approx((10 / 11 + 1 + 0) / 3)
    assert 0 < got["bleu"] < 100
    assert score(["a b c d e"], rows("a b c d e"), family=family).metrics["bleu"] == pytest.approx(100.0)
    assert score(["x y z w v"], rows("a b c d e"), family=family).metrics["bleu"] == pytest.approx(0.0)


def test_rule_rewards_are_averaged_over_every_row() -> None:
    got = score(
        ["42", "forty-two", "7"],
        rows(None, None, None),
        family=registry.get("qwen2"),
        rewards=[RewardSpec(kind="regex", pattern=r"^\d", name="number")],
    )
    assert got.metrics["reward/number"] == pytest.approx(2 / 3) and got.metrics["exact_match"] is None
    assert [r["reward/number"] for r in got.rows] == [1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("regex=^\\d+$", {"kind": "regex", "pattern": "^\\d+$"}),
        ("length=2-8", {"kind": "length", "min_tokens": 2, "max_tokens": 8}),
        ("length=-8", {"kind": "length", "min_tokens": None, "max_tokens": 8}),
        ("contains=gold", {"kind": "contains", "column": "gold"}),
        ("json_valid", {"kind": "json_valid"}),
    ],
)
def test_reward_options_parse(text: str, fields: dict) -> None:
    from dayzero.cli.eval_cmd import parse_reward

    spec = parse_reward(text)
    assert {k: getattr(spec, k) for k in fields} == fields


def test_cli_refuses_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dayzero.cli import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(
        json.dumps({"family": "qwen2", "recipe": {"data": {"datasets": ["demo_sft"]}}})
    )
    for argv, message in [
        (["eval", str(run)], "no data to evaluate on: pass --data DATASET (the run held out no rows"),
        (["eval", str(run), "--data", "demo_sft", "--reward", "regex"], "a `regex` reward needs `pattern`"),
        (
            ["eval", str(run), "--data", "demo_sft", "--reward", "json_valid=1"],
            "`json_valid` takes no argument",
        ),
        (["eval", str(tmp_path / "missing")], "is neither a run directory nor a model directory"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and message in err and "Traceback" not in err, (argv, err)
        assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("lm_eval") is None, reason="lm-eval is not installed (pip install lm-eval)"
)
def test_lm_eval_runs_a_local_task_with_the_registry_template_and_stops(tmp_path: Path) -> None:
    from dayzero.sdk.lm_eval_run import run_lm_eval
    from dayzero.sdk.tiny import save_tiny

    model = save_tiny(registry.get("qwen2"), tmp_path / "model")
    data = tmp_path / "qa.jsonl"
    data.write_text(
        "".join(
            json.dumps({"question": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n" for i in range(3)
        )
    )
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tiny_qa.yaml").write_text(
        "task: dayzero_tiny_qa\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {data}\n"
        "test_split: test\noutput_type: generate_until\n"
        'doc_to_text: "{{question}}"\ndoc_to_target: "{{answer}}"\n'
        'generation_kwargs:\n  until: ["\\n\\n"]\n  max_gen_toks: 4\n  do_sample: false\n'
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
    )
    result = run_lm_eval(model, ["dayzero_tiny_qa"], include=tasks, out=tmp_path / "out")
    value = result.results["dayzero_tiny_qa"]["exact_match,none"]
    assert 0.0 <= value <= 1.0
    context, gen_kwargs = result.samples["dayzero_tiny_qa"][0]["arguments"][0]
    # Qwen2.5's chat template (its default system prompt), as the registry's format writes it.
    assert context == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is 0 + 0?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert (
        gen_kwargs["until"][0] == "\n\n" and "<|im_end|>" in gen_kwargs["until"]
    )  # the task's stop, then the registry's
    assert json.loads((tmp_path / "out" / "lm_eval.json").read_text())["results"]["dayzero_tiny_qa"]
