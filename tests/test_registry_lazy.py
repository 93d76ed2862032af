"""A lookup by id reads one family file, so its cost does not grow with the registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from registry_helpers import scratch_registry

from dayzero import registry
from dayzero.registry.store import load_one

PROBE = (
    "import sys, dayzero.registry as r; f = r.get('qwen3'); "
    "print(f.tokenizer.eos, r.default.cache_info().currsize, 'torch' in sys.modules)"
)


def test_get_before_load_reads_only_that_file(tmp_path: Path) -> None:
    root = scratch_registry(tmp_path)
    (root / "llama3.yaml").write_text("id: [broken\n")  # another family's file: not read by get('qwen3')
    env = {**os.environ, "DAYZERO_REGISTRY_ROOT": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.split() == ["<|im_end|>", "0", "False"]


def test_one_file_lookup_equals_the_loaded_family() -> None:
    root = registry.default().root
    for family_id in ("qwen3", "llama3", "deepseek-r1-distill-llama"):
        assert load_one(root, family_id) == registry.default().families[family_id]
    assert (
        load_one(root, "registry") is None
        and load_one(root, "../x") is None
        and load_one(root, "nope") is None
    )
