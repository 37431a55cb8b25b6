"""`embodied-mm eval eval.vqa=true`: scene-question accuracy of a checkpoint on held-out scenes.

Example:
    embodied-mm eval eval.vqa=true planner=palme task=all eval.episodes=3 eval.seed=1000 \
        eval.out_dir=/tmp/vqa

For every task family (or `task`), `eval.episodes` scenes (the first observation of episode
`eval.seed + i`, never trained on: training seeds are below 100 000 and the sampler draws other
scenes from other seeds) get `eval.questions_per_scene` questions from the training mixture's
balanced sampler (`data.vqa.sample_questions`: a type, then an answer, then a question). The
model answers with decoding constrained to the type's answers (`data.ask.answer_question`).
Writes `vqa_info.json`: accuracy overall and per question type, and every question with its
answer and the truth. `planner=oracle` answers from ground truth (a check of the harness: 1.0).
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from embodied_mm.config.schema import Config
from embodied_mm.data.ask import answer_question, answering_model
from embodied_mm.data.vqa import sample_questions

VQA_FILE = "vqa_info.json"


def evaluate_vqa(cfg: Config, progress: bool = True, model=None) -> dict:
    """Asks the questions `cfg` describes; writes and returns the `vqa_info.json` dict.

    Raises:
        ConfigError: a planner that cannot answer questions.
    """
    from embodied_mm.robots.base import RobotLimits
    from embodied_mm.tasks import TASKS
    from sim.camera import CameraConfig
    from sim.robot import SimRobot
    from sim.world import TabletopWorld

    if model is None:
        model = answering_model(cfg)
    images = model is not None and model.config.needs_images
    names = list(TASKS) if cfg.task.name == "all" else [cfg.task.name]
    rows: list[dict] = []
    start = time.perf_counter()
    camera = CameraConfig(width=cfg.robot.camera.width, height=cfg.robot.camera.height)
    bar = tqdm(total=len(names) * cfg.eval.episodes, desc="eval vqa", unit="scene",
               disable=not progress)
    with TabletopWorld(camera=camera) as world, SimRobot(
            world, RobotLimits(velocity_scale=cfg.robot.velocity_scale),
            control_hz=cfg.robot.control_hz) as robot:
        for name in names:
            for seed in range(cfg.eval.seed, cfg.eval.seed + cfg.eval.episodes):
                episode = TASKS[name].sample(seed, cfg.task.n_distractors)
                world.reset(episode.scene)
                obs = robot.get_observation(images=images)
                rng = np.random.default_rng([seed, zlib.crc32(name.encode()), 17])
                for question, truth in sample_questions(obs, rng, cfg.eval.questions_per_scene):
                    reply = answer_question(question, obs, model)
                    rows.append({"task": name, "seed": seed, "type": question.type,
                                 "question": str(question), "answer": reply, "truth": truth,
                                 "correct": reply == truth})
                bar.update(1)
    bar.close()
    info = summarize_vqa(rows, cfg.planner.name, round(time.perf_counter() - start, 2))
    out_dir = Path(cfg.eval.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / VQA_FILE).write_text(json.dumps(info, indent=2))
    return info


def summarize_vqa(rows: list[dict], planner: str, eval_s: float) -> dict:
    """Accuracy overall and per question type of answered question rows."""
    asked, right = Counter(r["type"] for r in rows), Counter(r["type"] for r in rows
                                                             if r["correct"])
    return {"planner": planner,
            "overall": {"accuracy": sum(right.values()) / max(len(rows), 1),
                        "n_questions": len(rows)},
            "per_type": {t: {"accuracy": right[t] / asked[t], "n_questions": asked[t]}
                         for t in sorted(asked)},
            "per_question": rows, "eval_s": eval_s}
