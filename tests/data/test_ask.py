"""`embodied-mm ask`: ground truth matches the sampled scene, the model answers within the
closed vocabulary, and bad questions or settings give one clear line."""

from __future__ import annotations

import pytest

from embodied_mm.config import ConfigError, load_config
from embodied_mm.data.ask import AnswerDecoder, ask, main
from embodied_mm.data.vqa import QUESTIONS, QuestionError, describe, parse_question
from embodied_mm.planner.base import PlannerError
from embodied_mm.table import TABLE
from embodied_mm.tasks import TASKS

pytestmark = pytest.mark.sim


def test_ground_truth_matches_the_scene():
    cfg = load_config(["task=stack", "seed=4", "task.n_distractors=1"])
    episode = TASKS["stack"].sample(4, 1)
    lines: list[str] = []
    for i, spec in enumerate(episode.scene, start=1):
        assert ask(cfg, f"what is obj_{i}?", echo=lines.append) == describe(spec.color,
                                                                              spec.kind)
        assert ask(cfg, f"which zone is obj_{i} in?", echo=lines.append) == TABLE.zone_of(
            spec.position)
    left = max(range(len(episode.scene)), key=lambda i: episode.scene[i].position[1]) + 1
    other = 1 if left != 1 else 2
    assert ask(cfg, f"is obj_{left} left of obj_{other}?", echo=lines.append) == "yes"
    absent = next(c for c in ("purple", "pink", "white", "cyan")
                  if all(s.color != c for s in episode.scene))
    assert ask(cfg, f"can you pick up the {absent} block?", echo=lines.append) == "no"
    assert lines[0] == f"task stack · seed 4 · instruction: {episode.instruction}"
    assert lines[-1] == "A: no  [ground truth from the simulator]"


@pytest.mark.parametrize("question, message", [
    ("how tall is the robot?", "cannot parse question"),
    ("is obj_1 in obj_7?", "no object obj_7 in the scene (objects: obj_1, obj_2)"),
])
def test_bad_questions_say_what_is_wrong(question, message):
    with pytest.raises(QuestionError) as err:
        ask(load_config(["task=pick_place", "seed=1"]), question, echo=lambda line: None)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("overrides, error, message", [
    (["planner=script"], ConfigError, "planner=oracle"),
    (["task=all"], ConfigError, "one task family"),
    (["planner=palme", "planner.checkpoint=/nonexistent/ckpt"], PlannerError,
     "no PaLM-E checkpoint"),
])
def test_bad_settings_are_user_errors(overrides, error, message):
    with pytest.raises(error, match=message):
        ask(load_config(overrides), "what is obj_1?", echo=lambda line: None)


def test_main_prints_and_succeeds(capsys):
    assert main(load_config(["task=place_at_zone", "seed=2"]), "what color is obj_1?") == 0
    out = capsys.readouterr().out
    assert "Q: what color is obj_1?" in out and "ground truth" in out


def test_model_answers_from_the_closed_vocabulary(tiny_palme):
    cfg = load_config(["task=sort_by_color", "seed=0"])
    lines: list[str] = []
    for text in ("what is obj_2?", "which zone is obj_1 in?", "is obj_1 in obj_2?",
                 "can you put the red block in the blue bowl?"):
        reply = ask(cfg, text, echo=lines.append, model=tiny_palme)
        assert reply in parse_question(text).answers
        assert lines[-1].startswith(f"A: {reply}  [PaLM-E; ground truth from the simulator: ")


def test_answer_decoder_picks_the_answer_most_likely_as_a_whole(tiny_palme):
    """Batched scoring agrees with scoring each answer alone, the obvious way."""
    import torch

    decoder = AnswerDecoder(tiny_palme)
    embeds = torch.randn(1, 5, tiny_palme.llm.config.hidden_size)
    answers = QUESTIONS["zone"].answers

    @torch.no_grad()
    def alone(text: str) -> float:
        ids = tiny_palme.target_ids(text)
        full = torch.cat([embeds, tiny_palme.embed_tokens(torch.tensor(ids))[None]], dim=1)
        logits = tiny_palme.token_logits(tiny_palme.hidden_states(full)[0][0, 4:4 + len(ids)])
        return float(logits.float().log_softmax(-1)[torch.arange(len(ids)), ids].sum())

    expected = torch.tensor([alone(a) for a in answers])
    assert torch.allclose(decoder.log_likelihoods(embeds, answers), expected, atol=1e-4)
    assert decoder.decode(embeds, answers) == answers[int(expected.argmax())]
    assert decoder.decode(embeds, ("yes", "no")) in ("yes", "no")
