"""`dayzero conformance ...` on the command line: exit codes, files written, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dayzero", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def test_run_only_schema_writes_reports(tmp_path, reference_dir) -> None:
    out = _cli("conformance", "run", "qwen2", "--only", "schema", "--report", str(tmp_path),
               "--reference", str(reference_dir))
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "qwen2.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in data["checks"]] == ["schema.entry", "schema.references"]
    assert data["partial"] is True and data["passed"] is False
    assert (tmp_path / "qwen2.md").is_file()
    assert "pass  schema.entry" in out.stdout


def test_failing_check_exits_1(tmp_path, reference_dir) -> None:
    out = _cli("conformance", "run", "glm4", "--only", "template.end-of-turn-trained", "--no-write",
               "--reference", str(reference_dir))
    # GLM-4 ends an answer only where the next <|user|> begins: a one-turn conversation trains no stop
    assert out.returncode == 1, out.stdout + out.stderr
    assert "fail  template.end-of-turn-trained" in out.stdout


def test_unknown_family_is_one_line_exit_2() -> None:
    out = _cli("conformance", "run", "no-such-family", "--no-write")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "no family with id 'no-such-family'" in out.stderr


def test_family_and_all_together_is_refused() -> None:
    out = _cli("conformance", "run", "qwen2", "--all", "--no-write")
    assert out.returncode == 2 and "FAMILY or --all" in out.stderr


def test_gate_verify_only_on_bundled_registry() -> None:
    out = _cli("conformance", "gate", "--verify-only")
    assert out.returncode == 0, out.stdout + out.stderr


def test_run_with_model_dir_uses_the_release_files(tmp_path, reference_dir) -> None:
    release = reference_dir / "hf" / "DeepSeek-R1-Distill-Qwen-32B"
    out = _cli("conformance", "run", "deepseek-r1-distill", "--model", str(release), "--only", "tokenizer.official",
               "--only", "architecture.official-config", "--report", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads((tmp_path / "deepseek-r1-distill.json").read_text(encoding="utf-8"))
    assert data["official_source"] == str(release)
    assert [c["status"] for c in data["checks"]] == ["pass", "pass"]


def test_run_all_writes_every_report_and_the_matrix(tmp_path) -> None:
    out = _cli("conformance", "run", "--all", "--only", "schema.entry", "--report", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    from dayzero import registry

    ids = set(registry.default().families)
    assert {p.stem for p in tmp_path.glob("*.json")} == ids
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert all(f'<tr id="{fid}"' in page for fid in ids)


def test_a_report_folder_with_someone_elses_files_is_not_overwritten(tmp_path, reference_dir) -> None:
    """`--report DIR` writes `<id>.json` / `.md` / `.html` and `index.html` only over files dayzero wrote."""
    mine = {"qwen2.md": "my notes on qwen2\n", "index.html": "<html>my page</html>\n", "other.txt": "keep\n"}
    for name, text in mine.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    out = _cli("conformance", "run", "qwen2", "--only", "schema", "--report", str(tmp_path),
               "--reference", str(reference_dir))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and "qwen2.md" in out.stderr and "not a file dayzero wrote" in out.stderr
    assert not (tmp_path / "qwen2.json").exists()  # nothing half-written beside the refused file
    out = _cli("conformance", "matrix", "--report", str(tmp_path))
    assert out.returncode == 2 and "index.html" in out.stderr, out.stdout + out.stderr
    for name, text in mine.items():
        assert (tmp_path / name).read_text(encoding="utf-8") == text
    (tmp_path / "qwen2.md").unlink()  # with the user's file gone, dayzero's own files are replaced freely
    for _ in range(2):
        out = _cli("conformance", "run", "qwen2", "--only", "schema", "--report", str(tmp_path),
                   "--reference", str(reference_dir))
        assert out.returncode == 0, out.stderr
