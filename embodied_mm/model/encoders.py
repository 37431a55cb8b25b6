"""Encoders that turn scene features into LLM input vectors (PaLM-E's input representations).

| name | reads | tokens per scene | placeholder |
|---|---|---|---|
| `state` | per-object state rows | k per object (`ObjectTokens`) | `<obj>` |
| `objects` | image + masks + mask centroids | k per object (`ObjectTokens`) | `<obj>` |
| `image` | image | `image_tokens` (a square number) | `<img>` |
| `robot` | joints, gripper, end-effector pose | one | `<robot>` |

Each ends in a `Projector` to the LLM's width whose output RMS starts at the LLM's mean
word-embedding RMS, so injected vectors sit at the scale the LLM expects (see
`embodied_mm.model.palme`). They are small on purpose: they are trained on a CPU.

Object tokens (`ObjectTokens`) are word-anchored: per object, a colour token and a kind token
that are the probability-weighted mean of the LLM's own embeddings of the colour words
(` red`, ` blue`, …) and kind words (` block`, ` bowl`) under the encoder's predicted
distribution, two more such tokens for the object's row and column on the table as digits
(`features.POSITION_ATTRIBUTES`), then one free vector for everything else (size, fine
position). The LLM reads them as it reads the words, which a LoRA-tuned LLM learns to look up
from few samples where a free vector needs far more. The predicted distributions are returned
as logits so training can add a describe-the-object loss. Computed tokens (the `state` input
only) come after, mixtures of words that are not predicted but computed from the whole
scene's state rows, because a per-object encoder cannot see the other objects
(`COMPUTED_WORDS`): `relation`, the mean of ` leftmost`, ` rightmost`, ` nearest`,
` farthest` that hold for the object among the objects of its kind (` middle` if none;
`features.relation_weights`); `support`, what it rests on, ` table`, ` bowl`, ` block` or
` air` (`features.support_weights`); `held_color`, ` same` if the object has the colour of the
object in the gripper, else ` other` (`features.held_color_weights`); `pairing` (optional,
`PalmEConfig.pairing_words`), ` home` if it is with an object of the other kind and its
colour, ` away` if such an object is elsewhere, ` alone` if none is
(`features.pairing_weights`); `zone` (optional, `PalmEConfig.zone_words`), the words of the
table cell it is in, ` front left` … ` center` (`features.zone_weights`); `across` and
`depth` (optional, `PalmEConfig.order_words`), its place among all the scene's objects from
the left and from the robot, ` first` … ` tenth` (`features.order_weights`).

The vectors are packed into four positions per object (`COMPACT_GROUPS`), the vectors of a
group summed and scaled by 1/sqrt(its terms) to stay at a word's scale: colour + kind +
relation, row (+ depth), column (+ zone, across), and the free vector with the other computed
words. With the
object's number after them (`<obj>3`), a prompt grows by 5 positions per object, which keeps a
10-object decision near a 3-object one.

Every encoder returns `(tokens (B, n, d_llm), logits: dict[str, (B, N, classes)])`.

Example:
    >>> import numpy as np
    >>> from embodied_mm.model.features import SceneFeatures, collate
    >>> scene = SceneFeatures(np.zeros((2, 11), np.float32), np.zeros((2, 96, 96), np.float32),
    ...                       np.zeros((2, 3), np.float32), None, np.zeros(15, np.float32))
    >>> build_encoder("robot", d_llm=64, target_rms=1.0)(collate([scene]))[0].shape
    torch.Size([1, 1, 64])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from embodied_mm.model.features import (
    ATTRIBUTES,
    CENTROID_DIM,
    OBJECT_DIM,
    POSITION_ATTRIBUTES,
    ROBOT_DIM,
    held_color_weights,
    order_weights,
    pairing_weights,
    relation_weights,
    support_weights,
    zone_weights,
)

OBJ, IMG, ROBOT = "obj", "img", "robot"  # placeholder kinds of the multimodal sentence
FREE = "free"  # the projected vector of an object's remaining features, in `COMPACT_GROUPS`
# Which of an object's vectors are summed into one position, in prompt order. Row and column
# stay apart (summed, digits lose which is which). Vectors an encoder lacks are left out.
# Checkpoints record the packing (`PalmE.object_layout`) and are refused by a model that packs
# otherwise instead of being read wrong.
COMPACT_GROUPS = (("color", "kind", "relation"), ("row", "depth"), ("column", "zone", "across"),
                  (FREE, "support", "held_color", "pairing"))
# Computed object tokens, in prompt order after the predicted ones: name → the function giving
# each object's (B, N, words) mixture weights over its words from the collated batch.
COMPUTED_WORDS = {
    "relation": lambda batch: relation_weights(batch["objects"], batch["object_mask"]),
    "support": lambda batch: support_weights(batch["objects"], batch["object_mask"]),
    "held_color": lambda batch: held_color_weights(batch["objects"], batch["object_mask"],
                                                   batch["robot"]),
    "pairing": lambda batch: pairing_weights(batch["objects"], batch["object_mask"]),
    "zone": lambda batch: zone_weights(batch["objects"], batch["object_mask"]),
    "across": lambda batch: order_weights(batch["objects"], batch["object_mask"], "across"),
    "depth": lambda batch: order_weights(batch["objects"], batch["object_mask"], "depth"),
}
# Every vector an object's tokens may have, the names `COMPACT_GROUPS` uses.
OBJECT_VECTORS = (*ATTRIBUTES, *POSITION_ATTRIBUTES, FREE, *COMPUTED_WORDS)


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


def compact_groups(names: tuple[str, ...], groups: Sequence[Sequence[str]] = COMPACT_GROUPS
                   ) -> tuple[tuple[str, ...], ...]:
    """The compact form's positions for an object with vectors `names`: `groups` restricted
    to `names`, then each name no group holds on its own."""
    grouped = [tuple(n for n in group if n in names) for group in groups]
    listed = {n for group in groups for n in group}
    return tuple(g for g in grouped if g) + tuple((n,) for n in names if n not in listed)


class ObjectTokens(nn.Module):
    """Per-object features (B, N, width) → the object's LLM tokens (B, N·per_object, d_llm).

    Args:
        width, d_llm, target_rms: feature width, LLM width, output RMS of the free vector.
        words: attribute (`color`, `kind`, `row`, `column`) → (classes, d_llm) LLM embeddings
            of its words, in class order. Entries named in `COMPUTED_WORDS` (`relation`,
            `support`, …) are not predicted: each adds a token mixed by the weights given to
            `forward`.
        groups: the groups of vectors summed into one position each (`COMPACT_GROUPS`).
    """

    def __init__(self, width: int, d_llm: int, target_rms: float,
                 words: dict[str, torch.Tensor],
                 groups: Sequence[Sequence[str]] = COMPACT_GROUPS) -> None:
        super().__init__()
        words = dict(words)
        self.computed = tuple(name for name in COMPUTED_WORDS if name in words)
        for name in self.computed:  # the LLM's, not trained, not saved
            self.register_buffer(f"computed_{name}", words.pop(name).detach().clone(),
                                 persistent=False)
        self.attributes = tuple(words)
        self.classify = nn.ModuleDict({a: nn.Linear(width, len(e)) for a, e in words.items()})
        for attribute, embeddings in words.items():  # the LLM's, not trained, not saved
            self.register_buffer(f"words_{attribute}", embeddings.detach().clone(),
                                 persistent=False)
        self.proj = Projector(width, d_llm, target_rms)
        self.names = (*self.attributes, FREE, *self.computed)  # the vectors, in order
        self.groups = compact_groups(self.names, groups)
        self.per_object = len(self.groups)

    def forward(self, features: torch.Tensor, computed: dict[str, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """`computed`: name → (B, N, words) mixture weights of each computed token."""
        logits = {a: self.classify[a](features) for a in self.attributes}  # (B, N, classes)
        anchored = [logits[a].softmax(-1) @ getattr(self, f"words_{a}")
                    for a in self.attributes]  # each (B, N, d_llm)
        missing = [name for name in self.computed if name not in (computed or {})]
        if missing:
            raise ValueError(f"these object tokens end in computed tokens; pass the weights of "
                             f"{', '.join(missing)} (encoders.COMPUTED_WORDS)")
        last = [computed[name].to(getattr(self, f"computed_{name}").dtype)
                @ getattr(self, f"computed_{name}") for name in self.computed]
        vectors = dict(zip(self.names, [*anchored, self.proj(features), *last]))
        parts = [sum(vectors[n] for n in group) / len(group) ** 0.5 for group in self.groups]
        tokens = torch.stack(parts, dim=2)  # (B, N, k, d_llm)
        return tokens.flatten(1, 2), logits


class StateEncoder(nn.Module):
    """Per-object state row → MLP → the object's tokens (`ObjectTokens`)."""

    placeholder, needs_images = OBJ, False

    def __init__(self, d_llm: int, target_rms: float, width: int,
                 words: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.mlp = mlp(OBJECT_DIM, width)
        self.tokens = ObjectTokens(width, d_llm, target_rms, words)
        self.per_placeholder = self.tokens.per_object

    def forward(self, batch: dict[str, torch.Tensor]):
        computed = {name: COMPUTED_WORDS[name](batch) for name in self.tokens.computed}
        return self.tokens(self.mlp(batch["objects"]), computed)  # (B, N·k, d_llm), logits


class ObjectsEncoder(nn.Module):
    """Object-centric: CNN patch features averaged inside each object's mask + an embedding of
    the mask's image-plane centroid and area → the object's tokens (`ObjectTokens`)."""

    placeholder, needs_images = OBJ, True

    def __init__(self, d_llm: int, target_rms: float, width: int,
                 words: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.backbone = ConvBackbone(width)
        self.position = mlp(CENTROID_DIM, width)
        self.head = nn.Sequential(nn.Linear(self.backbone.out_channels, width), nn.GELU(),
                                  nn.Linear(width, width))
        self.tokens = ObjectTokens(width, d_llm, target_rms, words)
        self.per_placeholder = self.tokens.per_object

    def forward(self, batch: dict[str, torch.Tensor]):
        patches = self.backbone(batch["image"])  # (B, C, h, w)
        weights = F.adaptive_avg_pool2d(batch["masks"], patches.shape[-2:])  # (B, N, h, w)
        area = weights.sum(dim=(2, 3)).clamp(min=1e-6)[..., None]  # (B, N, 1)
        pooled = torch.einsum("bnhw,bchw->bnc", weights, patches) / area  # (B, N, C)
        return self.tokens(self.head(pooled) + self.position(batch["centroids"]))


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
        self.per_placeholder = image_tokens

    def forward(self, batch: dict[str, torch.Tensor]):
        patches = F.adaptive_avg_pool2d(self.backbone(batch["image"]), self.grid)  # (B, C, g, g)
        tokens = self.head(patches.flatten(2).transpose(1, 2))  # (B, g², width)
        return self.proj(F.gelu(tokens + self.position)), {}  # (B, g², d_llm)


class RobotEncoder(nn.Module):
    """Joint angles, gripper opening and end-effector pose → one token."""

    placeholder, needs_images = ROBOT, False

    def __init__(self, d_llm: int, target_rms: float, width: int) -> None:
        super().__init__()
        self.mlp = mlp(ROBOT_DIM, width)
        self.proj = Projector(width, d_llm, target_rms)
        self.per_placeholder = 1

    def forward(self, batch: dict[str, torch.Tensor]):
        return self.proj(self.mlp(batch["robot"]))[:, None], {}  # (B, 1, d_llm)


ENCODERS: dict[str, type[nn.Module]] = {
    "state": StateEncoder, "objects": ObjectsEncoder, "image": ImageEncoder,
    "robot": RobotEncoder,
}


def build_encoder(name: str, d_llm: int, target_rms: float, width: int = 128,
                  image_tokens: int = 4, words: dict[str, torch.Tensor] | None = None
                  ) -> nn.Module:
    """The encoder called `name` (a key of `ENCODERS`), projecting to `d_llm`; object
    encoders anchor their tokens to `words` (`ObjectTokens`), which they need."""
    if name not in ENCODERS:
        raise ValueError(f"unknown input {name!r}; choose from {', '.join(ENCODERS)}")
    if name == "image":
        return ImageEncoder(d_llm, target_rms, width, image_tokens)
    if ENCODERS[name].placeholder == OBJ:
        if not words:
            raise ValueError(f"the {name!r} encoder anchors object tokens to the LLM's words: "
                             "pass `words` (PalmE does)")
        return ENCODERS[name](d_llm, target_rms, width, words)
    return ENCODERS[name](d_llm, target_rms, width)
