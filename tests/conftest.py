"""Test setup shared by every test module.

- One thread: on a shared 2-core machine torch's default thread count makes tiny-model training
  10-20x slower (see STACK-NOTES).
- Offline: nothing may be fetched from a hub at test time; the hub code paths are exercised with
  local directories and the libraries' offline modes.
- The registry's cache of validated files (`registry/index.py`) lives in a folder of this session,
  never in the user's cache.
- `reference_dir`: third-party reference data in ../shared/reference; tests that need it skip with
  a reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("WANDB_DISABLED", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
if "DAYZERO_REGISTRY_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["DAYZERO_REGISTRY_CACHE"] = tempfile.mkdtemp(prefix="dayzero-test-registry-cache-")
    atexit.register(shutil.rmtree, os.environ["DAYZERO_REGISTRY_CACHE"], ignore_errors=True)

import pytest

REPO = Path(__file__).resolve().parent.parent


def _reference_root() -> Path:
    env = os.environ.get("DAYZERO_REFERENCE")
    return Path(env) if env else REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference, or a skip saying it is absent."""
    root = _reference_root()
    if not (root / "README.md").exists():
        pytest.skip(f"reference data not found at {root} (set DAYZERO_REFERENCE); CI has it")
    return root


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _vllm_only_where_asked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM starts only in tests marked `vllm` (each launch costs 40 s to minutes): elsewhere, e.g. a full
    conformance run, its environment is hidden and the `serve.vllm` check reports itself unavailable."""
    if request.node.get_closest_marker("vllm") is None:
        monkeypatch.delenv("DAYZERO_VLLM_PYTHON", raising=False)
