"""`embodied-mm ask "question" [task=T seed=S]`: embodied question answering about a sim scene.

Example:
    embodied-mm ask "is obj_1 in obj_2?" task=pick_place seed=3
    embodied-mm ask "what is obj_2?" task=stack planner=palme planner.checkpoint=outputs/train

The scene is the one `embodied-mm run task=T seed=S` starts from. Two answerers behind one
function (`answer_question`): `planner=oracle` (the default) answers from the simulator's
ground-truth objects and says so; `planner=palme` asks a trained PaLM-E checkpoint, which
picks the most likely of the answers the question's type allows (`AnswerDecoder`), and prints
the ground truth beside it.
Questions outside the grammar (`embodied_mm.data.vqa`) or naming an absent object raise
`QuestionError` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from embodied_mm.config.schema import Config, ConfigError
from embodied_mm.data.vqa import Question, answer, parse_question
from embodied_mm.model.language_model import CausalLM
from embodied_mm.model.reasoning import RELATION_AXES, place_candidates, reasoned_answer
from embodied_mm.types import Observation

if TYPE_CHECKING:
    from embodied_mm.model.palme import PalmE

ANSWERERS = ("oracle", "palme")  # planner.name values `ask` understands


class AnswerDecoder:
    """Picks the answer of a closed set that the model finds most likely as a whole.

    Each answer's tokens (and the terminator) are scored under the model after the prompt, all
    answers in one batched forward pass, and the answer with the highest sum of token log-
    probabilities wins. A greedy walk through the answers' token trie would instead favour
    answers whose first token starts many answers (`back_left`, `back_right`, `back`: "back"
    collects their probability), which put an uninformed model's zone answers below chance.
    """

    def __init__(self, model: CausalLM) -> None:
        self.model = model

    def log_likelihoods(self, prompt_embeds: torch.Tensor,
                        answers: Sequence[str]) -> torch.Tensor:
        """(len(answers),) log-probability of each answer's tokens after the (1, T, H) prompt."""
        return self.sequence_scores(prompt_embeds, [self.model.target_ids(a) for a in answers])

    @torch.no_grad()
    def sequence_scores(self, prompt_embeds: torch.Tensor, ids: Sequence[list[int]]
                        ) -> torch.Tensor:
        """(len(ids),) log-probability of each token sequence after the (1, T, H) prompt."""
        longest = max(len(x) for x in ids)
        padded = torch.tensor([x + [x[-1]] * (longest - len(x)) for x in ids],
                              device=self.model.device)  # causal: padding is never attended
        embeds = torch.cat([prompt_embeds.expand(len(ids), -1, -1),
                            self.model.embed_tokens(padded).to(prompt_embeds.dtype)], dim=1)
        hidden, _ = self.model.hidden_states(embeds)
        start = prompt_embeds.shape[1] - 1  # the state before an answer's first token
        scores = []
        for row, x in enumerate(ids):
            logits = self.model.token_logits(hidden[row, start:start + len(x)]).float()
            picked = logits.log_softmax(-1)[torch.arange(len(x)), torch.tensor(x)]
            scores.append(picked.sum())
        return torch.stack(scores)

    def decode(self, prompt_embeds: torch.Tensor, answers: Sequence[str]) -> str:
        """The most likely of `answers` after the (1, T, H) prompt."""
        if not answers:
            raise ValueError("no answers to choose from")
        return answers[int(self.log_likelihoods(prompt_embeds, answers).argmax())]

    def decode_reasoned(self, prompt_embeds: torch.Tensor, n_objects: int,
                        answers: Sequence[str]) -> tuple[str, str]:
        """(answer, the reasoning written before it) of a relation question for a model with
        `relation_reasoning`: the most likely first place, then second place, then answer,
        each given the text chosen before it (`model/reasoning.py`)."""
        places = place_candidates(n_objects)

        def best(texts: list[str], end: bool) -> int:
            """Index of the most likely text (a finished answer when `end`, else a prefix)."""
            ids = [self.model.target_ids(t) if end else
                   self.model.tokenizer.encode(" " + t, add_special_tokens=False) for t in texts]
            return int(self.sequence_scores(prompt_embeds, ids).argmax())

        first = places[best([f"{p}," for p in places], end=False)]
        second = places[best([f"{first}, {p}:" for p in places], end=False)]
        answer = answers[best([reasoned_answer(first, second, a) for a in answers], end=True)]
        return answer, reasoned_answer(first, second, answer)


