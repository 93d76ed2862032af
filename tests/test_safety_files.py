"""Nothing lost, nothing hangs (issue 10, files): dayzero deletes and replaces only what it wrote.

One tiny SFT run (two checkpoints, a merged export, three bad rows skipped) is shared; tests that change
a run work on a copy of it. CLI behaviour is checked through the installed `dayzero` console script.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from dayzero import sdk
from dayzero.errors import ExportError, RecipeError, WriteError

pytestmark = pytest.mark.slow

DAYZERO = Path(sys.executable).with_name("dayzero")
GOOD = [
    {"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                  {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]}
    for i in range(8)
]
# Hand-counted: two rows of the wrong type, one turn without its role.
BAD = [
    {"messages": {"role": "user", "content": "a turn, not a list of turns"}},
    {"messages": [{"content": "no role here"}, {"role": "assistant", "content": "hm"}]},
    {"messages": 42},
]


def recipe(out: Path, data: Path, **train: Any) -> dict[str, Any]:
    return {
        "name": "safety",
        "model": {"id": "tiny:qwen2"},
        "data": {"datasets": [str(data)], "cutoff_len": 256, "on_error": "skip"},
        "method": {"stage": "sft", "adapter": "lora", "r": 4, "alpha": 8},
        "train": {"max_steps": 2, "batch_size": 2, "learning_rate": 5e-3, "save_steps": 1, "report_to": "none",
                  "output_dir": str(out), **train},
        "sample": {"prompt": None},
    }


def write_recipe(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))  # JSON is YAML
    return path


def dayzero(*args: str, cwd: Path | None = None, user: str | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    cmd = [str(DAYZERO), *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "chat.jsonl"
    rows = [*GOOD[:4], BAD[0], *GOOD[4:6], BAD[1], *GOOD[6:], BAD[2]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data_file: Path) -> tuple[Path, str]:
    """(run dir, what the run printed)."""
    from rich.console import Console

    out = tmp_path_factory.mktemp("runs") / "run"
    console = Console(file=StringIO(), width=200)
    sdk.run(recipe(out, data_file), console=console)
    return out, console.file.getvalue()


def copy_run(trained: tuple[Path, str], dst: Path) -> Path:
    shutil.copytree(trained[0], dst)
    return dst


# -- data loss -------------------------------------------------------------------------------------------


def test_export_refuses_a_folder_it_did_not_write(trained: tuple[Path, str], tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's notes")
    line = one_line_error(dayzero("export", str(trained[0]), "--out", str(mine), "--overwrite"))
    assert str(mine) in line and "not a dayzero export" in line
    assert (mine / "notes.txt").read_text() == "the user's notes" and len(list(mine.iterdir())) == 1
    # `--out .`: the working directory (today it was emptied)
    line = one_line_error(dayzero("export", str(trained[0]), "--out", ".", cwd=mine))
    assert "working directory" in line and (mine / "notes.txt").is_file()


def test_export_replaces_only_an_earlier_export_and_only_with_overwrite(
    trained: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "exp"
    sdk.export(trained[0], out=out)
    first = json.loads((out / "dayzero_export.json").read_text())
    with pytest.raises(ExportError, match="holds an earlier export"):
        sdk.export(trained[0], out=out)

    stale = tmp_path / f".exp.partial-{dead_pid()}"  # left by an export that was killed
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    real_rename, real_replace = os.rename, os.replace

    def failing(real: Any) -> Any:
        def move(src: Any, dst: Any) -> None:
            if Path(src).name.startswith(".exp.partial-"):  # the finished new export, going into place
                raise OSError(errno.EIO, "simulated failure putting the new export in place")
            real(src, dst)

        return move

    monkeypatch.setattr(os, "rename", failing(real_rename))
    monkeypatch.setattr(os, "replace", failing(real_replace))
    with pytest.raises(OSError, match="simulated"):
        sdk.export(trained[0], out=out, overwrite=True)
    monkeypatch.undo()
    # The old export was never gone: it is complete where it was; the killed export's leftovers are cleaned.
    assert json.loads((out / "dayzero_export.json").read_text()) == first
    assert (out / "model.safetensors").stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["exp"]

    sdk.export(trained[0], out=out, overwrite=True)
    assert (out / "dayzero_export.json").is_file() and [p.name for p in tmp_path.iterdir()] == ["exp"]
    (out / "my-eval-notes.md").write_text("written by the user into the export")
    with pytest.raises(ExportError, match=r"files dayzero did not write: my-eval-notes\.md"):
        sdk.export(trained[0], out=out, overwrite=True)
    assert (out / "my-eval-notes.md").is_file()


def test_a_swap_killed_between_its_renames_gets_the_old_export_back(tmp_path: Path) -> None:
    from dayzero.sdk.artifacts import clean_stale_partials

    pid = dead_pid()
    old, new = tmp_path / f".exp.old-{pid}", tmp_path / f".exp.partial-{pid}"
    for folder in (old, new):
        folder.mkdir()
        (folder / "dayzero_export.json").write_text("{}")
    clean_stale_partials(tmp_path / "exp")
    assert [p.name for p in tmp_path.iterdir()] == ["exp"] and (tmp_path / "exp" / "dayzero_export.json").is_file()


def test_run_overwrite_removes_only_the_runs_artifacts(
    trained: tuple[Path, str], data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dayzero.cli import main

    run = copy_run(trained, tmp_path / "run")
    (run / "notes.txt").write_text("keep me")
    (run / "data").mkdir()
    (run / "data" / "rows.jsonl").write_text("{}\n")
    (run / ".run.json.tmp123").write_text("a temporary an earlier run left")
    # An earlier run killed mid-way: its lock (pid gone) and a run.json still saying `running`.
    (run / "run.lock").write_text(json.dumps({"pid": dead_pid(), "host": os.uname().nodename, "started": "then"}))
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": "running"}))
    before = info["started"], info["pid"]

    r = write_recipe(tmp_path / "recipe.yaml", recipe(run, data_file, save_steps=50))
    main(["run", str(r), "--overwrite"])
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "took over the lock of an earlier run that is gone" in err
    assert "the earlier run ended without finishing; marked `interrupted`" in err
    assert (run / "notes.txt").read_text() == "keep me" and (run / "data" / "rows.jsonl").is_file()
    assert not (run / ".run.json.tmp123").exists() and not (run / "run.lock").exists()
    assert not (run / "checkpoints" / "checkpoint-1").exists()  # the earlier run's; this run saves only at its end
    after = json.loads((run / "run.json").read_text())
    assert after["status"] == "done" and (after["started"], after["pid"]) != before
    assert (run / "export" / "dayzero_export.json").is_file()


@pytest.mark.parametrize("where", [".", "recipe folder", "home", "/", ".."])
def test_compile_refuses_run_dirs_that_hold_the_users_files(
    where: str, data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    (work / "recipes").mkdir(parents=True)
    monkeypatch.chdir(work)
    out = {".": ".", "recipe folder": str(work / "recipes"), "home": str(Path.home()), "/": "/", "..": ".."}[where]
    path = write_recipe(work / "recipes" / "r.yaml", recipe(Path(out), data_file))
    with pytest.raises(RecipeError, match=r"\[train.output_dir\]"):
        sdk.compile(path)


def test_compile_refuses_an_export_out_that_holds_the_users_files(
    data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RecipeError, match=r"\[export.out\] `\.` is the working directory"):
        sdk.compile({**recipe(tmp_path / "run", data_file), "export": {"out": "."}})


# -- runs that die ---------------------------------------------------------------------------------------


def test_a_second_run_into_a_live_run_directory_is_refused(data_file: Path, tmp_path: Path) -> None:
    from dayzero.sdk import runlock

    run = tmp_path / "run"
    run.mkdir()
    r = write_recipe(tmp_path / "recipe.yaml", recipe(run, data_file))
    with runlock.acquire(run):  # this test process is the first run
        line = one_line_error(dayzero("run", str(r)))
    assert "is in use by another run" in line and f"pid {os.getpid()}" in line
    assert sorted(p.name for p in run.iterdir()) == []  # the second run wrote nothing


def test_resume_skips_a_checkpoint_cut_mid_save(trained: tuple[Path, str], data_file: Path, tmp_path: Path) -> None:
    from dayzero.sdk.checkpoints import incomplete_reason

    run = copy_run(trained, tmp_path / "run")
    cut = run / "checkpoints" / "checkpoint-2"
    weights = cut / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert "is truncated" in str(incomplete_reason(cut))  # trainer_state.json present, weights cut short
    (cut / "trainer_state.json").unlink()  # killed before the trainer wrote its state (the last file)

    r = write_recipe(tmp_path / "recipe.yaml", recipe(run, data_file))
    proc = dayzero("run", str(r), "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "skipping checkpoint-2, incomplete: no trainer_state.json" in proc.stderr
    assert "continuing from checkpoint-1" in proc.stderr
    info = json.loads((run / "run.json").read_text())
    assert info["resumed_from"] == "checkpoint-1" and info["metrics"]["global_step"] == 2
    assert info["status"] == "done" and (run / "export" / "dayzero_export.json").is_file()


def test_a_run_found_running_without_its_process_is_marked_interrupted(
    trained: tuple[Path, str], tmp_path: Path
) -> None:
    run = copy_run(trained, tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": "running"}))
    sdk.export(run, out=tmp_path / "exp")
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"


def test_full_disk_fails_the_run_with_one_line_and_no_final(
    data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import safetensors.torch

    from dayzero.cli import main

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a failed write() raises it: no filename

    monkeypatch.setattr(safetensors.torch, "save_file", full)  # hits the probe logits saved beside final/
    run = tmp_path / "run"
    r = write_recipe(tmp_path / "recipe.yaml", recipe(run, data_file, save_steps=50))
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(r)])
    assert exit_.value.code == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert err == [f"error: {run / 'final'}: cannot write: No space left on device"]
    assert not (run / "final").exists() and not (run / ".final.partial").exists()  # nothing looks finished
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and "No space left on device" in info["error"]


def test_full_disk_during_a_checkpoint_names_the_checkpoints_and_resume_would_skip_it(
    data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from dayzero.sdk.checkpoints import newest_complete

    def full(*args: Any, **kwargs: Any) -> None:  # what torch.save said writing to /dev/full here
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", full)  # the optimizer state, saved after the checkpoint's weights
    run = tmp_path / "run"
    with pytest.raises(WriteError, match=r"checkpoints: cannot write: the write failed \(is the disk full\?\)$"):
        sdk.run(recipe(run, data_file), console=False)
    assert json.loads((run / "run.json").read_text())["status"] == "failed"
    assert newest_complete(run / "checkpoints") == (None, [(run / "checkpoints" / "checkpoint-1",
                                                            "no trainer_state.json (the trainer writes it last)")])


def test_an_exception_ends_the_run_as_failed_with_the_error(data_file: Path, tmp_path: Path) -> None:
    from transformers import TrainerCallback

    class Boom(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom at step 1")

    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"):
        sdk.run(recipe(run, data_file), callbacks=[Boom()], console=False)
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and info["error"] == "RuntimeError: boom at step 1"
    assert not (run / "run.lock").exists()


def test_a_read_only_destination_gives_one_line_naming_it(trained: tuple[Path, str]) -> None:
    root = Path(tempfile.mkdtemp(prefix="dayzero-ro-"))
    try:
        os.chmod(root, 0o755)
        run = copy_run(trained, root / "run")
        locked = root / "locked"
        locked.mkdir()
        os.chmod(locked, 0o555)
        user = None
        if os.geteuid() == 0:  # root writes anywhere: run the command as an unprivileged user
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: a read-only folder cannot be simulated")
            user = "65534"
            # the same command the test runs: a checkout in a private folder (mktemp -d is 0700) is not the
            # unprivileged user's to read, whatever the folder the test makes
            if dayzero("--help", user=user).returncode != 0:
                pytest.skip("running as root, and an unprivileged user cannot run this checkout's dayzero "
                            "(its folder is not readable to others)")
            subprocess.run(["chmod", "-R", "a+rX", str(run)], check=True)
        line = one_line_error(dayzero("export", str(run), "--out", str(locked / "exp"), user=user,
                                      env={"HOME": str(root)}))
        assert line == f"error: {locked / 'exp'}: cannot write: Permission denied"
        assert list(locked.iterdir()) == []
    finally:
        os.chmod(root / "locked", 0o755)
        shutil.rmtree(root, ignore_errors=True)


def test_atomic_writes_fail_as_one_error_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dayzero.atomic import atomic_write_text

    target = tmp_path / "run.json"
    target.write_text("the complete earlier version")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd: int, *args: Any, **kwargs: Any) -> None:
            self.handle = real_fdopen(fd, *args, **kwargs)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", Full)
    with pytest.raises(WriteError, match=rf"^{target}: cannot write: No space left on device$"):
        atomic_write_text(target, "new")
    assert target.read_text() == "the complete earlier version" and [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_write_error_in_a_library_save_names_the_folder() -> None:
    from dayzero.sdk.write_errors import writing

    with pytest.raises(WriteError, match=r"^out/final: cannot write: No space left on device$"), writing(Path("out/final")):
        raise RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")
    with pytest.raises(ValueError), writing(Path("out/final")):  # not a write failure: passes through unchanged
        raise ValueError("a bug")


# -- correctness bugs found on the way ------------------------------------------------------------------


def test_run_reports_skipped_rows_per_reason(trained: tuple[Path, str]) -> None:
    run, printed = trained
    assert "skipped 3 bad rows (bad_type: 2, missing_field: 1)" in printed
    stats = json.loads((run / "run.json").read_text())["data"]["stats"]
    assert stats["problems"] == {"bad_type": 2, "missing_field": 1}


def test_preview_shows_each_skipped_row_with_its_reason(data_file: Path) -> None:
    from typer.testing import CliRunner

    from dayzero.cli import _register, app

    _register()
    result = CliRunner().invoke(app, ["data", "preview", str(data_file), "-f", "qwen2", "-n", "8"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    skipped = [ln for ln in result.output.splitlines() if ln.startswith("skipped ")]
    assert [s.split(": ")[1] for s in skipped] == ["bad_type", "missing_field", "bad_type"]
    assert skipped[0].startswith(f"skipped {data_file}:5: bad_type") and f"{data_file}:8:" in skipped[1]


def test_the_export_tokenizer_is_the_training_tokenizer_and_dpo_rows_match(
    trained: tuple[Path, str], tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    from dayzero.sdk.recipe.load import load_recipe
    from dayzero.sdk.runner import prepare_data, setup

    run = trained[0]
    final, export = run / "final", run / "export"
    assert json.loads((export / "tokenizer.json").read_text()) == json.loads((final / "tokenizer.json").read_text())

    # The next stage, DPO from the export, prepares the same rows as with the tokenizer SFT trained with.
    dpo = {
        "name": "dpo", "model": {"id": str(export)},
        "data": {"datasets": ["demo_preference"], "max_samples": 6, "cutoff_len": 256},
        "method": {"stage": "dpo", "adapter": "lora", "r": 4, "alpha": 8},
        "train": {"max_steps": 1, "batch_size": 2, "report_to": "none", "output_dir": str(tmp_path / "dpo")},
        "export": {"enabled": False},
    }
    loaded = load_recipe(dpo)
    plan = sdk.compile(loaded)
    from_export = setup(plan, loaded, tmp_path / "dpo")
    rows, _, _ = prepare_data(plan, loaded, from_export)
    trained_with = AutoTokenizer.from_pretrained(str(final))
    reference, _, _ = prepare_data(plan, loaded, type(from_export)(**{**from_export.__dict__, "tokenizer": trained_with}))
    assert rows.column_names == reference.column_names and len(rows) == 6
    assert rows.to_dict() == reference.to_dict()
    result = sdk.run(dpo, train_dataset=rows, console=False)
    assert result.metrics["global_step"] == 1 and all(loss == loss for loss in result.losses)
