"""Data-parallel training under `torchrun`: process group, device, DDP wrapper, reductions.

`torchrun` sets `WORLD_SIZE`, `RANK` and `LOCAL_RANK`; without them (or with a world of one)
nothing is initialised and the model is not wrapped. CPU processes talk over gloo, GPU ones
over nccl, one GPU per local rank.

Example:
    torchrun --nproc_per_node=2 -m embodied_mm.train model.llm=tiny train.steps=20
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as torch_dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Dist:
    """Where this process stands among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """Whether there is more than one process (and so a process group)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, metrics and the progress bar."""
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """This process's GPU (by local rank) when CUDA is available, else the CPU."""
        if torch.cuda.is_available():
            return torch.device("cuda", self.local_rank % torch.cuda.device_count())
        return torch.device("cpu")

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum of `values` over all processes (float64)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.enabled:
            torch_dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj: Any) -> list[Any]:
        """`obj` of every process, by rank (picklable objects)."""
        if not self.enabled:
            return [obj]
        gathered: list[Any] = [None] * self.world_size
        torch_dist.all_gather_object(gathered, obj)
        return gathered

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()


@contextmanager
def distributed() -> Iterator[Dist]:
    """The process group `torchrun`'s environment asks for, torn down on exit.

    Raises:
        RuntimeError: `WORLD_SIZE` > 1 but `RANK` is missing (not started by torchrun).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        yield Dist()
        return
    if "RANK" not in os.environ:
        raise RuntimeError("WORLD_SIZE > 1 but RANK is not set; start training with torchrun")
    rank = int(os.environ["RANK"])
    dist = Dist(rank, world_size, int(os.environ.get("LOCAL_RANK", rank)))
    created = not torch_dist.is_initialized()
    if created:
        if torch.cuda.is_available():
            torch.cuda.set_device(dist.device)
        torch_dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo",
                                      rank=rank, world_size=world_size)
    try:
        yield dist
    finally:
        if created:
            torch_dist.destroy_process_group()


def wrap(model: nn.Module, dist: Dist) -> nn.Module:
    """`model` in DDP when there are several processes, else `model` itself.

    Frozen parameters and all buffers (the LLM's; the encoders have none) are excluded from
    DDP: every rank loads the same LLM, so broadcasting its ~270M weights at construction and
    its buffers on every forward would only cost time. Every trainable parameter takes part
    in every loss (all selected encoders run on every batch, LoRA sits in every targeted
    layer), so `find_unused_parameters=False` holds and saves a graph walk per step.
    """
    if not dist.enabled:
        return model
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    frozen += [name for name, _ in model.named_buffers()]
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, frozen)
    device_ids = [dist.device.index] if dist.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=False)
