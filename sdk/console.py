"""What `dayzero run` shows: the plan as a table, one progress display per stage, a closing summary.

On a terminal the training stage is a rich progress bar with step, loss, learning rate, tokens/s and
ETA. With `NO_COLOR`, `TERM=dumb` or when the console is not a terminal (CI logs, pipes) the same
facts come as plain lines, one per logged step, `name value` pairs that grep and awk can read.
The libraries' own chatter (transformers' and datasets' progress bars, "Loading weights", TRL and PEFT
warnings about their internals, their loggers) is quiet unless `verbose`; transformers' printer of raw
metric dicts is always replaced by this display (`replace_trainer_printer`).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .runinfo import rank

# Loggers of libraries dayzero drives; their warnings describe their own internals, not the recipe.
_LIBRARY_LOGGERS = ("transformers", "datasets", "peft", "trl", "accelerate", "bitsandbytes", "torch", "httpx",
                    "huggingface_hub", "uvicorn", "uvicorn.error", "uvicorn.access", "modelscope")


def is_plain(console: Any) -> bool:
    """Plain lines instead of live displays: not a terminal, NO_COLOR set, or a dumb terminal."""
    return (not console.is_terminal) or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"


class RunConsole:
    """The run's output. `enabled=False` (or a rank other than 0) prints nothing."""

    def __init__(self, console: Any = None, *, verbose: bool = False, enabled: bool = True) -> None:
        from rich.console import Console

        self.enabled = enabled and rank() == 0
        self.console = console if console is not None else Console(stderr=True)
        self.verbose = verbose
        self.plain = is_plain(self.console)
        self.started = time.monotonic()

    def print(self, text: str = "") -> None:
        if self.enabled:  # soft_wrap: a plain line is never broken, so grep sees it whole
            self.console.print(text, markup=False, highlight=False, soft_wrap=self.plain)

    def plan(self, plan: Any) -> None:
        if not self.enabled:
            return
        if self.plain:
            for line in plan.render().splitlines():
                self.print(line)
        else:
            self.console.print(plan_table(plan))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """One line per stage when it ends (with its time); a spinner while it runs, on a terminal."""
        start = time.monotonic()
        if self.enabled and not self.plain:
            with self.console.status(f"{name} ..."):
                yield
        else:
            yield
        self.print(f"{'stage ' if self.plain else '✓ '}{name} done in {time.monotonic() - start:.1f} s")

    def progress_callback(self) -> Any:
        """A transformers TrainerCallback drawing the training stage (see the module docstring)."""
        return _progress_callback(self)

    def summary(self, result: Any, prompt: str | None) -> None:
        """Where the export is, how to serve it, the loss plot, and the sample reply."""
        if not self.enabled:
            return
        lines = [f"done in {time.monotonic() - self.started:.0f} s: {result.run_dir}"]
        losses = result.losses
        if result.export_dir is not None:
            lines.append(f"  export  {result.export_dir}")
            lines.append(f"  serve   dayzero serve {result.export_dir}   (or: dayzero chat {result.export_dir})")
        plot = result.run_dir / "loss.png"
        if plot.is_file():
            curve = f"  (loss {losses[0]:.3f} -> {losses[-1]:.3f})" if losses else ""
            lines.append(f"  loss    {plot}{curve}")
        if prompt and result.sample is not None:
            shown = result.sample or "(empty: the model ended its turn at once; a tiny random model often does)"
            lines.append(f"  user       {prompt}")
            lines.append(f"  assistant  {shown}")
        for line in lines:
            self.print(line)


