"""`embodied-mm gen-data`: oracle rollouts in the sim → a sharded dataset of planner samples.

Example:
    embodied-mm gen-data data.out_dir=outputs/data data.episodes_per_task=300 data.workers=2

Every task family (or those in `data.tasks`) runs `data.episodes_per_task` train episodes
(seeds `data.seed + i`) worded from the `train` side of the language split
(`embodied_mm.language`), and `data.val_episodes_per_task` validation episodes (seeds `VAL_SEED
+ i`) worded from the `heldout` side. Each episode draws 0..`data.max_distractors` distractors
from its own seed. The oracle plans closed loop; each of its decisions becomes one `plan`
sample (scene features, instruction, the goal's `words`, steps done, next step) plus
`data.vqa_per_step` `vqa` samples about the same observation. Training re-words plan samples
from their `words` (`training.language`), so one rollout serves many instructions. Episodes the
oracle fails are dropped and counted. Output: shards (`embodied_mm/data/shards.py`),
`index.json` and a dataset card `README.md`. The `objects` input's masks are the sim's
segmentation, or with `data.object_masks=learned` the learned perception's instance masks on
the same frame (what the graph's perception node publishes from a real camera). With
`data.workers > 1` episodes run in spawned processes; the result is identical to one worker's
because an episode depends only on its family and seed.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from embodied_mm.config.schema import Config, ConfigError, DataConfig
from embodied_mm.data.card import summary_lines, write_card, write_index
from embodied_mm.data.shards import SPLITS, ShardWriter, pack_scene, remove_shards
from embodied_mm.data.vqa import sample_questions
from embodied_mm.eval.rollout import EpisodeRunner, EpisodeSpec
from embodied_mm.planner.oracle import OraclePlanner

GENERATOR_VERSION = 2  # bump when the same config would produce different samples
VAL_SEED = 100_000  # validation episodes use seeds VAL_SEED + i
LANGUAGE_OF_SPLIT = {"train": "train", "val": "heldout"}  # language side of each split


def episode_specs(data: DataConfig) -> list[tuple[str, EpisodeSpec]]:
    """(split, spec) of every episode; distractors and template come from the episode seed."""
    from embodied_mm.tasks import TASKS

    if data.seed + data.episodes_per_task > VAL_SEED or data.seed < 0:
        raise ConfigError(f"train seeds data.seed.. must stay in 0..{VAL_SEED - 1} (validation "
                          f"uses {VAL_SEED}+), got {data.seed}+{data.episodes_per_task}")
    unknown = sorted(set(data.tasks) - set(TASKS))
    if unknown:
        raise ConfigError(f"data.tasks: unknown task families {unknown}; choose from "
                          f"{', '.join(TASKS)}")
    families = {name: task for name, task in TASKS.items()
                if not data.tasks or name in data.tasks}
    specs = []
    for split, first, count in (("train", data.seed, data.episodes_per_task),
                                ("val", VAL_SEED, data.val_episodes_per_task)):
        language = LANGUAGE_OF_SPLIT[split]
        for name in families:
            for seed in range(first, first + count):
                rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
                n_distractors = int(rng.integers(data.max_distractors + 1))
                specs.append((split, EpisodeSpec(name, seed, None, n_distractors,
                                                 language=language)))
    return specs


class RecordingOracle(OraclePlanner):
    """The oracle planner, turning every decision into a plan sample and VQA samples."""

    needs_images = True

    def __init__(self, image_size: int, vqa_per_step: int, masks=None) -> None:
        self.image_size, self.vqa_per_step = image_size, vqa_per_step
        self.masks = masks  # a LearnedMasks, or None for the sim's segmentation
        self.meta: dict = {}
        self.scenes: list[dict] = []
        self.samples: list[dict] = []

    def start(self, spec: EpisodeSpec) -> None:
        """Clears the recording and labels the samples of the next episode."""
        self.meta = {"task": spec.task, "seed": spec.seed, "language": spec.language,
                     "n_distractors": spec.n_distractors}
        self.scenes, self.samples = [], []

    def next_step(self, obs, done) -> str:
        from embodied_mm.model.features import extract

        text = super().next_step(obs, done)
        step = len(self.scenes)
        seen = obs if self.masks is None else self.masks.apply(obs)
        self.scenes.append(pack_scene(extract(seen, images=True, image_size=self.image_size)))
        base = {**self.meta, "scene": step, "step": step}
        self.samples.append({**base, "kind": "plan", "instruction": self.instruction,
                             "words": self._episode.words,
                             "done": [str(c) for c in done], "target": text,
                             "question_type": ""})
        rng = np.random.default_rng([self.meta["seed"], zlib.crc32(self.meta["task"].encode()),
                                     step])
        for question, reply in sample_questions(obs, rng, self.vqa_per_step):
            self.samples.append({**base, "kind": "vqa", "instruction": str(question),
                                 "done": [], "target": reply, "question_type": question.type})
        return text


class LearnedMasks:
    """Swaps an observation's sim segmentation for the learned perception's instance masks
    (`data.object_masks=learned`): each ground-truth object gets the mask of the detection of
    its colour and kind nearest to it, or none (an object perception missed pools nothing, as
    in the graph). The objects' state rows stay the simulator's."""

    def __init__(self, camera_config) -> None:
        from embodied_mm.perception import CameraModel

        c = camera_config
        self.camera = CameraModel.from_camera_info(c.intrinsics, c.width, c.height, c.eye,
                                                   c.target, c.up)

    def apply(self, obs):
        from embodied_mm.perception.learned import detect_learned
        from embodied_mm.perception.masks import mask_image

        masks: dict = {}
        detect_learned(obs.rgb, obs.depth, self.camera, known=obs.objects, masks=masks)
        objects, image = mask_image(obs.objects, masks, obs.depth.shape)
        return dataclasses.replace(obs, objects=objects, segmentation=image)


class EpisodeRecorder:
    """One sim world and a recording oracle; `record` runs an episode and returns its data."""

    def __init__(self, cfg: Config) -> None:
        from sim.camera import CameraConfig

        camera = CameraConfig(width=cfg.robot.camera.width, height=cfg.robot.camera.height)
        masks = LearnedMasks(camera) if cfg.data.object_masks == "learned" else None
        self.oracle = RecordingOracle(cfg.data.image_size, cfg.data.vqa_per_step, masks)
        self.runner = EpisodeRunner(self.oracle, max_steps=cfg.planner.max_steps,
                                    control_hz=cfg.robot.control_hz, camera=camera,
                                    velocity_scale=cfg.robot.velocity_scale,
                                    perturb=cfg.data.perturb)

    def record(self, split: str, spec: EpisodeSpec) -> dict:
        """The episode's outcome, scenes and samples (empty when the oracle failed)."""
        self.oracle.start(spec)
        report = self.runner.run(spec)
        keep = report.success
        return {"split": split, "task": spec.task, "seed": spec.seed,
                "outcome": report.outcome, "success": report.success, "steps": report.steps,
                "scenes": self.oracle.scenes if keep else [],
                "samples": self.oracle.samples if keep else []}

    def close(self) -> None:
        self.runner.close()


