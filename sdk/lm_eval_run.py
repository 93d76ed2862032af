"""`dayzero eval RUN --lm-eval TASKS`: lm-evaluation-harness on a run's model, formatted as the registry says.

lm-eval's `--apply_chat_template` renders with the tokenizer's chat template and stops generation on
the task's `until` strings plus the tokenizer's eos. dayzero gives it the registry's facts instead of
hoping the checkpoint has them right: the tokenizer carries the template the model was trained with
(the export's `chat_template.jinja`, or the family's generated Jinja for a model that ships none),
and every generation request also stops on the family's end-of-turn and generation-eos strings.

lm-eval is an optional dependency (`pip install lm-eval`); without it the command says so. Local task
definitions (a YAML over a JSON file) load with `include`, offline.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dayzero.atomic import atomic_write_text
from dayzero.errors import NotSupportedError


@dataclass
class LmEvalResults:
    tasks: list[str]
    results: dict[str, dict[str, Any]]
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    stop: list[str] = field(default_factory=list)
    path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "results": self.results, "stop": self.stop}

    def table(self) -> Any:
        from rich.table import Table

        table = Table(title="lm-eval")
        for col in ("task", "metric", "value"):
            table.add_column(col)
        for task, metrics in self.results.items():
            for name, value in metrics.items():
                if isinstance(value, int | float) and not name.startswith("alias"):
                    table.add_row(task, name, f"{value:.4f}")
        return table


def stop_strings(family: Any) -> list[str]:
    """The strings that end an answer: the family's end-of-turn and generation-eos tokens."""
    return list(dict.fromkeys([*family.tokenizer.end_of_turn, *family.serving.generation_eos]))


def run_lm_eval(
    spec: str | Path,
    tasks: list[str],
    *,
    include: Path | None = None,
    limit: int | None = None,
    out: Path | None = None,
    device: str = "cpu",
) -> LmEvalResults:
    """Evaluate a RUN_DIR or MODEL_DIR (merged weights) on lm-eval tasks with the chat template and stops."""
    try:
        import lm_eval
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise NotSupportedError(
            "`--lm-eval` needs lm-evaluation-harness, which is not installed", hint="pip install lm-eval"
        ) from None
    from .evaluate import resolve_target
    from .serve import find_target

    target = resolve_target(spec)
    served = find_target(target.spec, family=target.family)
    if served.adapter_dir is not None:
        raise NotSupportedError(
            "lm-eval on an adapter-only model", hint="export the run merged (`dayzero export RUN`)"
        )
    family = served.family
    stops = stop_strings(family)

    class RegistryLM(HFLM):  # type: ignore[misc, valid-type]
        """HFLM whose generation requests also stop on the family's end-of-turn strings."""

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            for req in requests:
                context, kwargs = req.arguments
                until = kwargs.get("until") or []
                until = [until] if isinstance(until, str) else list(until)
                req.arguments = (context, {**kwargs, "until": list(dict.fromkeys([*until, *stops]))})
            return super().generate_until(requests, disable_tqdm=disable_tqdm)

    lm = RegistryLM(pretrained=str(served.model_dir), device=device, dtype="float32", batch_size=1)
    if not getattr(lm.tokenizer, "chat_template", None):
        from .templates import ChatTemplate

        lm.tokenizer.chat_template = ChatTemplate.for_family(family).to_jinja()  # what the export would carry
    manager = TaskManager(include_path=str(include)) if include else TaskManager()
    output = lm_eval.simple_evaluate(
        model=lm,
        tasks=tasks,
        task_manager=manager,
        apply_chat_template=True,
        limit=limit,
        log_samples=True,
        bootstrap_iters=0,
    )
    if output is None:  # lm-eval returns None on non-zero ranks
        return LmEvalResults(tasks=tasks, results={}, stop=stops)
    results = {
        task: {k: v for k, v in metrics.items() if k != "alias"}
        for task, metrics in output["results"].items()
    }
    samples = output.get("samples") or {}
    report = LmEvalResults(tasks=tasks, results=results, samples=samples, stop=stops)
    out_dir = out or ((target.run_dir / "eval") if target.run_dir else Path.cwd() / f"eval-{served.name}")
    report.path = out_dir / "lm_eval.json"
    body = report.as_dict() | {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": str(served.model_dir),
        "family": family.id,
        "lm_eval": getattr(lm_eval, "__version__", None),
        "samples": {task: rows[:20] for task, rows in samples.items()},
    }
    atomic_write_text(report.path, json.dumps(body, indent=2, default=str) + "\n")
    if target.run_dir is not None:
        from .runinfo import read_run_json, write_run_json

        info = read_run_json(target.run_dir)
        info["lm_eval"] = report.as_dict() | {"file": str(report.path)}
        write_run_json(target.run_dir, info)
    return report
