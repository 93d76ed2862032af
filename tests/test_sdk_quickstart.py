"""The README's main command: `dayzero run quickstart` trains, exports, serves and answers with its trained identity,
offline, in about a minute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_quickstart_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from dayzero.cli import main

    monkeypatch.chdir(tmp_path)
    main(["run", "quickstart"])  # its time is measured by benchmarks/quickstart.py, not asserted here

    captured = capsys.readouterr()
    out = captured.out
    assert "sample reply:" in out and "export: runs/quickstart/export" in out
    run = tmp_path / "runs" / "quickstart"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "done" and info["family"] == "qwen2"
    assert info["plan"]["adapter"]["kind"] == "full" and info["metrics"]["global_step"] == 100
    assert info["data"]["rows"] > 0 and info["data"]["fingerprint"]
    assert info["export"]["max_logit_diff"] <= 1e-5
    # the first run shows fine-tuning: the model answers with the identity the recipe's placeholders taught it
    assert "Quokka" in info["sample"]["reply"] and f"sample reply: {info['sample']['reply']!r}" in out
    # the console (stderr here: not a terminal) is plain lines, with no raw metric dicts or library bars
    err = captured.err
    assert "{'loss'" not in err and "Loading weights" not in err and "it/s]" not in err
    assert "train step 100/100  loss " in err and "  assistant  " in err and "Quokka" in err
    assert (run / "loss.png").is_file()
    history = [json.loads(line) for line in (run / "logs" / "history.jsonl").read_text().splitlines()]
    assert [h["loss"] for h in history if "loss" in h] == info["losses"]
    assert list((run / "logs").glob("events.out.tfevents.*")), "report_to: tensorboard wrote no events"
    assert (run / "export" / "model.safetensors").is_file() and (run / "export" / "Modelfile").is_file()
