"""PaLM-E: a frozen LLM reading object / image / robot observations as continuous tokens.

The multimodal sentence (`PalmE.sentence`) for a scene with two objects and every input:

    Task: put the red block in the blue bowl. <obj>1 <obj>2 Scene: <img>. Robot: <robot>.
    Done: pick(obj_1). Holding: <obj>. Next: place(obj_2)<eos>

`Holding:` repeats the tokens of the object in the gripper, or says `nothing`. The `Task:`
clause comes first, so every object clause can read it and an episode's prompts share their
start (a planner keeps its KV cache). Text goes through the LLM's own embedding table; each
placeholder is replaced by encoder output vectors (`<img>` by `image_tokens` of them, `<obj>`
by an object's tokens, `encoders.ObjectTokens`) in `inputs_embeds`. An object's tokens are
word-anchored vectors (its colour and kind, its row and column on the table as digits, a free
vector, and with the `state` input the computed scene words: relation, support, held colour and
the optional pairing word) packed into 4 positions (`encoders.COMPACT_GROUPS`), followed by the
number the plan's name ends in (`<obj>3` for `obj_3`), so referring to an object is copying
the number that has read its description. Parts whose input is not selected are left out (no
`Scene:` without `image`, no object clauses without `state` or `objects`).

The loss covers the target step and its terminator (the tokenizer's EOS), plus
`describe_weight` × the cross-entropy of each anchored prediction (colour, kind, row, column)
of every object (labels from the scene's state rows).

Embedding scale: Gemma multiplies token embeddings by sqrt(hidden) *inside* its embedding
module (`Gemma3TextScaledWordEmbedding`), so the scaling does NOT apply to `inputs_embeds`
passed in. We therefore embed text with that module (scaled, as the LLM was trained) and let
each encoder's `Projector` start at the RMS of the scaled embeddings of ordinary prompt
tokens, measured from the LLM at construction (`PalmE.embedding_rms`). For Gemma 3 270M
(hidden 640, scale 25.3) that RMS is 1.03 per channel (norm 26.1), the same as the
vocabulary average.

Example:
    python -c "from embodied_mm.model.palme import PalmE; from embodied_mm.model.config \
import PalmEConfig; print(PalmE(PalmEConfig(llm='tiny')).sentence(2, 'stack', 'nothing'))"
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from embodied_mm.model import encoders as enc
from embodied_mm.model.config import PalmEConfig
from embodied_mm.model.features import (
    ATTRIBUTES,
    COMPUTED_WORD_CLASSES,
    POSITION_ATTRIBUTES,
    UNLABELLED,
    SceneFeatures,
    attribute_labels,
    collate,
    held_objects,
)
from embodied_mm.model.language_model import CausalLM
from embodied_mm.model.llm import load_llm
from embodied_mm.model.reasoning import reasoned_targets
from embodied_mm.plan_language import format_plan, object_name
from embodied_mm.types import SkillCall

WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"
# /2: one model configuration (`model.config.PalmEConfig`), the prompt layout fixed.
CHECKPOINT_FORMAT = "embodied_mm.palme/2"
# Placeholder slots carry negative ids in a token-id list; real token ids are >= 0.
SLOT_IDS = {enc.OBJ: -1, enc.IMG: -2, enc.ROBOT: -3}
_PLACEHOLDER = re.compile(r"<(obj|img|robot)>")
IGNORE = -100  # label of positions without loss (cross_entropy's ignore_index)
# Text whose tokens set the scale of injected vectors: ordinary words of our prompts.
REFERENCE_TEXT = ("A red block is obj_1. Scene: the table. Robot: the arm. Task: put the "
                  "blue block in the green bowl. Done: pick(obj_1); place(obj_2). Next:")


class CheckpointError(ValueError):
    """A checkpoint is missing, or does not fit this model's config or LLM."""


@dataclass
class Sample:
    """One training or planning example: a scene, the task, the steps done, the next step."""

    scene: SceneFeatures
    instruction: str  # the task, or the question when kind == "vqa"
    done: Sequence[SkillCall | str] = ()
    target: str | None = None  # next step's plan text, or the answer; None when decoding
    kind: str = "plan"  # "plan": … Task: … Done: … Next:   "vqa": … Q: {question} A:


