"""Typed configuration: one dataclass per Hydra config group, validated on construction.

Configs are composed from YAML by Hydra and converted into these dataclasses once, at the
entry point; code below the CLI only ever sees typed fields. Each `__post_init__` names the
bad key and value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from embodied_mm.language.absent import ABSENT_MODES
from embodied_mm.model.config import PalmEConfig


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names it."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass
class TaskConfig:
    """Which task family to sample episodes from (`all` = every family)."""

    name: str = "pick_place"
    n_distractors: int = 0  # extra objects not named in the goal: scenes can outgrow training
    # Which side of the language split words the instruction (embodied_mm.language): `train`
    # or `heldout` (nouns, colour spellings and constructions training never sees).
    language: str = "train"
    # `color` / `kind` / `noun` / `mixed`: the instruction names something the scene lacks and
    # only `cannot()` with nothing moved succeeds (absent-reference evaluation); `none`: off.
    absent: str = "none"
    template_id: int | None = None  # a fixed template instead of the generator (-1 = the last)

    def __post_init__(self) -> None:
        from embodied_mm.language import ABSENT_MODES, SIDES

        _require(self.n_distractors >= 0,
                 f"task.n_distractors must be >= 0, got {self.n_distractors}")
        _require(self.language in SIDES,
                 f"task.language must be one of {', '.join(SIDES)}, got {self.language!r}")
        _require(self.absent in ("none", "mixed", *ABSENT_MODES),
                 f"task.absent must be none, mixed or one of {', '.join(ABSENT_MODES)}, got "
                 f"{self.absent!r}")


@dataclass
class PlannerConfig:
    """Which planner decides the steps."""

    name: str = "oracle"
    max_steps: int = 12  # decisions per episode before it counts as failed
    steps: str = ""  # plan text for the `script` planner: "pick(obj_1); place(obj_2)"
    # Learned planners (palme, text_llm):
    checkpoint: str = "checkpoints/palme-gemma270m"  # trained parts + config + model card
    llm: str | None = None  # override the checkpoint's LLM (checked against the checkpoint)
    device: str = "cpu"
    dtype: str | None = None  # e.g. bfloat16; None keeps the checkpoint's
    # palme: the LLM layers run in this dtype, close calls are re-decided in `dtype` (see
    # PalmePlanner); null = no fast path. Only where the CPU has native bf16, or on a GPU.
    fast_dtype: str | None = "bfloat16"
    verify_margin: float = 0.5  # logits: decisions closer than this are re-decided
    # palme: logits taken off `cannot()` where a step begins; > 0 refuses less, < 0 more;
    # null = the checkpoint's (`model.cannot_bias`, saved with it)
    cannot_bias: float | None = None
    # palme, text_llm: decode only steps the executor would start in the observed scene (no
    # pick/push of a bowl, no place of the held block on itself); false: any object anywhere
    feasible_only: bool = True

    def __post_init__(self) -> None:
        _require(self.max_steps >= 1, f"planner.max_steps must be >= 1, got {self.max_steps}")
        _require(self.fast_dtype in (None, "bfloat16", "float16"),
                 f"planner.fast_dtype must be bfloat16, float16 or null, got {self.fast_dtype!r}")
        _require(self.verify_margin >= 0,
                 f"planner.verify_margin must be >= 0, got {self.verify_margin}")


PERTURBATIONS = ("none", "knock", "grasp_fail", "remove", "mixed")  # eval.perturb choices


@dataclass
class EvalConfig:
    """How many episodes to evaluate and where to write the results."""

    episodes: int = 20
    seed: int = 0
    out_dir: str = "outputs/eval"
    suite: str | None = None
    workers: int = 1
    # One world fault per episode, mid-skill (embodied_mm/eval/perturb.py): recovery tests.
    perturb: str = "none"  # none | knock | grasp_fail | remove | mixed
    # Scene questions instead of episodes (embodied_mm/eval/vqa.py): `episodes` scenes per
    # family, `questions_per_scene` balanced questions each; writes vqa_info.json.
    vqa: bool = False
    questions_per_scene: int = 11

    def __post_init__(self) -> None:
        _require(self.episodes >= 1, f"eval.episodes must be >= 1, got {self.episodes}")
        _require(self.questions_per_scene >= 1,
                 f"eval.questions_per_scene must be >= 1, got {self.questions_per_scene}")
        _require(self.workers >= 1, f"eval.workers must be >= 1, got {self.workers}")
        _require(self.perturb in PERTURBATIONS, f"eval.perturb must be one of "
                 f"{', '.join(PERTURBATIONS)}, got {self.perturb!r}")


@dataclass
class CameraSettings:
    width: int = 320
    height: int = 240

    def __post_init__(self) -> None:
        _require(self.width > 0 and self.height > 0,
                 f"robot.camera size must be positive, got {self.width}x{self.height}")


@dataclass
class RobotConfig:
    """Robot control settings; the limits themselves live in `RobotLimits`."""

    control_hz: float = 20.0
    velocity_scale: float = 0.5
    camera: CameraSettings = field(default_factory=CameraSettings)

    def __post_init__(self) -> None:
        _require(self.control_hz > 0 and 240 % self.control_hz == 0,
                 f"robot.control_hz must divide 240, got {self.control_hz}")
        _require(0 < self.velocity_scale <= 1,
                 f"robot.velocity_scale must be in (0, 1], got {self.velocity_scale}")


OBJECT_MASK_SOURCES = ("sim", "learned")
KEEP_CHOICES = ("last", "best")  # train.keep choices


@dataclass
class DataConfig:
    """`embodied-mm gen-data`: oracle rollouts → a sharded dataset of planner samples."""

    out_dir: str = "outputs/data"
    episodes_per_task: int = 300  # train episodes per task family (one sample per plan step)
    seed: int = 0  # train episodes use seeds seed … seed+episodes_per_task-1
    val_episodes_per_task: int = 20  # held-out-language episodes, seeds 100_000+
    max_distractors: int = 2  # each episode draws 0..max distractors
    vqa_per_step: int = 1  # scene questions added per plan-step sample
    image_size: int = 96
    shard_size: int = 1000  # samples per shard file
    workers: int = 1
    tasks: list[str] = field(default_factory=list)  # task families to run; empty = all
    # One world fault per episode, as `eval.perturb`: recovery data (replanning after a knock,
    # a slipped grasp, or `cannot()` once a goal object is gone). Only successful episodes count.
    perturb: str = "none"
    # Where the `objects` input's masks come from: `sim` (the simulator's segmentation ids) or
    # `learned` (the learned perception's instance masks on the rendered frame, as the graph's
    # perception node publishes them, so a checkpoint trained on them runs on a real camera).
    object_masks: str = "sim"

    def __post_init__(self) -> None:
        _require(self.object_masks in OBJECT_MASK_SOURCES,
                 f"data.object_masks must be one of {', '.join(OBJECT_MASK_SOURCES)}, "
                 f"got {self.object_masks!r}")
        _require(self.episodes_per_task >= 1,
                 f"data.episodes_per_task must be >= 1, got {self.episodes_per_task}")
        _require(self.max_distractors >= 0,
                 f"data.max_distractors must be >= 0, got {self.max_distractors}")
        _require(self.shard_size >= 1, f"data.shard_size must be >= 1, got {self.shard_size}")
        _require(self.workers >= 1, f"data.workers must be >= 1, got {self.workers}")
        _require(self.perturb in PERTURBATIONS,
                 f"data.perturb must be one of {', '.join(PERTURBATIONS)}, got {self.perturb!r}")


@dataclass
class TrainConfig:
    """`embodied-mm train`: encoders (+ LoRA) on a generated dataset, frozen LLM."""

    data_dir: str = "outputs/data"
    extra_data_dirs: list[str] = field(default_factory=list)  # more datasets, trained on too
    kinds: list[str] = field(default_factory=lambda: ["plan", "vqa"])  # sample kinds to train on
    # Sampling weight per task family (an integer: each sample of the family is drawn that
    # many times per epoch; 0 leaves the family out). configs/train/default.yaml lists every
    # family at 1, so an override naming an unknown family is an unknown key.
    task_weights: dict[str, int] = field(default_factory=dict)
    # The same per sample kind (`plan`, `vqa`), multiplied with the family's weight.
    kind_weights: dict[str, int] = field(default_factory=dict)
    # Datasets this training needs, as `data.*` overrides of `gen-data` (e.g. {out_dir: …,
    # episodes_per_task: 250}); each one whose out_dir holds no dataset yet is generated first,
    # and they replace data_dir/extra_data_dirs. Empty: train on data_dir (+ extra_data_dirs).
    datasets: list[dict[str, Any]] = field(default_factory=list)
    # Views of the training set, each plan sample worded afresh from its goal's words on the
    # train side of the language split (`training.language.Reworded`); 1 = as generated.
    rewordings: int = 1
    # `cannot()` samples per plan sample: the same scene, the instruction changed to name a
    # colour, kind or thing the scene lacks (`training.language.AbsentReferences`); 0 = none.
    absent_references: float = 0.0
    # How often each kind of absence is drawn for those samples (integer weights over `color`,
    # `kind`, `noun`; a missing mode weighs 0). `noun` (a thing no scene has) teaches refusing
    # unfamiliar words, which also refuses unseen synonyms: keep it rare.
    absent_modes: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(ABSENT_MODES, 1))
    # Scene questions per stored sample, asked afresh about its scene at training time, of
    # `question_types` (`training.questions.SceneQuestions`): many more of a type than
    # gen-data stores (the relations need them); 0 = none.
    scene_questions: float = 0.0
    question_types: list[str] = field(
        default_factory=lambda: ["left_of", "right_of", "in_front_of", "behind"])
    out_dir: str = "outputs/train"
    steps: int = 3000
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    # bf16 autocast pays off only on GPUs or where the CPU has native bf16 (AMX/AVX512-BF16):
    # 1.85x the fp32 samples/s on this AVX512-BF16 EPYC, but 65x slower on an AVX2-only CPU.
    # "auto" picks bf16 exactly there; "bf16" / "none" force it.
    autocast: str = "auto"
    num_threads: int = 2
    eval_every: int = 250  # held-out next-step and object-index accuracy
    eval_samples: int = 200
    checkpoint_every: int = 500
    # Which weights `final/` gets: "last" (the last step) or "best" (of the held-out
    # evaluations, the one with the best `training.heldout.selection_score`: accuracy minus
    # false `cannot()` minus absent references not refused; each new best is written to
    # out_dir/best as the run goes).
    keep: str = "last"
    resume: bool = True  # continue from out_dir/last if it exists
    # Start from this checkpoint's trained tensors where names and shapes match (a warm start:
    # new parts, e.g. an encoder of another width, keep their initialisation); null = scratch.
    init_from: str | None = None
    # Share of init_from's weights in the final checkpoint: the trained tensors end as
    # (1 - init_mix) x trained + init_mix x init_from's (a weight-space ensemble of the model
    # before and after the fine-tune, which keeps more of what it did before); 0 = off.
    init_mix: float = 0.0
    final_eval_episodes: int = 2  # closed-loop sim episodes per family at the end (0 = skip)
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self.steps >= 1, f"train.steps must be >= 1, got {self.steps}")
        _require(self.batch_size >= 1, f"train.batch_size must be >= 1, got {self.batch_size}")
        _require(self.lr > 0, f"train.lr must be > 0, got {self.lr}")
        bad = {k: v for k, v in self.task_weights.items() if not isinstance(v, int) or v < 0}
        _require(not bad, f"train.task_weights must be integers >= 0, got {bad}")
        bad = {k: v for k, v in self.kind_weights.items()
               if k not in ("plan", "vqa") or not isinstance(v, int) or v < 0}
        _require(not bad, f"train.kind_weights must map plan/vqa to integers >= 0, got {bad}")
        _require(self.rewordings >= 1, f"train.rewordings must be >= 1, got {self.rewordings}")
        _require(self.keep in KEEP_CHOICES,
                 f"train.keep must be one of {', '.join(KEEP_CHOICES)}, got {self.keep!r}")
        _require(self.absent_references >= 0,
                 f"train.absent_references must be >= 0, got {self.absent_references}")
        _require(self.scene_questions >= 0,
                 f"train.scene_questions must be >= 0, got {self.scene_questions}")
        bad = {k: v for k, v in self.absent_modes.items()
               if k not in ABSENT_MODES or not isinstance(v, int) or v < 0}
        _require(not bad and sum(self.absent_modes.values()) > 0,
                 f"train.absent_modes must map some of {', '.join(ABSENT_MODES)} to integers "
                 f">= 0, not all 0; got {dict(self.absent_modes)}")
        _require(0 <= self.init_mix < 1,
                 f"train.init_mix must be >= 0 and < 1, got {self.init_mix}")
        _require(self.init_mix == 0 or self.init_from is not None,
                 "train.init_mix needs train.init_from (the checkpoint to mix in)")
        _require(self.autocast in ("auto", "bf16", "none"),
                 f"train.autocast must be auto, bf16 or none, got {self.autocast!r}")


@dataclass
class DemoConfig:
    """`embodied-mm demo`: the ROS 2 graph (default) or the in-process loop."""

    graph: bool = True  # false: no ROS, one in-process episode per task family
    episodes: int = 3  # graph demo: one instruction from each of this many task families

    def __post_init__(self) -> None:
        _require(self.episodes >= 1, f"demo.episodes must be >= 1, got {self.episodes}")


BENCHMARKS = ("planner", "sim", "perception", "ros", "train")


@dataclass
class BenchConfig:
    """`embodied-mm bench`: which benchmarks, how many repetitions, where the JSON goes."""

    which: list[str] = field(default_factory=lambda: list(BENCHMARKS))
    repeats: int = 20  # timed repetitions per measurement (after `warmup`)
    warmup: int = 3  # untimed repetitions first
    objects: list[int] = field(default_factory=lambda: [3, 5, 7, 10])  # scene sizes
    naive_repeats: int = 5  # repetitions of the slow naive planner path
    scene_seeds: int = 5  # scenes per size for decision latency vs scene size
    agreement_seeds: int = 3  # first scenes of each task family (seeds 1000…) for same-steps
    graph_planner: str = "palme"  # planner of the running graph (skill finished → next plan)
    episodes: int = 64  # oracle episodes per throughput measurement
    train_steps: int = 3  # timed training steps per precision
    out: str = "outputs/bench/bench.json"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.which) - set(BENCHMARKS))
        _require(not unknown and bool(self.which),
                 f"bench.which must name some of {', '.join(BENCHMARKS)}; got {self.which}")
        _require(self.agreement_seeds >= 0 and self.scene_seeds >= 1,
                 f"bench.agreement_seeds must be >= 0 and bench.scene_seeds >= 1, got "
                 f"{self.agreement_seeds}, {self.scene_seeds}")
        _require(self.repeats >= 1 and self.warmup >= 0 and self.naive_repeats >= 1,
                 "bench.repeats and bench.naive_repeats must be >= 1, bench.warmup >= 0")
        _require(all(n >= 2 for n in self.objects) and bool(self.objects),
                 f"bench.objects must be scene sizes >= 2, got {self.objects}")


@dataclass
class Config:
    """The root config every `embodied-mm` command receives."""

    task: TaskConfig = field(default_factory=TaskConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    robot: RobotConfig = field(default_factory=RobotConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    model: PalmEConfig = field(default_factory=PalmEConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    seed: int = 0
    instruction: str | None = None
    gui: bool = False

    def __post_init__(self) -> None:
        _require(self.instruction is None or bool(self.instruction.strip()),
                 "instruction is empty; give one with instruction=\"put the red block in the "
                 "blue bowl\" or leave it out")
