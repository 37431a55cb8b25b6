"""One training run's optimizer, LR schedule, step counter, clocks and resumable state.

`Trainer.train_step` is one optimizer step (bf16 autocast when `train.autocast=bf16`, gradient
clipping, warm-up + cosine LR); `state`/`restore` round-trip everything a resumed run needs to
continue exactly as an uninterrupted one (with `checkpoint.save_checkpoint`).

Example:
    python -c "from embodied_mm.training.trainer import warmup_cosine; \
print([round(warmup_cosine(s, warmup=2, total=6), 2) for s in range(6)])"
"""

from __future__ import annotations

import math
import sys
import time
from functools import partial
from pathlib import Path

import torch

from embodied_mm.config.schema import Config
from embodied_mm.model.language_model import fast_bf16
from embodied_mm.model.palme import PalmE
from embodied_mm.training.checkpoint import load_checkpoint, rng_state, set_rng_state
from embodied_mm.training.distributed import Dist

GRAD_CLIP_NORM = 1.0  # max global norm of the trained parameters' gradient


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """LR factor: linear warm-up over `warmup` steps, then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


class Trainer:
    """Optimizer, LR schedule, step counter and clocks of one training run.

    Args:
        cfg: the run's config (`train` section).
        model: the (unwrapped) model; only its trainable parameters are optimised.
        dist: the process group.
    """

    def __init__(self, cfg: Config, model: PalmE, dist: Dist) -> None:
        t = cfg.train
        self.cfg, self.model, self.dist = cfg, model, dist
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=t.lr, weight_decay=t.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, partial(warmup_cosine, warmup=t.warmup_steps, total=t.steps))
        fast = fast_bf16(dist.device)
        self.bf16 = t.autocast == "bf16" or (t.autocast == "auto" and fast)
        self.autocast = partial(torch.autocast, dist.device.type, dtype=torch.bfloat16,
                                enabled=self.bf16)
        if t.autocast == "bf16" and not fast:
            if dist.is_main:
                print("warning: train.autocast=bf16 on a CPU without fast bf16 (no AVX512/AMX):"
                      " emulated bf16 matmuls made training steps about 65x slower than float32"
                      " on an AVX2 CPU; use train.autocast=none", file=sys.stderr)
        self.step = 0
        self.samples = 0  # seen by all processes together
        self.step_s = 0.0  # time inside training steps (data included; evals excluded)
        self.wall_s = 0.0  # wall time of earlier, interrupted runs
        self.started = time.perf_counter()
        torch.manual_seed(t.seed + dist.rank)  # dropout (LoRA); `restore` replaces the state

    @property
    def elapsed_s(self) -> float:
        return self.wall_s + time.perf_counter() - self.started

    def train_step(self, net: torch.nn.Module, batch: dict) -> tuple[float, int]:
        """One optimizer step on `batch`; returns (mean loss over all processes, samples).

        Raises:
            FloatingPointError: the loss is not finite (on every rank alike).
        """
        with self.autocast():
            loss = net(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, GRAD_CLIP_NORM)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        n = len(batch["target"])
        loss_sum, samples = self.dist.sum([loss.item() * n, n])  # same on every rank
        if not math.isfinite(loss_sum):
            raise FloatingPointError(f"training loss is {loss_sum / samples} at step "
                                     f"{self.step}; lower train.lr or use train.autocast=none")
        self.samples += int(samples)
        return loss_sum / samples, int(samples)

    def state(self) -> dict:
        """Training state for `train_state.pt` (collective: gathers every rank's RNG)."""
        t = self.cfg.train
        return {"step": self.step, "samples": self.samples, "step_s": self.step_s,
                "wall_s": self.elapsed_s, "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": self.dist.gather(rng_state()),
                "world_size": self.dist.world_size, "batch_size": t.batch_size, "seed": t.seed}

    def restore(self, path: Path) -> None:
        """Continues from checkpoint `path`: weights, optimizer, schedule, step, clocks, RNG."""
        state = load_checkpoint(path, self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.samples = state["step"], state["samples"]
        self.step_s, self.wall_s = state["step_s"], state["wall_s"]
        set_rng_state(state["rng"][min(self.dist.rank, len(state["rng"]) - 1)])
        t = self.cfg.train
        same = (self.dist.world_size, t.batch_size, t.seed)
        if self.dist.is_main and same != (state["world_size"], state["batch_size"], state["seed"]):
            print(f"warning: resuming with processes/batch_size/seed {same} instead of "
                  f"{(state['world_size'], state['batch_size'], state['seed'])}: the data "
                  "order differs from the interrupted run's", file=sys.stderr)