def collate_samples(samples: Sequence[Sample]) -> dict:
    """A batch for `PalmE.forward`: `features.collate` tensors + `instruction`, `done`,
    `target`, `kind` lists."""
    batch = collate([s.scene for s in samples])
    batch["object_names"] = [s.scene.object_names for s in samples]
    batch["instruction"] = [s.instruction for s in samples]
    batch["done"] = [format_plan(s.done) for s in samples]
    batch["target"] = [s.target for s in samples]
    batch["kind"] = [s.kind for s in samples]
    return batch


class PalmE(nn.Module, CausalLM):
    """Frozen LLM + trainable encoders (+ optional LoRA), nanoGPT-style in one file.

    Args:
        config: the model's make-up.
        llm: an already loaded (model, tokenizer) to use instead of `load_llm(config.llm)`.
    """

    def __init__(self, config: PalmEConfig, llm=None) -> None:
        super().__init__()
        self.config = config
        model, self.tokenizer = llm if llm is not None else load_llm(
            config.llm, getattr(torch, config.dtype))
        self.llm = model.requires_grad_(False).eval()
        self.terminator = self.tokenizer.eos_token_id  # ends every target step
        self.embedding_rms = self._embedding_rms()
        d_llm = self.llm.config.hidden_size
        words = self._attribute_words()
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            self.encoders = nn.ModuleDict({
                name: enc.build_encoder(name, d_llm, self.embedding_rms, config.encoder_width,
                                        config.image_tokens, words)
                for name in config.inputs})
            if config.lora:
                self._add_lora()
        self.slots = {e.placeholder: e.per_placeholder for e in self.encoders.values()}
        self.kinds = set(self.slots)
        self.merged = False  # LoRA folded into the LLM (`merge_lora`)

    # -- construction -----------------------------------------------------------------------
    @torch.no_grad()
    def _embedding_rms(self) -> float:
        """Mean RMS of the LLM's (scaled) input embeddings of ordinary prompt tokens."""
        ids = torch.tensor(self.tokenizer.encode(REFERENCE_TEXT, add_special_tokens=False))
        return float(self.embed_tokens(ids).float().pow(2).mean(-1).sqrt().mean())

    @torch.no_grad()
    def _attribute_words(self) -> dict[str, torch.Tensor]:
        """Attribute → (classes, H) embeddings of its words as they appear mid-sentence: the
        predicted ones (colour, kind, row, column), then the config's computed words."""
        chosen = {**ATTRIBUTES, **POSITION_ATTRIBUTES,
                  **{name: COMPUTED_WORD_CLASSES[name] for name in self.config.computed_words}}
        words = {}
        for attribute, names in chosen.items():
            rows = []
            for name in names:  # a word of several tokens is the mean of their embeddings
                text = name if name.isdigit() else " " + name  # digits are tokens of their own
                ids = torch.tensor(self.tokenizer.encode(text, add_special_tokens=False))
                rows.append(self.embed_tokens(ids).float().mean(0))
            words[attribute] = torch.stack(rows)
        return words

    def _add_lora(self) -> None:
        from peft import LoraConfig, inject_adapter_in_model

        cfg = self.config
        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=list(cfg.lora_targets), bias="none")
        self.llm = inject_adapter_in_model(lora, self.llm)
        for name, param in self.llm.named_parameters():
            param.requires_grad_("lora_" in name)

    @torch.no_grad()
    def merge_lora(self) -> None:
        """For inference: folds each LoRA update into its LLM weight (W + scale·B·A) and puts
        the plain layer back, so a forward pass runs 7 matmuls per layer instead of 15. The
        outputs agree up to float rounding; a merged model can no longer train or `save`."""
        from peft.tuners.lora import LoraLayer

        for name, module in list(self.llm.named_modules()):
            if isinstance(module, LoraLayer):
                module.merge()
                parent, _, attribute = name.rpartition(".")
                setattr(self.llm.get_submodule(parent), attribute, module.get_base_layer())
        self.merged = True

    # -- the multimodal sentence --------------------------------------------------------------
    def sentence(self, objects: int | Sequence[str], instruction: str, done: str,
                 kind: str = "plan", holding: bool = False) -> str:
        """The prompt as text with `<obj>`, `<img>`, `<robot>` placeholders.

        Args:
            objects: the scene's object names in order (each described, then named as the
                plan names it), or their number N for `obj_1 … obj_N`.
            instruction: the task in words, or the question when `kind` is `vqa`.
            done: the steps done so far as `format_plan` writes them (`nothing` for none);
                unused for `vqa`.
            kind: `plan` opens with `Task: …` and ends in `Done: … Holding: … Next:`, `vqa`
                ends in `Q: … A:`.
            holding: the gripper holds an object: plan prompts end in `Holding: <obj>. Next:`
                (that object's tokens once more) instead of `Holding: nothing. Next:`.
        """
        parts = [] if kind == "vqa" else [f"Task: {instruction.strip().rstrip('.')}."]
        if isinstance(objects, int):
            objects = [object_name(k) for k in range(1, objects + 1)]
        if enc.OBJ in self.kinds:
            parts += [self.object_clause(name) for name in objects]
        if enc.IMG in self.kinds:
            parts.append("Scene: <img>.")
        if enc.ROBOT in self.kinds:
            parts.append("Robot: <robot>.")
        if kind == "vqa":
            parts.append(f"Q: {instruction.strip()} A:")
        else:
            parts += [f"Done: {done}.", f"Holding: {'<obj>' if holding else 'nothing'}.",
                      "Next:"]
        return " ".join(parts)

    @staticmethod
    def object_clause(name: str) -> str:
        """One object's clause, `<obj>3`: its vectors, then the number `obj_3` ends in."""
        return f"<obj>{name.removeprefix('obj_')}"

    def plan_prefix_ids(self, instruction: str) -> list[int]:
        """The token ids every plan prompt for `instruction` starts with: those before the
        first placeholder: BOS + the `Task:` clause, so a planner can keep their KV cache for a
        whole episode."""
        # What follows the prefix differs with the scene (`A <obj>` with objects, `Robot:` in
        # an emptied scene), so take what prompts with and without objects share.
        one, none = (self.sentence_ids(self.sentence(n, instruction, "nothing")) for n in (1, 0))
        shared = 0
        while shared < min(len(one), len(none)) and one[shared] == none[shared] >= 0:
            shared += 1
        return one[:shared]

    def sentence_ids(self, sentence: str) -> list[int]:
        """BOS + token ids of `sentence`, each placeholder as its encoder's number of
        `SLOT_IDS` (`<img>` × image_tokens, `<obj>` × tokens per object)."""
        ids = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        pieces = _PLACEHOLDER.split(sentence)  # text, kind, text, kind, …, text
        for i, piece in enumerate(pieces):
            if i % 2:
                ids += [SLOT_IDS[piece]] * self.slots.get(piece, 1)
            elif piece.strip():  # a placeholder stands for a word: drop the space before it
                text = piece.rstrip() if i + 1 < len(pieces) else piece
                ids += self.tokenizer.encode(text, add_special_tokens=False)
        return ids

    def embed_sequence(self, ids: Sequence[int], tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """(T, H) embeddings of `ids` with each placeholder slot filled by encoder vectors.

        Args:
            ids: token ids with `SLOT_IDS` for placeholders.
            tokens: placeholder kind → (n, H) encoder vectors, in sentence order.

        Raises:
            ValueError: a kind's slot count differs from its number of encoder vectors.
        """
        ids_t = torch.tensor(ids, device=self.device)
        embeds = self.embed_tokens(ids_t.clamp(min=0))  # (T, H)
        for kind, slot in SLOT_IDS.items():
            where = (ids_t == slot).nonzero().squeeze(1)
            given = tokens.get(kind)
            n_given = 0 if given is None else len(given)
            if len(where) != n_given:
                raise ValueError(f"the sentence has {len(where)} <{kind}> placeholder(s) but the "
                                 f"encoders gave {n_given} <{kind}> vector(s)")
            if n_given:
                embeds = embeds.index_put((where,), given.to(embeds.dtype))
        return embeds

    def encode(self, batch: dict) -> tuple[list[dict[str, torch.Tensor]], dict]:
        """Runs the encoders.

        Returns:
            per sample, placeholder kind → (n, H) vectors; and the object attribute logits
            (attribute → (B, N, classes)) of word-anchored object tokens ({} without).
        """
        tensors = {k: v.to(self.device) for k, v in batch.items() if torch.is_tensor(v)}
        if self.config.needs_images and "image" not in tensors:
            raise ValueError(f"inputs {list(self.config.inputs)} read the camera image, but "
                             "the batch has none (extract features with images=True)")
        outputs, logits = {}, {}
        for e in self.encoders.values():
            outputs[e.placeholder], more = e(tensors)  # kind: (B, n, H)
            logits.update(more)
        per_object = self.slots.get(enc.OBJ, 1)
        per_sample = []
        for i, n in enumerate(tensors["n_objects"].tolist()):
            per_sample.append({kind: out[i, :n * per_object] if kind == enc.OBJ else out[i]
                               for kind, out in outputs.items()})
        return per_sample, logits

    def embed_batch(self, batch: dict, with_targets: bool) -> tuple[torch.Tensor, ...]:
        """Right-padded sentence embeddings of a batch.

        Returns:
            embeds (B, T, H), attention_mask (B, T) long, labels (B, T) long with `IGNORE`
            everywhere but on the target tokens (all `IGNORE` without targets), and the
            object attribute logits of `encode`.
        """
        rows, labels = [], []
        per_sample, logits = self.encode(batch)
        held = self._held(batch)
        targets = (reasoned_targets(batch) if with_targets and self.config.relation_reasoning
                   else batch["target"])
        for i, tokens in enumerate(per_sample):
            if held[i] is not None:  # the held object's tokens once more, after `Holding:`
                width = self.slots.get(enc.OBJ, 1)
                own = tokens[enc.OBJ][held[i] * width:(held[i] + 1) * width]
                tokens = {**tokens, enc.OBJ: torch.cat([tokens[enc.OBJ], own])}
            sentence = self.sentence(batch["object_names"][i], batch["instruction"][i],
                                     batch["done"][i], batch["kind"][i],
                                     holding=held[i] is not None)
            ids = self.sentence_ids(sentence)
            target = self.target_ids(targets[i]) if with_targets else []
            rows.append(self.embed_sequence(ids + target, tokens))
            labels.append([IGNORE] * len(ids) + target)
        length = max(len(r) for r in rows)
        embeds = torch.stack([F.pad(r, (0, 0, 0, length - len(r))) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (length - len(r)) for r in rows])
        label_t = torch.tensor([lab + [IGNORE] * (length - len(lab)) for lab in labels])
        return embeds, mask.to(self.device), label_t.to(self.device), logits

    def _held(self, batch: dict) -> list[int | None]:
        """Per sample, the index of the held object when plan prompts mention it, else None."""
        if enc.OBJ not in self.kinds:
            return [None] * len(batch["kind"])
        held = held_objects(batch["objects"], batch["object_mask"], batch["robot"])
        return [h if kind == "plan" else None for h, kind in zip(held, batch["kind"])]

    # -- training -------------------------------------------------------------------------
    def forward(self, batch: dict) -> torch.Tensor:
        """Mean cross-entropy of the target step tokens (and terminator) given the sentence,
        plus `describe_weight` × the object colour/kind cross-entropy (word-anchored tokens)."""
        if any(t is None for t in batch["target"]):
            raise ValueError("every sample needs a target step to compute a loss")
        embeds, mask, labels, attribute_logits = self.embed_batch(batch, with_targets=True)
        hidden, _ = self.hidden_states(embeds, mask)  # (B, T, H)
        scored = labels[:, 1:] != IGNORE  # position t predicts token t + 1
        logits = self.token_logits(hidden[:, :-1][scored])  # (n_target_tokens, V)
        loss = F.cross_entropy(logits.float(), labels[:, 1:][scored])
        if attribute_logits:
            objects = batch["objects"].to(self.device)
            truth = attribute_labels(objects, batch["object_mask"].to(self.device))
            for attribute, scores in attribute_logits.items():
                if (truth[attribute] != UNLABELLED).any():
                    loss = loss + self.config.describe_weight * F.cross_entropy(
                        scores.flatten(0, 1).float(), truth[attribute].flatten(),
                        ignore_index=UNLABELLED)
        return loss

    @torch.no_grad()
    def prompt_embeds(self, scene: SceneFeatures, instruction: str,
                      done: Sequence[SkillCall | str], kind: str = "plan") -> torch.Tensor:
        """(1, T, H) sentence embeddings for planning, or for answering when `kind` is
        `vqa` (no target)."""
        batch = collate_samples([Sample(scene, instruction, done, kind=kind)])
        return self.embed_batch(batch, with_targets=False)[0]

    # -- checkpoints ----------------------------------------------------------------------------
    def trained_state(self) -> dict[str, torch.Tensor]:
        """The parameters training changes: encoders, projectors and LoRA, never the LLM."""
        return {name: p.detach() for name, p in self.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def llm_fingerprint(self) -> dict:
        """Identifies the LLM: its shape and a few of its embedding values."""
        cfg, weight = self.llm.config, self.llm.get_input_embeddings().weight
        rows = torch.linspace(0, weight.shape[0] - 1, 8).long()
        return {"model_type": cfg.model_type, "hidden_size": cfg.hidden_size,
                "num_hidden_layers": cfg.num_hidden_layers, "vocab_size": weight.shape[0],
                "embedding_sample": weight[rows, :4].float().flatten().tolist()}

    def save(self, path: str | Path) -> None:
        """Writes `model.safetensors` (trained parts only) and `config.json` into `path`."""
        from safetensors.torch import save_file

        if self.merged:
            raise ValueError("this model's LoRA is merged into the LLM (an inference copy); "
                             "save the model before `merge_lora`")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"format": CHECKPOINT_FORMAT, "config": dataclasses.asdict(self.config),
                "llm": self.llm_fingerprint(), "object_layout": self.object_layout()}
        state = {k: v.cpu().contiguous() for k, v in self.trained_state().items()}
        save_file(state, str(path / f".{WEIGHTS_FILE}.tmp"))
        (path / f".{CONFIG_FILE}.tmp").write_text(json.dumps(meta, indent=2))
        # safetensors writes 0600 whatever the umask: give the weights the config's mode
        os.chmod(path / f".{WEIGHTS_FILE}.tmp", (path / f".{CONFIG_FILE}.tmp").stat().st_mode)
        for name in (WEIGHTS_FILE, CONFIG_FILE):  # a reader never sees a half-written file
            os.replace(path / f".{name}.tmp", path / name)

    @classmethod
    def from_checkpoint(cls, path: str | Path, llm: str | None = None,
                        dtype: str | None = None) -> PalmE:
        """Builds the model a checkpoint was trained as, and loads its trained parts.

        Args:
            path: checkpoint directory (`config.json` + `model.safetensors`).
            llm: load this LLM instead of the one named in the checkpoint (must be the same).
            dtype: LLM dtype override, e.g. `bfloat16` on a GPU.
        """
        saved = read_checkpoint_config(path)
        overrides = {k: v for k, v in (("llm", llm), ("dtype", dtype)) if v is not None}
        model = cls(dataclasses.replace(saved, **overrides))
        model.load(path)
        return model

    def load(self, path: str | Path) -> None:
        """Loads trained parts saved by `save`, refusing any that do not fit this model.

        Raises:
            CheckpointError: different config (LLM name and dtype aside), different LLM
                (fingerprint), or weights that do not match the trained parameters.
        """
        from safetensors.torch import load_file

        saved = read_checkpoint_config(path)
        differs = [f"{f.name}: checkpoint {getattr(saved, f.name)!r}, model "
                   f"{getattr(self.config, f.name)!r}" for f in dataclasses.fields(saved)
                   if f.name not in ("llm", "dtype")
                   and getattr(saved, f.name) != getattr(self.config, f.name)]
        if differs:
            raise CheckpointError(f"checkpoint {path} was trained with another config: "
                                  + "; ".join(differs))
        meta = json.loads((Path(path) / CONFIG_FILE).read_text())
        self._check_llm(meta["llm"], path)
        layout = meta.get("object_layout")
        if layout != self.object_layout():
            raise CheckpointError(
                f"checkpoint {path} was trained with object tokens packed as {layout}, this "
                f"model packs them as {self.object_layout()} (`encoders.COMPACT_GROUPS` "
                "changed); load it with the code it was trained with, or retrain")
        try:
            state = load_file(str(Path(path) / WEIGHTS_FILE))
        except Exception as err:  # safetensors raises its own error type for a bad file
            raise CheckpointError(f"{Path(path) / WEIGHTS_FILE} cannot be read ({err}); the "
                                  "checkpoint is corrupted") from err
        expected = self.trained_state()
        wrong = sorted(set(state) ^ set(expected)) + sorted(
            k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
        if wrong:
            raise CheckpointError(f"checkpoint {path} does not fit the model's trained "
                                  f"parameters: {', '.join(wrong[:5])}")
        with torch.no_grad():
            for name, value in state.items():
                expected[name].copy_(value)

    def object_layout(self) -> list[list[str]] | None:
        """The vectors summed at each of an object's prompt positions, in order; None without
        object tokens."""
        for encoder in self.encoders.values():
            if hasattr(encoder, "tokens"):
                return [list(group) for group in encoder.tokens.groups]
        return None

    def warm_start(self, path: str | Path, weight: float = 1.0) -> list[str]:
        """Starts training from another checkpoint of the same LLM: copies every trained
        tensor whose name and shape match; the rest keep their initialisation. With
        `weight` < 1 each fitting tensor becomes `weight` × the checkpoint's + (1 − `weight`) ×
        its own (a weight-space average of two models, e.g. before and after a fine-tune).

        Returns:
            the names of the trained parameters the checkpoint did not provide.

        Raises:
            CheckpointError: no readable checkpoint at `path`, another LLM, or nothing fits.
        """
        from safetensors.torch import load_file

        read_checkpoint_config(path)
        self._check_llm(json.loads((Path(path) / CONFIG_FILE).read_text())["llm"], path)
        state = load_file(str(Path(path) / WEIGHTS_FILE))
        mine = self.trained_state()
        fits = {k: v for k, v in state.items() if k in mine and v.shape == mine[k].shape}
        if not fits:
            raise CheckpointError(f"no trained tensor of checkpoint {path} fits this model")
        with torch.no_grad():
            for name, value in fits.items():
                mine[name].lerp_(value.to(mine[name]), weight)
        return sorted(set(mine) - set(fits))

    def _check_llm(self, saved: dict, path) -> None:
        mine = self.llm_fingerprint()
        shape_keys = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")
        same = all(saved[k] == mine[k] for k in shape_keys) and torch.allclose(
            torch.tensor(saved["embedding_sample"]), torch.tensor(mine["embedding_sample"]),
            rtol=1e-2, atol=1e-3)  # tolerant of dtype (bf16 vs f32), not of another model
        if not same:
            raise CheckpointError(f"checkpoint {path} was trained on another LLM "
                                  f"({saved['model_type']}, hidden {saved['hidden_size']}, "
                                  f"{saved['num_hidden_layers']} layers) than "
                                  f"{self.config.llm!r}; load it with the LLM it was trained on")


def read_checkpoint_config(path: str | Path) -> PalmEConfig:
    """The `PalmEConfig` stored in a checkpoint directory.

    Raises:
        CheckpointError: no checkpoint there, or not one of ours.
    """
    path = Path(path)
    if not (path / CONFIG_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"no PaLM-E checkpoint at {path} (expected {CONFIG_FILE} and "
                              f"{WEIGHTS_FILE}); train one with `embodied-mm train`")
    try:
        meta = json.loads((path / CONFIG_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path / CONFIG_FILE} is not valid JSON ({err}); the checkpoint "
                              "is corrupted") from err
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != CHECKPOINT_FORMAT:
        older = isinstance(found, str) and found.startswith("embodied_mm.palme/")
        raise CheckpointError(f"{path / CONFIG_FILE} is not a {CHECKPOINT_FORMAT} checkpoint "
                              f"(format {found!r})" + (
                                  "; it was saved by an older version with prompt-layout "
                                  "switches this one no longer has: load it with that "
                                  "version, or retrain" if older else ""))
    try:
        return PalmEConfig(**meta["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path / CONFIG_FILE}: bad model config: {err}") from err
