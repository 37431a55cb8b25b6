"""The `text_llm` baseline: the same frozen LLM, the scene written as text, a few-shot prompt.

No training: the objects are described in words (colour, kind, table zone and position in
cm, taken from the observation's object list), a fixed few-shot prompt (its KV cache
computed once and reused) shows the plan language, and the next step is decoded with the
same grammar-constrained `StepDecoder` as `palme`, so every output parses. It is the
SayCan-like comparison row of the README's planner table: what the pre-trained LLM does with
perfect object descriptions and no observation tokens.

Example:
    embodied-mm eval planner=text_llm task=all eval.episodes=20 eval.seed=1000
"""

from __future__ import annotations

from collections.abc import Sequence

from embodied_mm.config.schema import PlannerConfig
from embodied_mm.plan_language import format_plan
from embodied_mm.planner.base import Planner
from embodied_mm.table import TABLE
from embodied_mm.types import ObjectState, Observation, SkillCall

INTRO = ("Plan one robot step at a time. Steps: pick(obj), place(obj), place_at(zone), "
         "push(obj, direction), done(), cannot(). Zones: left, right, front, back, center, "
         "front_left, front_right, back_left, back_right. Directions: left, right, forward, "
         "backward. Answer cannot() when the task names an object that is not on the table "
         "or asks to lift or push a bowl.\n")
_A = ("obj_1 is a red block at the left of the table (x 0 cm, y 20 cm). obj_2 is a blue bowl at "
      "the center of the table (x 0 cm, y 0 cm). obj_3 is a green block at the front_right of "
      "the table (x -15 cm, y -20 cm).")
_B = ("obj_1 is a yellow bowl at the back_right of the table (x 15 cm, y -20 cm). obj_2 is a "
      "white block at the front of the table (x -15 cm, y 0 cm). obj_3 is a pink block at the "
      "back_left of the table (x 15 cm, y 20 cm).")
# Worked decisions (scene, task, steps done, next step), written exactly as a decision is.
EXAMPLES: tuple[tuple[str, str, str, str], ...] = (
    (_A, "put the red block in the blue bowl", "nothing", "pick(obj_1)"),
    (_B, "stack the white block on the pink block", "nothing", "pick(obj_2)"),
    (_A, "put the red block in the blue bowl", "pick(obj_1)", "place(obj_2)"),
    (_B, "push the pink block to the right side of the table", "nothing", "push(obj_3, right)"),
    (_A, "put the green block in the blue bowl", "pick(obj_3); place(obj_2)", "done()"),
    (_B, "put the orange block in the yellow bowl", "nothing", "cannot()"),
    (_B, "move the white block to the back_left of the table", "pick(obj_2)",
     "place_at(back_left)"),
    (_B, "stack the pink block on the white block", "pick(obj_3); place(obj_2)", "done()"),
)


def _decision(scene: str, task: str, done: str) -> str:
    return f"\n{scene}\nTask: {task}. Done: {done}. Next:"


# The fixed part of every prompt; each example ends with the step terminator (a newline).
FEW_SHOT = INTRO + "".join(_decision(scene, task, done) + f" {step}\n"
                           for scene, task, done, step in EXAMPLES)


def describe_object(obj: ObjectState) -> str:
    """`obj_1 is a red block at the left of the table (x 10 cm, y 20 cm)`, table-centred."""
    x, y = (obj.position[:2] - TABLE.center) * 100
    zone = TABLE.zone_of(obj.position[:2]) or "edge"
    return (f"{obj.name} is a {obj.color} {obj.kind} at the {zone} of the table "
            f"(x {x:.0f} cm, y {y:.0f} cm).")


def text_prompt(objects: Sequence[ObjectState], instruction: str,
                done: Sequence[SkillCall | str]) -> str:
    """This decision's part of the prompt, which follows `FEW_SHOT`; it ends in `Next:`."""
    scene = " ".join(describe_object(o) for o in objects)
    return _decision(scene, instruction.strip().rstrip("."), format_plan(done))


class TextLLMPlanner(Planner):
    """Few-shot text prompting of a frozen LLM with grammar-constrained decoding.

    Args:
        llm: LLM name for `load_llm` (default: the embedded Gemma 3 270M).
        device: torch device.
        feasible_only: decode only steps the executor would start (as `PalmePlanner`).
    """

    def __init__(self, llm: str = "gemma3-270m", device: str = "cpu",
                 feasible_only: bool = True) -> None:
        from embodied_mm.model.decoding import StepDecoder
        from embodied_mm.model.language_model import TextLM
        from embodied_mm.model.llm import load_llm

        self.model = TextLM(load_llm(llm)).to(device)
        self.decoder = StepDecoder(self.model)
        self.feasible_only = feasible_only

    @classmethod
    def from_config(cls, cfg: PlannerConfig) -> TextLLMPlanner:
        """Reads `llm` (None: the embedded default), `device` and `feasible_only`."""
        return cls(cfg.llm or "gemma3-270m", cfg.device or "cpu", cfg.feasible_only)

    def next_step(self, obs: Observation, done: Sequence[SkillCall]) -> str:
        prompt = self.model.prompt_embeds(text_prompt(obs.objects, self.instruction, done),
                                          bos=False)
        from embodied_mm.model.decoding import StepScope

        return self.decoder.decode(prompt, StepScope.of(obs, self.feasible_only),
                                   self.model.prefix_cache(FEW_SHOT))