def plan_table(plan: Any) -> Any:
    """The plan as a two-column rich table (what `dayzero plan` and `dayzero run` show on a terminal)."""
    from rich.table import Table
    from rich.text import Text

    class _Rows(Table):  # values are text, never rich markup (`[tiny]` must show as written)
        def add_row(self, label: str, value: str, style: str | None = None) -> None:  # type: ignore[override]
            super().add_row(label, Text(value), style=style)

    m, t, a, tr, e = plan.model, plan.template, plan.adapter, plan.trainer, plan.export
    table = _Rows(title=f"plan {plan.name}  (registry {plan.registry_version})", show_header=False,
                  title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("model", f"{m.id} [{m.source}] -> family {m.family} r{m.family_revision} ({m.model_class})")
    table.add_row("template", f"{t.format}, reasoning {t.reasoning}, end of turn {', '.join(t.end_of_turn)}")
    adapter = a.kind + (f" ({a.peft_config})" if a.peft_config else "")
    if a.target_modules:
        adapter += f" on {', '.join(a.target_modules)}"
    if a.trainable_layers and a.kind == "freeze":
        adapter += f", the last {a.trainable_layers} layer(s)"
    table.add_row("adapter", adapter)
    if a.quantization:
        q = a.quantization
        kind = q.get("bnb_4bit_quant_type", "int8") + (" + double quant" if q.get("bnb_4bit_use_double_quant") else "")
        compute = f", compute {q['bnb_4bit_compute_dtype']}" if "bnb_4bit_compute_dtype" in q else ""
        kept = [*q.get("llm_int8_skip_modules", []), *q.get("not_quantized", [])]
        table.add_row("quantized", f"{q['method']} ({kind}{compute}); full precision: {', '.join(kept)}")
    cfg = tr.config
    steps = f"{cfg['max_steps']} steps" if cfg.get("max_steps", -1) > 0 else f"{cfg.get('num_train_epochs')} epochs"
    table.add_row("trainer", f"{tr.trainer} (stage {tr.stage}), {steps}, batch {cfg.get('per_device_train_batch_size')}"
                  f" x {cfg.get('gradient_accumulation_steps')}, lr {cfg.get('learning_rate'):g}")
    table.add_row("data", ", ".join(str(d) if isinstance(d, str) else str(d.get("path", d)) for d in plan.data["datasets"]))
    table.add_row("run dir", plan.run_dir)
    table.add_row("export", "\n".join(f"{i}. {step}" for i, step in enumerate(e.steps, 1)) if e.enabled else "off")
    if plan.serve_command:
        table.add_row("serve", " ".join(plan.serve_command))
    if plan.cost is not None:
        from .plan import _cost_lines

        first, memory = (line.strip() for line in _cost_lines(plan.cost, a.kind))
        table.add_row("cost", first.removeprefix("cost").strip())
        table.add_row("memory", memory)
    for warning in plan.warnings:
        table.add_row("warning", warning, style="yellow")
    return table


def replace_trainer_printer(trainer: Any, callback: Any = None) -> None:
    """Remove transformers' own progress bar and raw-dict printer; add `callback` (the run's display)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if callback is not None:
        trainer.add_callback(callback)


@contextmanager
def quiet_libraries(verbose: bool = False) -> Iterator[None]:
    """Silence the libraries' progress bars, loggers and warnings for the duration (unless `verbose`)."""
    if verbose:
        yield
        return
    import datasets
    import huggingface_hub.utils as hub_utils
    import transformers.utils.logging as tf_logging

    saved_levels = {name: logging.getLogger(name).level for name in _LIBRARY_LOGGERS}
    tf_level, tf_bars = tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled()
    ds_bars = datasets.is_progress_bar_enabled()
    hub_bars = not hub_utils.are_progress_bars_disabled()
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    tf_logging.set_verbosity_error()
    tf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    hub_utils.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        tf_logging.set_verbosity(tf_level)
        if tf_bars:
            tf_logging.enable_progress_bar()
        if ds_bars:
            datasets.enable_progress_bars()
        if hub_bars:
            hub_utils.enable_progress_bars()


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _progress_callback(out: RunConsole) -> Any:
    from transformers import TrainerCallback

    class DayzeroProgress(TrainerCallback):  # type: ignore[misc]
        """Step, loss, learning rate, tokens/s and ETA of the training stage."""

        def __init__(self) -> None:
            self.progress: Any = None
            self.task: Any = None
            self.start = self.last_time = time.monotonic()
            self.last_tokens = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.start = self.last_time = time.monotonic()
            self.last_tokens = 0.0
            if out.enabled and not out.plain:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                )

                self.progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                         TextColumn("{task.fields[metrics]}"), TextColumn("eta"),
                                         TimeRemainingColumn(), console=out.console)
                self.progress.start()
                self.task = self.progress.add_task("train", total=state.max_steps, metrics="",
                                                   completed=state.global_step)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.progress is not None:
                self.progress.update(self.task, completed=state.global_step)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
            logs = logs or {}
            loss, eval_loss = _number(logs.get("loss")), _number(logs.get("eval_loss"))
            if loss is None and eval_loss is None:
                return  # the closing train_runtime / train_loss summary: the run's summary says it
            now = time.monotonic()
            fields = {"step": f"{state.global_step}/{state.max_steps}"}
            if loss is not None:
                fields["loss"] = f"{loss:.4f}"
            if eval_loss is not None:
                fields["eval_loss"] = f"{eval_loss:.4f}"
            lr = _number(logs.get("learning_rate"))
            if lr is not None:
                fields["lr"] = f"{lr:.2e}"
            tokens = _number(logs.get("num_tokens"))
            if tokens is not None and now > self.last_time:
                fields["tokens/s"] = f"{(tokens - self.last_tokens) / (now - self.last_time):.0f}"
                self.last_tokens, self.last_time = tokens, now
            if state.global_step:
                remaining = (now - self.start) / state.global_step * max(0, state.max_steps - state.global_step)
                fields["eta"] = f"{remaining:.0f}s"
            if self.progress is not None:
                shown = {k: v for k, v in fields.items() if k not in ("step", "eta")}
                self.progress.update(self.task, metrics="  ".join(f"{k} {v}" for k, v in shown.items()))
            else:
                out.print("train " + "  ".join(f"{k} {v}" for k, v in fields.items()))

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.progress is not None:
                self.progress.update(self.task, completed=state.global_step)
                self.progress.stop()
                self.progress = None

    return DayzeroProgress()
