"""Training: TRL trainers and PEFT adapters driven by a compiled plan.

- `adapters`: lora / dora / rslora / pissa / qlora (peft LoRA variants), oft (peft OFT), freeze (last N
  layers), full; target names checked against the instantiated model.
- `trainers`: the plan's TRL trainer and config class (SFT, DPO, KTO, Reward; ORPO and CPO/SimPO from
  `trl.experimental`), taking dayzero's pre-tokenized rows as they are.
- `rl`: the online stage, TRL's GRPOTrainer on prompts rendered by the family template, with the plan's
  rewards (`sdk.rewards`).
"""

from .adapters import apply_adapter, check_targets, trainable_summary
from .trainers import build_config, build_trainer, trainer_classes

__all__ = ["apply_adapter", "build_config", "build_trainer", "check_targets", "trainable_summary", "trainer_classes"]
