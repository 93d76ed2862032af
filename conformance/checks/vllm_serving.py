"""Serving facts: the vLLM architecture name is one vLLM implements, and the LoRA adapter the train
smoke produced passes the one vLLM adapter lint (`sdk/serve/vllm_lint.py`: the engine table's LoRA
facts plus the family's `serving.lora`).

vLLM cannot share this environment (STACK-NOTES), so its registry is consulted only where vllm is
importable; elsewhere the fact is recorded as not checked (a warning-level skip, not a pass).
"""

from __future__ import annotations

from ..context import Context
from ..result import NotApplicable, Outcome, Unavailable
from .base import check
from .train import sdk_run


@check("serving.vllm-architecture", "the vLLM architecture name is in vLLM's model registry", severity="warning")
def vllm_architecture(ctx: Context) -> Outcome:
    arch = ctx.family.serving.vllm_architecture
    if arch is None:
        raise NotApplicable("serving.vllm_architecture is null (vLLM has no implementation)")
    try:
        from vllm import ModelRegistry
    except Exception:
        raise Unavailable(f"vllm (not importable here): {arch!r} not checked") from None
    supported = set(ModelRegistry.get_supported_archs())
    ok = arch in supported
    return Outcome(ok, f"{arch} {'is' if ok else 'is NOT'} in vLLM's registry ({len(supported)} archs)",
                   {"architecture": arch, "in_registry": ok})


@check("serving.adapter-lint", "the train smoke's LoRA adapter passes the family's vLLM adapter lint")
def adapter_lint(ctx: Context) -> Outcome:
    from dayzero.sdk.serve import lint_adapter as lint
    if ctx.family.serving.vllm_architecture is None:
        raise NotApplicable("not servable by vLLM (serving.vllm_architecture is null)")
    result = sdk_run(ctx, "lora")
    from dayzero.errors import DayzeroError

    try:
        rank = lint(result.run_dir / "final", ctx.family)
    except DayzeroError as exc:
        return Outcome(False, exc.message, {"problems": exc.message})
    return Outcome(True, f"adapter (rank {rank}) is servable by vLLM as declared", {"rank": rank})
