"""The transformers back end: `model.generate` on one worker thread, fed by a queue.

Why one thread and a queue: a transformers model is not safe to call from several threads at
once. Requests are queued (first come, first served) and every one is answered; the HTTP layer
stays responsive because it only waits on a per-request event queue. When several compatible
requests wait (same sampling, no per-request logits processors, no seed shared by a sampled
batch), the worker takes up to `max_batch` of them into one batched `generate` (see
`hf_generate.py`): on small models a step for 8 rows costs little more than for one.

A request whose client went away is cancelled: if it is still queued it is skipped, if it is
running a stopping criterion ends its row at the next token, so it never holds up the others.
Tokens are handed out one at a time as they are generated; the caller turns them into text, cuts
stop strings, and cancels the job when a stop string has been seen.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dayzero.errors import ServeError

from .hf_generate import DoneEvent, ErrorEvent, Event, FinishReason, TokenEvent, batch_key, generate_batch

__all__ = ["DoneEvent", "ErrorEvent", "Event", "FinishReason", "HFBackend", "Job", "SamplingParams", "TokenEvent"]

# Per-request logits processors, built from the prompt ids (constraints, biases, tests' scripts).
ProcessorFactory = Callable[[list[int]], list[Any]]


@dataclass(frozen=True)
class SamplingParams:
    """What one generation may do. `None` means: the model's generation_config decides."""

    max_new_tokens: int
    temperature: float | None = None  # 0 means greedy
    top_p: float | None = None
    seed: int | None = None
    adapter: str | None = None  # the LoRA adapter to answer with, by name; None: the base (several adapters)


@dataclass
class Job:
    prompt_ids: list[int]
    params: SamplingParams
    emit: Callable[[Event], None]
    cancelled: threading.Event = field(default_factory=threading.Event)
    processors: list[Any] | None = None  # built once, by the worker
    # More model inputs for this prompt (a vision-language model's pixel values, image grids, token types):
    # such a job runs in a batch of its own.
    inputs: dict[str, Any] | None = None

    def cancel(self) -> None:
        self.cancelled.set()


