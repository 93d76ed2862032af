"""Beyond one process: the `distributed:` section, its plan, and real DDP / FSDP2 runs over gloo on CPU.

The plan tests are fast (no weights). The run tests start torchrun: two processes of a tiny Qwen2 with
LoRA train DDP and FSDP2 side by side, so FSDP2's losses and final weights can be compared with the
unsharded DDP run on the same data order; FSDP2 resumes from its sharded checkpoint (also on another
world size); two "nodes" on one machine rendezvous on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dayzero import registry
from dayzero.errors import RecipeError
from dayzero.sdk import compile as compile_plan

DAYZERO = str(Path(sys.executable).with_name("dayzero"))


def recipe(**sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "t", "model": {"id": "tiny:qwen2"}, "data": {"datasets": ["demo_sft"]}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base


# ---- the plan ---------------------------------------------------------------------------------------


def test_one_process_needs_no_launcher() -> None:
    plan = compile_plan(recipe(), cuda=False)
    assert plan.distributed.strategy == "single" and plan.distributed.launch is None
    assert plan.distributed.trainer_args == {}


def test_fsdp2_wraps_the_family_decoder_layer_and_plans_torchrun() -> None:
    plan = compile_plan(recipe(distributed={"strategy": "fsdp2", "nproc_per_node": 2}), cuda=False)
    d = plan.distributed
    assert d.strategy == "fsdp2" and d.world_size == 2
    # Qwen2's transformers class lists Qwen2DecoderLayer in _no_split_modules: that is the wrap unit
    assert d.wrap_classes == ["Qwen2DecoderLayer"]
    assert d.trainer_args["fsdp"] is True
    cfg = d.trainer_args["fsdp_config"]
    assert cfg["version"] == 2 and cfg["transformer_layer_cls_to_wrap"] == ["Qwen2DecoderLayer"]
    assert cfg["state_dict_type"] == "SHARDED_STATE_DICT"
    assert d.launch is not None
    assert (
        d.launch[1:4] == ["-m", "torch.distributed.run", "--nproc-per-node=2"] and "--standalone" in d.launch
    )
    assert d.launch[-1] == "<recipe>"  # a dict recipe has no file to re-read
    assert "processes 2 (fsdp2), launched as:" in plan.render()
    assert plan.facts["distributed"] == {"strategy": "fsdp2", "world_size": 2, "zero_stage": None}


def test_multi_node_launch_lines() -> None:
    static = compile_plan(
        recipe(distributed={"nnodes": 2, "node_rank": 1, "master_addr": "10.1.2.3", "master_port": 29511}),
        cuda=False,
    )
    assert static.distributed.strategy == "ddp" and static.distributed.world_size == 2
    launch = static.distributed.launch or []
    for flag in ("--nnodes=2", "--node-rank=1", "--master-addr=10.1.2.3", "--master-port=29511"):
        assert flag in launch
    assert "--standalone" not in launch
    elastic = compile_plan(
        recipe(distributed={"nnodes": 3, "rdzv_endpoint": "head:29400", "rdzv_id": "job7"}), cuda=False
    )
    launch = elastic.distributed.launch or []
    assert {"--rdzv-backend=c10d", "--rdzv-endpoint=head:29400", "--rdzv-id=job7", "--nnodes=3"} <= set(
        launch
    )


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"distributed": {"nnodes": 2, "node_rank": 2}}, "`node_rank` must be below `nnodes`"),
        ({"train": {"fsdp": "full_shard"}}, "`train.fsdp` moved to the `distributed:` section"),
        (
            {"distributed": {"strategy": "deepspeed", "deepspeed": {"offload_param": True}}},
            "needs `zero_stage: 3`",
        ),
        (
            {
                "distributed": {"strategy": "fsdp2", "fsdp": {"activation_checkpointing": True}},
                "train": {"gradient_checkpointing": True},
            },
            "[distributed.fsdp.activation_checkpointing]",
        ),
    ],
)
def test_bad_distributed_sections_are_named(section: dict[str, Any], needle: str) -> None:
    with pytest.raises(RecipeError) as err:
        compile_plan(recipe(**section), cuda=False)
    assert needle in str(err.value)


def test_fsdp2_with_4bit_stores_quantized_weights_in_the_compute_dtype() -> None:
    plan = compile_plan(
        recipe(
            method={"adapter": "qlora", "quantization": "bnb-4bit"},
            export={"merge": False},
            distributed={"strategy": "fsdp2", "nproc_per_node": 2},
        ),
        cuda=True,
    )
    q = plan.adapter.quantization or {}
    assert q["bnb_4bit_quant_storage"] == q["bnb_4bit_compute_dtype"]


def test_print_launch_through_the_console_script(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(json.dumps(recipe(distributed={"strategy": "fsdp2"})))
    proc = subprocess.run(
        [
            DAYZERO,
            "run",
            str(path),
            "train.max_steps=3",
            "--nproc",
            "2",
            "--nnodes",
            "2",
            "--node-rank",
            "0",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            "29555",
            "--print-launch",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert "torch.distributed.run --nproc-per-node=2 --nnodes=2 --node-rank=0" in line
    # the CLI options travel as overrides, so every process compiles the same plan
    assert line.endswith(
        f"{path} train.max_steps=3 distributed.nproc_per_node=2 distributed.nnodes=2 "
        "distributed.node_rank=0 distributed.master_addr=127.0.0.1 distributed.master_port=29555"
    )


def test_every_family_names_its_real_wrap_unit_and_moe_block() -> None:
    """The facts against the real transformers classes: the decoder layer is what the class lists in
    `_no_split_modules` and what sits at `layers.0`; the MoE block is the experts' parent module."""
    from dayzero.sdk.tiny import tiny_model

    for family in registry.default().families.values():
        arch = family.architecture
        if arch.is_remote_code:  # no class to walk: its layout data is checked in test_remote_code_families
            continue
        assert arch.decoder_layer, f"{family.id}: no architecture.decoder_layer"
        model = tiny_model(family)
        assert arch.decoder_layer in (model._no_split_modules or []), family.id
        assert type(model.get_submodule(arch.layers.format(0))).__name__ == arch.decoder_layer, family.id
        text = model.config.get_text_config()  # a VLM's layers are its language model's
        kinds = arch.layer_kinds.of(text) if arch.layer_kinds is not None else None
        for idx in range(text.num_hidden_layers):  # hybrid models: every layer kind is the same wrap unit
            assert type(model.get_submodule(arch.layers.format(idx))).__name__ == arch.decoder_layer, family.id
        if arch.moe is not None:
            idx = next(i for i in range(text.num_hidden_layers) if "moe" in arch.layer_parts(i, kinds)[0])
            parent = arch.layers.format(idx) + "." + arch.moe.experts.rsplit(".", 1)[0]
            assert type(model.get_submodule(parent)).__name__ == arch.moe.block_class, family.id


