"""`PalmEConfig`: what a PaLM-E model is made of — the one model configuration.

The `model` config group (`configs/model/palme.yaml`) is this dataclass, every checkpoint's
`config.json` stores it, and its defaults are the layout `checkpoints/palme-gemma270m` ships
with (a test holds the three equal). Pure Python, so the CLI can validate `model.*`
overrides without importing torch.

The prompt layout is fixed (docs/palme.md): the `Task:` clause first; each object as its
word-anchored vectors packed into four positions and its number (`<obj>3`); plan prompts end
in `Holding: <obj>.` (or `nothing`) and `Next:`. What varies is below.

Example:
    >>> PalmEConfig(inputs=["objects", "robot"]).inputs
    ('objects', 'robot')
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Observation inputs, the keys of `encoders.ENCODERS` (a test holds them equal).
INPUTS = ("state", "objects", "image", "robot")
DTYPES = ("float32", "bfloat16", "float16")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class PalmEConfig:
    """What a PaLM-E model is made of; saved with every checkpoint and checked on load."""

    # LLM backend for `load_llm`. Checkpoints check the LLM by fingerprint, not by this name,
    # so a checkpoint trained with a local path still loads where the path differs.
    llm: str = "gemma3-270m"
    # Observation inputs (`INPUTS`). `state` (the objects' state rows) and `objects` (image
    # features inside each object's mask) both fill `<obj>`, so at most one of them.
    inputs: list[str] = field(default_factory=lambda: ["state", "robot"])
    encoder_width: int = 128  # hidden width of the encoders: small, they train on a CPU
    image_size: int = 96  # px, square image seen by the CNNs
    image_tokens: int = 4  # `<img>` becomes this many vectors (a g×g pooled grid)
    # With the `state` input, each object's tokens end in words computed from the whole
    # scene: its relation among its kind, what it rests on, whether it has the held object's
    # colour (`encoders.COMPUTED_WORDS`). `pairing_words` adds ` home`/` away`/` alone` (is
    # it with the object of the other kind and its colour?), a word that exists for
    # `sort_by_color`'s finish condition: the per-family word of the ablation (docs/palme.md).
    pairing_words: bool = True
    # `zone_words` adds the words of the table zone an object is in (` front left`, …,
    # ` center`), packed with its column: a general scene fact (`features.zone_weights`).
    zone_words: bool = False
    # `order_words` adds two: the object's place among all the scene's objects from the left
    # and from the robot (` first` … ` tenth`), packed with its column and row, so left/right
    # and front/behind between any two objects compare two ordinals (`features.order_weights`).
    order_words: bool = False
    # `relation_reasoning` (needs `order_words`): a left/right/front/behind question is
    # answered `{place of A}, {place of B}: yes|no`, the places first (`model/reasoning.py`).
    relation_reasoning: bool = False
    describe_weight: float = 0.5  # weight of the loss of the word-anchored tokens' predictions
    # Decoding, not architecture: logits taken off `cannot()` where a step begins when this
    # checkpoint plans (`decoding.penalise_refusal`; > 0 refuses less). Saved with the weights
    # it was chosen for, so the planner, the held-out metrics and the model card's evaluation
    # decode alike; `planner.cannot_bias` overrides it.
    cannot_bias: float = 0.0
    # LoRA on the LLM (peft). Off = PaLM-E's frozen-LLM regime: only encoders train.
    lora: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    dtype: str = "float32"  # LLM parameter dtype; float32 is fastest on CPU
    seed: int = 0  # initialisation of encoders and LoRA

    def __post_init__(self) -> None:
        self.inputs = tuple(self.inputs)
        self.lora_targets = tuple(self.lora_targets)
        unknown = [i for i in self.inputs if i not in INPUTS]
        if unknown or not self.inputs or len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"model.inputs must be distinct names from {', '.join(INPUTS)}; "
                             f"got {list(self.inputs)}")
        if {"state", "objects"} <= set(self.inputs):
            raise ValueError("model.inputs: `state` and `objects` both give the <obj> tokens; "
                             "choose one")
        if self.dtype not in DTYPES:
            raise ValueError(f"model.dtype must be one of {', '.join(DTYPES)}, "
                             f"got {self.dtype!r}")
        if self.image_tokens < 1 or self.image_size < 8 or self.encoder_width < 1:
            raise ValueError(f"model.image_tokens, image_size, encoder_width must be positive "
                             f"(image_size >= 8), got {self.image_tokens}, {self.image_size}, "
                             f"{self.encoder_width}")
        if self.lora and (self.lora_r < 1 or not self.lora_targets):
            raise ValueError(f"model.lora_r must be >= 1 and model.lora_targets non-empty, got "
                             f"{self.lora_r} and {list(self.lora_targets)}")
        if self.relation_reasoning and not (self.order_words and "state" in self.inputs):
            raise ValueError("model.relation_reasoning speaks the places that the order words "
                             "give: it needs model.order_words=true and the state input")
        if self.describe_weight < 0:
            raise ValueError(f"model.describe_weight must be >= 0, got {self.describe_weight}")

    @property
    def computed_words(self) -> tuple[str, ...]:
        """The computed words each object's tokens end in (none without the `state` input)."""
        if "state" not in self.inputs:
            return ()
        return ("relation", "support", "held_color") + (
            ("pairing",) if self.pairing_words else ()) + (
            ("zone",) if self.zone_words else ()) + (
            ("across", "depth") if self.order_words else ())

    @property
    def needs_images(self) -> bool:
        """Whether the selected inputs read the camera image (and masks)."""
        return bool({"objects", "image"} & set(self.inputs))
