"""Training checkpoints: trained weights (`PalmE.save`) + optimizer, schedule, step and RNG.

A checkpoint directory holds what `PalmE.save` writes (so it is also a planner checkpoint)
plus `train_state.pt`. It is written whole into `NAME.tmp/` and then swapped in by renames,
so a crash leaves either the previous checkpoint or the new one, never a mixture; after a
crash between the two renames the previous one survives as `NAME.old/` and is found there.

Example:
    python -c "from embodied_mm.training.checkpoint import find_checkpoint; \
print(find_checkpoint('outputs/train/last'))"
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from embodied_mm.model.palme import CONFIG_FILE, WEIGHTS_FILE, PalmE

STATE_FILE = "train_state.pt"
STATE_FORMAT = "embodied_mm.train_state/1"


def save_checkpoint(path: str | Path, model: PalmE, state: dict[str, Any] | None = None) -> None:
    """Atomically (re)writes checkpoint directory `path`.

    Args:
        path: the checkpoint directory, e.g. `out_dir/last`.
        model: its trained parts are saved.
        state: training state for `train_state.pt` (optimizer, scheduler, step, RNG, …);
            None writes a model-only checkpoint.
    """
    path = Path(path)
    tmp, old = path.with_name(path.name + ".tmp"), path.with_name(path.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(tmp)
    if state is not None:
        torch.save({"format": STATE_FORMAT, **state}, tmp / STATE_FILE)
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(path: str | Path) -> Path | None:
    """The complete training checkpoint at `path` (or its `.old` copy), or None."""
    path = Path(path)
    for candidate in (path, path.with_name(path.name + ".old")):
        if all((candidate / f).is_file() for f in (WEIGHTS_FILE, CONFIG_FILE, STATE_FILE)):
            return candidate
    return None


def load_checkpoint(path: str | Path, model: PalmE) -> dict[str, Any]:
    """Loads the trained parts into `model` and returns the training state.

    Raises:
        embodied_mm.model.palme.CheckpointError: the weights do not fit `model`.
        ValueError: `train_state.pt` is not one of ours.
    """
    model.load(path)
    state = torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=True)
    if state.get("format") != STATE_FORMAT:
        raise ValueError(f"{Path(path) / STATE_FILE} is not a {STATE_FORMAT} file")
    return state


def rng_state() -> dict[str, Any]:
    """This process's torch RNG states (CPU, and CUDA when present): dropout draws from them."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restores what `rng_state` returned."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