needs_deepspeed = pytest.mark.skipif(
    importlib.util.find_spec("deepspeed") is None,
    reason="deepspeed is not installed (DS_BUILD_OPS=0 pip install --no-build-isolation deepspeed)",
)


def test_deepspeed_refused_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "deepspeed" else real(name, *a)
    )
    with pytest.raises(RecipeError, match=r"\[distributed.strategy\] the deepspeed package is not installed"):
        compile_plan(recipe(distributed={"strategy": "deepspeed", "nproc_per_node": 2}), cuda=True)


@needs_deepspeed
def test_deepspeed_configs_validate_with_deepspeeds_own_classes(tmp_path: Path) -> None:
    plan = compile_plan(
        recipe(
            model={"id": "tiny:mixtral"},
            distributed={
                "strategy": "deepspeed",
                "nproc_per_node": 2,
                "deepspeed": {"zero_stage": 3, "offload_param": True},
            },
        ),
        cuda=True,
    )
    ds = plan.distributed.trainer_args["deepspeed"]
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["zero_optimization"]["offload_param"]["device"] == "cpu"
    assert plan.distributed.leaf_modules == ["MixtralSparseMoeBlock"]  # the ZeRO-3 + MoE hang, avoided
    assert plan.facts["distributed"]["zero_stage"] == 3

    mine = tmp_path / "ds.json"
    mine.write_text(
        json.dumps({"zero_optimization": {"stage": 2, "reduce_bucket_size": 5e7}, "steps_per_print": 7})
    )
    merged = compile_plan(
        recipe(
            distributed={"strategy": "deepspeed", "nproc_per_node": 2, "deepspeed": {"config": str(mine)}}
        ),
        cuda=True,
    ).distributed.trainer_args["deepspeed"]
    assert merged["zero_optimization"]["reduce_bucket_size"] == 5e7 and merged["steps_per_print"] == 7
    assert merged["zero_optimization"]["contiguous_gradients"] is True  # generated keys the file did not set

    mine.write_text(json.dumps({"zero_optimization": {"stage": 7}}))
    with pytest.raises(RecipeError, match=r"\[distributed.deepspeed\] DeepSpeed rejects the config"):
        compile_plan(
            recipe(distributed={"strategy": "deepspeed", "deepspeed": {"config": str(mine)}}), cuda=True
        )


