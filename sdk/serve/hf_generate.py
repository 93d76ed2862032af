"""One `model.generate` call for a batch of queued requests, each streamed and ended on its own.

Why batch: on a small model most of a step's time is overhead, so generating for 8 queued requests
at once costs little more than for one. Prompts are left-padded (the side every decoder generates
from) with an attention mask. Each row is followed separately: its tokens go to its own client as
they come, and it ends — its `DoneEvent` sent at once — on an end-of-turn id, its own token budget,
or a cancel, while the others go on (a stopping criterion that answers per row tells `generate`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .hf_backend import Job, SamplingParams

FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class TokenEvent:
    token_id: int


@dataclass(frozen=True)
class DoneEvent:
    reason: FinishReason
    completion_tokens: int


@dataclass(frozen=True)
class ErrorEvent:
    message: str


Event = TokenEvent | DoneEvent | ErrorEvent


@dataclass
class _Row:
    job: Job
    produced: list[int] = field(default_factory=list)
    reason: FinishReason | None = None  # set once the row has ended


def is_greedy(params: SamplingParams, base_config: Any) -> bool:
    """Greedy when asked (temperature 0) or when the model's generation_config does not sample."""
    return params.temperature == 0 or (params.temperature is None and not getattr(base_config, "do_sample", False))


def generation_config(base: Any, params: SamplingParams, stop_ids: Sequence[int], pad_id: int) -> Any:
    """The model's generation_config with the request's sampling on top; None means "the model's"."""
    from transformers import GenerationConfig

    config = copy.deepcopy(base) if base is not None else GenerationConfig()
    config.max_new_tokens = params.max_new_tokens
    config.max_length = None
    config.eos_token_id = list(stop_ids)
    if config.pad_token_id is None:
        config.pad_token_id = pad_id
    if is_greedy(params, base):
        config.do_sample = False
        config.temperature = None
        config.top_p = None
        config.top_k = None
    else:
        config.do_sample = True
        if params.temperature is not None:
            config.temperature = params.temperature
        if params.top_p is not None:
            config.top_p = params.top_p
    return config


def generate_batch(
    model: Any,
    jobs: list[Job],
    *,
    stop_ids: Sequence[int],
    pad_id: int,
    processors: list[Any],
    on_done: Callable[[Job, DoneEvent], None],
) -> None:
    """Generate for ``jobs`` (compatible sampling, see `batch_key`) in one call.

    Tokens and each row's `DoneEvent` are emitted through the jobs; ``on_done`` is told too.
    """
    import torch
    from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
    from transformers.generation.streamers import BaseStreamer

    rows = [_Row(job) for job in jobs]
    stops = set(stop_ids)

    def end(row: _Row, reason: FinishReason) -> None:
        if row.reason is None:
            row.reason = reason
            done = DoneEvent(reason, len(row.produced))
            on_done(row.job, done)
            row.job.emit(done)

    class _RowsEnded(StoppingCriteria):
        """Per row: ended (end of turn, budget) or cancelled by its client."""

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            for row in rows:
                if row.reason is None and row.job.cancelled.is_set():
                    end(row, "cancelled")
            flags = [row.reason is not None for row in rows]
            return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

    class _Tokens(BaseStreamer):
        """generate() hands the prompts first, then one new token per row per step."""

        prompt_seen = False

        def put(self, value: Any) -> None:
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            for row, tid in zip(rows, value.reshape(-1).tolist(), strict=True):
                if row.reason is not None:
                    continue  # generate pads rows that have ended
                row.produced.append(int(tid))
                row.job.emit(TokenEvent(int(tid)))
                if tid in stops:
                    end(row, "stop")
                elif len(row.produced) >= row.job.params.max_new_tokens:
                    end(row, "length")

        def end(self) -> None:
            pass

    device = next(model.parameters()).device
    width = max(len(job.prompt_ids) for job in jobs)
    input_ids = torch.full((len(jobs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(jobs), width), dtype=torch.long)
    for i, job in enumerate(jobs):
        n = len(job.prompt_ids)
        input_ids[i, width - n :] = torch.tensor(job.prompt_ids, dtype=torch.long)
        mask[i, width - n :] = 1
    params = jobs[0].params
    budget = max(job.params.max_new_tokens for job in jobs)
    config = generation_config(getattr(model, "generation_config", None), params, stop_ids, pad_id)
    config.max_new_tokens = budget
    if params.seed is not None:
        torch.manual_seed(params.seed)
    extra = {}
    if jobs[0].inputs:  # a job with more inputs (images) runs alone, so its tensors line up with the unpadded row
        from dayzero.sdk.vision_inputs import forward_inputs

        extra = {k: v.to(device) if hasattr(v, "to") else v for k, v in forward_inputs(model, jobs[0].inputs).items()}
    with torch.inference_mode():
        model.generate(
            input_ids=input_ids.to(device),
            attention_mask=mask.to(device),
            **extra,
            generation_config=config,
            logits_processor=LogitsProcessorList(processors),
            stopping_criteria=StoppingCriteriaList([_RowsEnded()]),
            streamer=_Tokens(),
        )
    for row in rows:  # rows generate() ended on its own (its eos handling, the shared budget)
        if row.reason is None:
            cancelled = row.job.cancelled.is_set()
            end(row, "cancelled" if cancelled else "length" if len(row.produced) >= budget else "stop")


def batch_key(params: SamplingParams, base_config: Any) -> tuple[Any, ...] | None:
    """Requests with the same key can share a batch; None: this one must run alone.

    A sampled request with a seed runs alone (a batch shares one random generator).
    """
    if is_greedy(params, base_config):
        return ("greedy", params.adapter)
    if params.seed is not None:
        return None
    return ("sample", params.temperature, params.top_p, params.adapter)