class HFBackend:
    """Serves one transformers model (optionally with a peft adapter) to many callers."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        stop_ids: Sequence[int],
        max_context: int,
        logits_processor_factory: ProcessorFactory | None = None,
        max_batch: int = 8,
    ) -> None:
        if not stop_ids:
            raise ServeError("no end-of-turn token id: generation would never stop at the end of a turn")
        self.model = model
        self.tokenizer = tokenizer
        self.stop_ids = list(dict.fromkeys(int(i) for i in stop_ids))
        self.max_context = max_context
        self._factory = logits_processor_factory
        self.max_batch = max(1, max_batch)
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._deferred: collections.deque[Job | None] = collections.deque()  # taken out, not batchable yet
        self.batch_sizes: collections.Counter[int] = collections.Counter()  # how many batches of each size ran
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        # finished generations by reason (stop / length / cancelled / error): for /health and tests
        self.finished: dict[str, int] = {"stop": 0, "length": 0, "cancelled": 0, "error": 0}
        self.adapters: list[str] = []  # named adapters a request picks (multi-LoRA); empty: one model

    @property
    def queued(self) -> int:
        """Generations waiting for the worker."""
        return self._jobs.qsize() + len(self._deferred)

    # ---- loading ---------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        model_dir: Path,
        stop_tokens: Sequence[str],
        *,
        adapter_dir: Path | None = None,
        merge: bool = False,
        device: str | None = None,
        logits_processor_factory: ProcessorFactory | None = None,
        max_batch: int = 8,
        allow_pickle: bool = False,
        quantization: dict[str, Any] | None = None,
        adapters: Sequence[tuple[str, Path]] = (),
        auto_class: str = "AutoModelForCausalLM",
    ) -> HFBackend:
        """Load a model directory (and a LoRA adapter on top of it, served as is or merged).

        ``adapters``: several named LoRA adapters on the one base (multi-LoRA), each request answered by
        the adapter its `SamplingParams.adapter` names, or by the base with the adapters switched off;
        ``adapter_dir`` is then the first of them, and merging is refused.
        ``stop_tokens`` are the family's end-of-turn and generation eos tokens; those the tokenizer
        does not know are skipped, and none known at all is an error. ``auto_class`` is the transformers
        class that loads it (a vision-language family's `vision.processor.auto_class`).
        """
        import torch
        import transformers
        from transformers import AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = "auto" if device != "cpu" else torch.float32
        tok_dir = adapter_dir if adapter_dir and (adapter_dir / "tokenizer_config.json").exists() else model_dir
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
            extra: dict[str, Any] = {}
            if quantization:  # a QLoRA adapter: its base quantized as in training (sdk.quantize)
                from dayzero.sdk.quantize import bnb_config

                extra = {"quantization_config": bnb_config(quantization), "device_map": device}
            model = getattr(transformers, auto_class).from_pretrained(
                str(model_dir), dtype=dtype, use_safetensors=None if allow_pickle else True, **extra)
        except (OSError, ValueError) as exc:
            raise ServeError(f"cannot load the model in {model_dir}: {exc}") from None
        if adapters:
            if merge:
                raise ServeError("several adapters on one base cannot be merged into it", hint="drop --merge")
            from peft import PeftModel

            (first, first_dir), *rest = adapters
            model = PeftModel.from_pretrained(model, str(first_dir), adapter_name=first)
            for name, path in rest:
                model.load_adapter(str(path), adapter_name=name)
        elif adapter_dir is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter_dir))
            if merge and not quantization:  # never merged into a quantized base (rule Q003)
                model = model.merge_and_unload()
        if not quantization:  # a quantized model was placed while loading; `.to` would undo nothing useful
            model.to(device)
        model.eval()
        stop_ids = token_ids(tokenizer, stop_tokens)
        if not stop_ids:
            raise ServeError(
                f"none of the family's end-of-turn tokens {list(stop_tokens)} is in the tokenizer of {tok_dir}",
                hint="the model directory's tokenizer does not belong to the family it was matched to",
            )
        backend = cls(
            model,
            tokenizer,
            stop_ids=stop_ids,
            max_context=max_context_of(model.config, tokenizer),
            logits_processor_factory=logits_processor_factory,
            max_batch=max_batch,
        )
        backend.adapters = [name for name, _ in adapters]
        return backend

    # ---- submitting ------------------------------------------------------------------------

    def submit(
        self, prompt_ids: list[int], params: SamplingParams, emit: Callable[[Event], None],
        inputs: dict[str, Any] | None = None,
    ) -> Job:
        """Queue one generation; ``emit`` is called from the worker thread with each event."""
        job = Job(list(prompt_ids), params, emit, inputs=inputs)
        self._ensure_worker()
        self._jobs.put(job)
        return job

    def stream(
        self, prompt_ids: list[int], params: SamplingParams, inputs: dict[str, Any] | None = None
    ) -> Iterator[Event]:
        """Synchronous events of one generation (for the terminal chat and scripts)."""
        events: queue.Queue[Event] = queue.Queue()
        job = self.submit(prompt_ids, params, events.put, inputs)
        try:
            while True:
                event = events.get()
                yield event
                if not isinstance(event, TokenEvent):
                    return
        finally:
            job.cancel()

    async def astream(
        self, prompt_ids: list[int], params: SamplingParams, inputs: dict[str, Any] | None = None
    ) -> AsyncIterator[Event | Job]:
        """Events of one generation for asyncio code; the first item is the Job (to cancel it).

        Leaving the iteration early (a client disconnect cancels the task) cancels the job.
        """
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event] = asyncio.Queue()

        def emit(event: Event) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
                loop.call_soon_threadsafe(events.put_nowait, event)

        job = self.submit(prompt_ids, params, emit, inputs)
        try:
            yield job
            while True:
                event = await events.get()
                yield event
                if not isinstance(event, TokenEvent):
                    return
        finally:
            job.cancel()

    def close(self) -> None:
        """Stop the worker after the jobs already queued."""
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join(timeout=30)
            self._worker = None

    # ---- the worker ------------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="dayzero-hf-generate", daemon=True)
                self._worker.start()

    def _next(self) -> Job | None:
        return self._deferred.popleft() if self._deferred else self._jobs.get()

    def _processors(self, job: Job) -> list[Any]:
        if job.processors is None:
            job.processors = self._factory(list(job.prompt_ids)) if self._factory else []
        return job.processors

    def _run(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            if job.cancelled.is_set():
                self._count(job, DoneEvent("cancelled", 0))
                job.emit(DoneEvent("cancelled", 0))
                continue
            batch = [job, *self._companions(job)]
            self.batch_sizes[len(batch)] += 1
            try:
                with self._adapter(job.params.adapter):
                    generate_batch(self.model, batch, stop_ids=self.stop_ids, pad_id=self._pad_id(),
                                   processors=self._processors(job), on_done=self._count)
            except Exception as exc:  # one failing batch must not stop the worker
                for member in batch:
                    self.finished["error"] += 1
                    member.emit(ErrorEvent(f"generation failed: {type(exc).__name__}: {exc}"))

    def _adapter(self, name: str | None) -> contextlib.AbstractContextManager[Any]:
        """The batch's adapter switched on (a batch holds one adapter: it is part of `batch_key`), or all of
        them off for the base; nothing to switch with a single model."""
        if not self.adapters:
            return contextlib.nullcontext()
        if name is None:
            return self.model.disable_adapter()
        if name not in self.adapters:
            raise ServeError(f"no adapter named {name!r}; loaded: {self.adapters}")
        self.model.set_adapter(name)
        return contextlib.nullcontext()

    def _companions(self, job: Job) -> list[Job]:
        """Queued jobs that can share ``job``'s batch: same sampling, no per-request processors.

        Jobs taken out but not compatible wait, in order, in front of the queue.
        """
        base = getattr(self.model, "generation_config", None)
        key = batch_key(job.params, base)
        if self.max_batch == 1 or key is None or self._processors(job) or job.inputs:
            return []
        found: list[Job] = []
        kept: list[Job | None] = []
        while len(found) < self.max_batch - 1:
            try:
                other = self._deferred.popleft() if self._deferred else self._jobs.get_nowait()
            except queue.Empty:
                break
            if other is None:  # close(): keep the sentinel for after this batch
                kept.append(other)
                break
            if (not other.cancelled.is_set() and batch_key(other.params, base) == key and not self._processors(other)
                    and not other.inputs):
                found.append(other)
            else:
                kept.append(other)
        self._deferred.extendleft(reversed(kept))
        return found

    def _count(self, job: Job, done: DoneEvent) -> None:
        self.finished[done.reason] += 1

    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad) if pad is not None else self.stop_ids[0]


def token_ids(tokenizer: Any, tokens: Sequence[str]) -> list[int]:
    """Ids of the tokens that the tokenizer knows as single tokens (unknown ones are skipped)."""
    unk = tokenizer.unk_token_id
    ids: list[int] = []
    for tok in tokens:
        tid = tokenizer.convert_tokens_to_ids(tok)
        if isinstance(tid, int) and tid != unk and tid not in ids:
            ids.append(tid)
    return ids


def max_context_of(config: Any, tokenizer: Any) -> int:
    """The longest sequence the model takes: its position limit (a vision-language model's is its language
    model's), else the tokenizer's."""
    get_text = getattr(config, "get_text_config", None)
    config = get_text() if callable(get_text) else config
    for name in ("max_position_embeddings", "n_positions", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 10**9:
        return limit
    raise ServeError("cannot tell the model's context length: no max_position_embeddings in config.json")