# ---- real runs ----------------------------------------------------------------------------------------

RUN = """\
name: dist
model: {{id: "tiny:qwen2"}}
data: {{datasets: [demo_sft], max_samples: 16, cutoff_len: 128}}
method: {{stage: sft, adapter: lora, r: 4, alpha: 8}}
train: {{max_steps: 4, save_steps: 2, batch_size: 2, logging_steps: 1, report_to: none, learning_rate: 0.001,
        output_dir: "{out}"}}
distributed: {{strategy: {strategy}}}
export: {{enabled: {export}}}
"""


LAUNCH_TIMEOUT = 480  # below pytest's 600 s, so a hung launch fails with its own output, not pytest's stacks


def _launch(*args: str) -> subprocess.CompletedProcess[str]:
    """`dayzero ARGS` under the launch timeout; a timeout fails the test with the tail of the run's stderr."""
    try:
        return subprocess.run([DAYZERO, *args], capture_output=True, text=True, timeout=LAUNCH_TIMEOUT, env=_env())
    except subprocess.TimeoutExpired as err:
        tail = err.stderr.decode() if isinstance(err.stderr, bytes) else (err.stderr or "")
        pytest.fail(f"dayzero {' '.join(args)} ran past {LAUNCH_TIMEOUT} s; its stderr ended:\n{tail[-3000:]}")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    return {**env, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run(
    tmp: Path, name: str, strategy: str, *args: str, export: bool = False
) -> tuple[Path, dict[str, Any]]:
    out = tmp / name
    path = tmp / f"{name}.yaml"
    path.write_text(RUN.format(out=out, strategy=strategy, export=str(export).lower()))
    proc = _launch("run", str(path), *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "run.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("dist")
    done = {
        "ddp": _run(tmp, "ddp", "ddp", "--nproc", "2"),
        "fsdp": _run(tmp, "fsdp", "fsdp2", "--nproc", "2", export=True),
    }
    return done


@pytest.mark.slow
def test_ddp_two_processes(runs: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    out, info = runs["ddp"]
    assert info["world_size"] == 2 and info["status"] == "done"
    assert info["metrics"]["global_step"] == 4
    assert info["metrics"]["param_shard_fraction"] == 1.0  # DDP replicates
    assert (out / "final" / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_fsdp2_really_shards_and_matches_the_unsharded_run(
    runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    out, info = runs["fsdp"]
    _, ddp = runs["ddp"]
    assert info["plan"]["distributed"]["strategy"] == "fsdp2"
    # rank 0 holds about half of every parameter (fully_shard splits dim 0; odd rows pad by one)
    assert 0.45 < info["metrics"]["param_shard_fraction"] < 0.55
    # same data order, same seed: sharding must not change what is learned
    assert info["losses"] == pytest.approx(ddp["losses"], abs=1e-4)
    from safetensors.torch import load_file

    sharded = load_file(str(out / "final" / "adapter_model.safetensors"))
    replicated = load_file(str(runs["ddp"][0] / "final" / "adapter_model.safetensors"))
    assert sharded.keys() == replicated.keys() and sharded
    for key, value in sharded.items():  # gathered back to full shapes, equal to the DDP weights
        assert value.shape == replicated[key].shape
        assert (value - replicated[key]).abs().max().item() < 1e-4, key
    # the export gathered from the shards passed its own logit check
    assert info["export"]["max_logit_diff"] <= info["export"]["tolerance"]
    assert (
        out / "checkpoints" / "checkpoint-2" / "pytorch_model_fsdp_0"
    ).is_dir()  # sharded (DCP) checkpoints


def _stopped_at_step_2(runs: dict[str, tuple[Path, dict[str, Any]]], name: str) -> Path:
    """A copy of the 4-step FSDP2 run as if it had been killed after checkpoint-2 was written."""
    full, _ = runs["fsdp"]
    copy = full.parent / name
    shutil.copytree(full, copy, ignore=shutil.ignore_patterns("checkpoint-4", "final", "export"))
    return copy


def _resume(run_dir: Path, nproc: int) -> dict[str, Any]:
    path = run_dir.parent / f"{run_dir.name}.yaml"
    path.write_text(RUN.format(out=run_dir, strategy="fsdp2", export="false"))
    proc = _launch("run", str(path), "--nproc", str(nproc), "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((run_dir / "run.json").read_text())


@pytest.mark.slow
def test_fsdp2_resumes_from_its_sharded_checkpoint(runs: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    after = _resume(_stopped_at_step_2(runs, "resumed"), 2)
    assert after["metrics"]["global_step"] == 4
    full = runs["fsdp"][1]["losses"]
    assert after["losses"][-2:] == pytest.approx(full[2:4], abs=1e-4)  # steps 3 and 4, as if never stopped


@pytest.mark.slow
def test_fsdp2_resumes_on_another_world_size(runs: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    """torch.distributed.checkpoint reshards on load: two processes' checkpoint, three processes resume it."""
    after = _resume(_stopped_at_step_2(runs, "three"), 3)
    assert after["world_size"] == 3 and after["metrics"]["global_step"] == 4
    assert 0.30 < after["metrics"]["param_shard_fraction"] < 0.37


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_nodes_on_one_machine(tmp_path: Path) -> None:
    out = tmp_path / "nodes"
    path = tmp_path / "nodes.yaml"
    path.write_text(
        RUN.format(out=out, strategy="fsdp2", export="true").replace("max_steps: 4", "max_steps: 2")
    )
    port = str(_free_port())
    common = ["--nnodes", "2", "--nproc", "1", "--master-addr", "127.0.0.1", "--master-port", port]
    nodes = [
        subprocess.Popen(
            [DAYZERO, "run", str(path), *common, "--node-rank", str(rank)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for rank in (0, 1)
    ]
    try:
        results = [node.communicate(timeout=LAUNCH_TIMEOUT) for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    for node, (_, err) in zip(nodes, results, strict=True):
        assert node.returncode == 0, err[-3000:]
    info = json.loads((out / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "done"
    assert 0.45 < info["metrics"]["param_shard_fraction"] < 0.55  # sharded across the two "nodes"
    assert (out / "export" / "dayzero_export.json").is_file()


@pytest.mark.slow
@needs_deepspeed
def test_deepspeed_zero3_partitions_trains_and_exports(
    tmp_path: Path, runs: dict[str, tuple[Path, dict[str, Any]]]
) -> None:
    """DeepSpeed's CPU accelerator talks gloo: ZeRO-3 runs here through the Trainer's integration."""
    out = tmp_path / "zero3"
    path = tmp_path / "zero3.yaml"
    text = RUN.format(out=out, strategy="deepspeed", export="true")
    path.write_text(
        text.replace(
            "distributed: {strategy: deepspeed}",
            "distributed: {strategy: deepspeed, deepspeed: {zero_stage: 3}}",
        )
    )
    proc = _launch("run", str(path), "--nproc", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # training never needs DeepSpeed's shm all-reduce op: it is not JIT-compiled (sdk.train.sharding)
    assert "deepspeed_shm_comm" not in proc.stdout + proc.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["metrics"]["engine"] == "DEEPSPEED"
    assert 0.45 < info["metrics"]["param_shard_fraction"] < 0.55  # each rank holds its partition only
    assert info["losses"] == pytest.approx(runs["ddp"][1]["losses"], abs=1e-4)
    assert info["export"]["max_logit_diff"] <= info["export"]["tolerance"]


@pytest.mark.parametrize(
    ("distributed", "rule"),
    [
        ({"strategy": "fsdp2", "nproc_per_node": 2}, "[D001]"),
        ({"strategy": "deepspeed", "nproc_per_node": 2, "deepspeed": {"zero_stage": 3}}, "[D002]"),
    ],
)
def test_8bit_weights_do_not_shard(
    distributed: dict[str, Any], rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec  # the rule must fire whether or not deepspeed is installed here
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "deepspeed" else real(name, *a)
    )
    monkeypatch.setattr("dayzero.sdk.distributed.validate_deepspeed_config", lambda config, r: [])
    bad = recipe(
        method={"adapter": "lora", "quantization": "bnb-8bit"},
        export={"merge": False},
        distributed=distributed,
    )
    with pytest.raises(RecipeError) as err:
        compile_plan(bad, cuda=True)
    assert rule in str(err.value)
    ok = recipe(
        method={"adapter": "qlora", "quantization": "bnb-4bit"},
        export={"merge": False},
        distributed=distributed,
    )
    compile_plan(ok, cuda=True)  # 4-bit shards under both
