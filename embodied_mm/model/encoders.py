"""Encoders that turn scene features into LLM input vectors (PaLM-E's input representations).

| name | reads | tokens per scene | placeholder |
|---|---|---|---|
| `state` | per-object state rows | one per object | `<obj>` |
| `objects` | image + object masks + mask centroids | one per object | `<obj>` |
| `image` | image | `image_tokens` (a square number) | `<img>` |
| `robot` | joints, gripper, end-effector pose | one | `<robot>` |

Each ends in a `Projector` to the LLM's width whose output RMS starts at the LLM's mean
word-embedding RMS, so injected vectors sit at the scale the LLM expects (see
`embodied_mm.model.palme`). They are small on purpose: they are trained on a CPU.

Example:
    >>> import numpy as np
    >>> from embodied_mm.model.features import SceneFeatures, collate
    >>> scene = SceneFeatures(np.zeros((2, 11), np.float32), np.zeros((2, 96, 96), np.float32),
    ...                       np.zeros((2, 3), np.float32), None, np.zeros(15, np.float32))
    >>> build_encoder("state", d_llm=64, target_rms=1.0)(collate([scene])).shape
    torch.Size([1, 2, 64])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from embodied_mm.model.features import CENTROID_DIM, OBJECT_DIM, ROBOT_DIM

OBJ, IMG, ROBOT = "obj", "img", "robot"  # placeholder kinds of the multimodal sentence


def mlp(d_in: int, width: int) -> nn.Sequential:
    """Two-layer perceptron d_in → width → width."""
    return nn.Sequential(nn.Linear(d_in, width), nn.GELU(), nn.Linear(width, width))


class Projector(nn.Module):
    """Linear map to the LLM width, then RMS normalisation with a learned per-channel gain.

    The gain starts at `target_rms`, so every output vector starts with the RMS of an average
    (scaled) word embedding; training may move it.
    """

    def __init__(self, d_in: int, d_llm: int, target_rms: float) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_llm)
        self.gain = nn.Parameter(torch.full((d_llm,), float(target_rms)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.gain


class ConvBackbone(nn.Module):
    """Small CNN: (B, 3, S, S) image → (B, width + 3, S/4, S/4) patch features.

    The last 3 channels are the image's mean RGB over each patch: a cheap, exact colour cue
    that a small CNN trained on little data would otherwise have to learn.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.GELU(),
            nn.Conv2d(64, width, 3, padding=1))
        self.out_channels = width + 3

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.net(image)  # (B, width, h, w)
        colour = F.adaptive_avg_pool2d(image, features.shape[-2:])  # (B, 3, h, w)
        return torch.cat([features, colour], dim=1)


class StateEncoder(nn.Module):
    """Per-object state row → MLP → one token per object."""

    placeholder, needs_images = OBJ, False

    def __init__(self, d_llm: int, target_rms: float, width: int) -> None:
        super().__init__()
        self.mlp = mlp(OBJECT_DIM, width)
        self.proj = Projector(width, d_llm, target_rms)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.proj(self.mlp(batch["objects"]))  # (B, N, d_llm)


class ObjectsEncoder(nn.Module):
    """Object-centric: CNN patch features averaged inside each object's mask + an embedding of
    the mask's image-plane centroid and area → one token per object."""

    placeholder, needs_images = OBJ, True

    def __init__(self, d_llm: int, target_rms: float, width: int) -> None:
        super().__init__()
        self.backbone = ConvBackbone(width)
        self.position = mlp(CENTROID_DIM, width)
        self.head = nn.Sequential(nn.Linear(self.backbone.out_channels, width), nn.GELU(),
                                  nn.Linear(width, width))
        self.proj = Projector(width, d_llm, target_rms)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        patches = self.backbone(batch["image"])  # (B, C, h, w)
        weights = F.adaptive_avg_pool2d(batch["masks"], patches.shape[-2:])  # (B, N, h, w)
        area = weights.sum(dim=(2, 3)).clamp(min=1e-6)[..., None]  # (B, N, 1)
        pooled = torch.einsum("bnhw,bchw->bnc", weights, patches) / area  # (B, N, C)
        return self.proj(self.head(pooled) + self.position(batch["centroids"]))  # (B, N, d)


class ImageEncoder(nn.Module):
    """Whole-image CNN patch features average-pooled to a g×g grid → g² tokens."""

    placeholder, needs_images = IMG, True

    def __init__(self, d_llm: int, target_rms: float, width: int, image_tokens: int) -> None:
        super().__init__()
        self.grid = round(image_tokens ** 0.5)
        if self.grid ** 2 != image_tokens:
            raise ValueError(f"image_tokens must be a square number (1, 4, 9, …), got "
                             f"{image_tokens}")
        self.backbone = ConvBackbone(width)
        self.head = nn.Linear(self.backbone.out_channels, width)
        self.position = nn.Parameter(torch.zeros(image_tokens, width))  # which grid cell
        self.proj = Projector(width, d_llm, target_rms)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        patches = F.adaptive_avg_pool2d(self.backbone(batch["image"]), self.grid)  # (B, C, g, g)
        tokens = self.head(patches.flatten(2).transpose(1, 2))  # (B, g², width)
        return self.proj(F.gelu(tokens + self.position))  # (B, g², d_llm)


class RobotEncoder(nn.Module):
    """Joint angles, gripper opening and end-effector pose → one token."""

    placeholder, needs_images = ROBOT, False

    def __init__(self, d_llm: int, target_rms: float, width: int) -> None:
        super().__init__()
        self.mlp = mlp(ROBOT_DIM, width)
        self.proj = Projector(width, d_llm, target_rms)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.proj(self.mlp(batch["robot"]))[:, None]  # (B, 1, d_llm)


ENCODERS: dict[str, type[nn.Module]] = {
    "state": StateEncoder, "objects": ObjectsEncoder, "image": ImageEncoder,
    "robot": RobotEncoder,
}


def build_encoder(name: str, d_llm: int, target_rms: float, width: int = 128,
                  image_tokens: int = 4) -> nn.Module:
    """The encoder called `name` (a key of `ENCODERS`), projecting to `d_llm`."""
    if name not in ENCODERS:
        raise ValueError(f"unknown input {name!r}; choose from {', '.join(ENCODERS)}")
    if name == "image":
        return ImageEncoder(d_llm, target_rms, width, image_tokens)
    return ENCODERS[name](d_llm, target_rms, width)