def answering_model(cfg: Config) -> PalmE | None:
    """The model `cfg.planner` answers with: None for `oracle` (ground truth), the checkpoint's
    model for `palme`.

    Raises:
        ConfigError: a planner that cannot answer questions.
        PlannerError: `planner=palme` without a usable checkpoint.
    """
    if cfg.planner.name not in ANSWERERS:
        raise ConfigError(f"questions are answered with planner=oracle (ground truth) or "
                          f"planner=palme (a trained checkpoint), not planner={cfg.planner.name}")
    if cfg.planner.name == "oracle":
        return None
    from embodied_mm.planner.palme import PalmePlanner

    return PalmePlanner.from_config(cfg.planner).model


def answer_question(question: Question, obs: Observation, model: PalmE | None = None) -> str:
    """Answers `question` about `obs`: ground truth without a model, else the model's answer.

    Args:
        question: a parsed question (`vqa.parse_question`).
        obs: the observation; it needs `rgb` and `segmentation` if the model reads images.
        model: a trained `PalmE`; None answers from `obs.objects` (ground truth).

    Returns:
        An answer from `question.answers`.
    """
    if model is None:
        return answer(question, obs)
    from embodied_mm.model.features import extract

    scene = extract(obs, images=model.config.needs_images, image_size=model.config.image_size)
    embeds = model.prompt_embeds(scene, str(question), [], kind="vqa")
    if model.config.relation_reasoning and question.type in RELATION_AXES:
        return AnswerDecoder(model).decode_reasoned(embeds, scene.n_objects, question.answers)[0]
    return AnswerDecoder(model).decode(embeds, question.answers)


def sample_scene(cfg: Config, images: bool) -> tuple[str, Observation]:
    """The instruction and first observation of episode (`task`, `seed`) in the sim."""
    from embodied_mm.robots.base import RobotLimits
    from embodied_mm.tasks import TASKS
    from sim.camera import CameraConfig
    from sim.robot import SimRobot
    from sim.world import TabletopWorld

    if cfg.task.name not in TASKS:
        raise ConfigError(f"ask needs one task family, got task={cfg.task.name}; "
                          f"choose one of: {', '.join(TASKS)}")
    episode = TASKS[cfg.task.name].sample(cfg.seed, cfg.task.n_distractors, cfg.task.template_id,
                                          cfg.task.language)
    camera = CameraConfig(width=cfg.robot.camera.width, height=cfg.robot.camera.height)
    with TabletopWorld(gui=cfg.gui, camera=camera) as world:
        world.reset(episode.scene)
        with SimRobot(world, RobotLimits(velocity_scale=cfg.robot.velocity_scale),
                      control_hz=cfg.robot.control_hz) as robot:
            return episode.instruction, robot.get_observation(images=images)


def ask(cfg: Config, text: str, echo: Callable[[str], None] = print,
        model: PalmE | None = None) -> str:
    """Samples the scene of `cfg`, answers `text` about it and prints both.

    Args:
        cfg: task, seed and `planner.name` (`oracle`: ground truth; `palme`: the checkpoint
            `planner.checkpoint`, unless `model` is given).
        text: the question.
        echo: where the lines go.
        model: an already loaded model to answer with (overrides the planner config).

    Returns:
        The answer.

    Raises:
        QuestionError: the question is not in the grammar or names an absent object.
        ConfigError: a planner that cannot answer questions, or `task=all`.
        PlannerError: `planner=palme` without a usable checkpoint.
    """
    if model is None:
        model = answering_model(cfg)
    needs_images = model is not None and model.config.needs_images
    instruction, obs = sample_scene(cfg, images=needs_images)
    question = parse_question(text, obs.object_names)
    echo(f"task {cfg.task.name} · seed {cfg.seed} · instruction: {instruction}")
    echo("objects: " + ", ".join(f"{o.name} {o.description}" for o in obs.objects))
    echo(f"Q: {question}")
    truth = answer_question(question, obs)
    if model is None:
        echo(f"A: {truth}  [ground truth from the simulator]")
        return truth
    reply = answer_question(question, obs, model)
    echo(f"A: {reply}  [PaLM-E; ground truth from the simulator: {truth}]")
    return reply


def main(cfg: Config, question: str) -> int:
    ask(cfg, question)
    return 0