_worker: EpisodeRecorder | None = None


def _init_worker(cfg: Config) -> None:
    global _worker
    _worker = EpisodeRecorder(cfg)


def _record_in_worker(job: tuple[str, EpisodeSpec]) -> dict:
    return _worker.record(*job)


def _episodes(cfg: Config, jobs: list[tuple[str, EpisodeSpec]]):
    """Yields each episode's record in job order, from this process or a pool."""
    if cfg.data.workers == 1:
        recorder = EpisodeRecorder(cfg)
        try:
            yield from (recorder.record(*job) for job in jobs)
        finally:
            recorder.close()
        return
    with ProcessPoolExecutor(min(cfg.data.workers, len(jobs)), mp_context=get_context("spawn"),
                             initializer=_init_worker, initargs=(cfg,)) as pool:
        yield from pool.map(_record_in_worker, jobs)


def generate(cfg: Config, progress: bool = True) -> Path:
    """Runs the rollouts `cfg.data` describes and writes the dataset.

    Returns:
        The output directory (shards, `index.json`, `README.md`).
    """
    jobs = episode_specs(cfg.data)
    out_dir = Path(cfg.data.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_shards(out_dir)
    writers = {s: ShardWriter(out_dir, s, cfg.data.shard_size) for s in SPLITS}
    episodes: list[dict] = []
    n_samples, start = 0, time.perf_counter()
    bar = tqdm(total=len(jobs), desc="gen-data", unit="ep", disable=not progress)
    for record in _episodes(cfg, jobs):
        writers[record["split"]].add(record.pop("scenes"), record["samples"])
        n_samples += len(record["samples"])
        record["samples"] = [s["kind"] for s in record["samples"]]  # only counts from here on
        episodes.append(record)
        bar.update(1)
        bar.set_postfix(samples=n_samples,
                        rate=f"{n_samples / (time.perf_counter() - start):.1f}/s")
    bar.close()
    for writer in writers.values():
        writer.close()
    seconds = time.perf_counter() - start
    index = write_index(out_dir, cfg, episodes, writers, seconds, GENERATOR_VERSION)
    write_card(out_dir, index)
    return out_dir


def main(cfg: Config) -> int:
    out_dir = generate(cfg)
    print("\n".join(summary_lines(out_dir)))
    return 0
