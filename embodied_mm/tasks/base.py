"""What every task family provides: a seeded scene sampler, its goal's words, success, an oracle.

A family samples an `Episode` (instruction + scene + goal, all from one seed) and judges it on
world state. The instruction is the goal's words (`embodied_mm.language.render`) rendered from
the language side asked for (`train` or `heldout`), or one of the family's fixed `templates`
when a template id is given (the wordings the first checkpoints were trained on). With `absent`
set, one thing the instruction names is changed into something the scene lacks and the episode
becomes an `infeasible` one: `cannot()` with nothing moved is the only success. A family's oracle is
closed loop: it looks at the current observation and the steps done so far and writes the next
step in the plan language, so it recovers from failed skills the way a learned planner must.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from embodied_mm.config.schema import ConfigError
from embodied_mm.scene import CAMERA_SLACK, held_block, is_on
from embodied_mm.table import TABLE
from embodied_mm.tasks.specs import BLOCK_SIZES, ObjectSpec
from embodied_mm.types import ObjectState, Observation, SkillCall
from embodied_mm.vocabulary import COLORS

MARGIN = 0.05  # m kept free along the table's edges when placing objects


@dataclass(frozen=True)
class Episode:
    """One sampled task instance. `scene[i]` becomes `obj_{i+1}`; `goal` uses those names."""

    task: str
    seed: int
    instruction: str
    scene: tuple[ObjectSpec, ...]
    goal: dict[str, Any] = field(default_factory=dict)
    template_id: int | None = None
    words: dict[str, Any] = field(default_factory=dict)  # the goal's words (language.render)

    @property
    def object_names(self) -> list[str]:
        return [f"obj_{i + 1}" for i in range(len(self.scene))]


class SceneBuilder:
    """Places objects at random, non-overlapping table positions, then shuffles their order.

    Roles (`"target"`, `"bowl"`, …) keep track of which object plays which part in the goal;
    `build` returns the shuffled specs and the obj name of each role.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._specs: list[ObjectSpec] = []
        self._roles: list[str | None] = []

    def used_colors(self, kind: str) -> list[str]:
        return [s.color for s in self._specs if s.kind == kind]

    def free_colors(self, kind: str) -> list[str]:
        used = self.used_colors(kind)
        return [c for c in COLORS if c not in used]

    def pick_color(self, kind: str, exclude: Sequence[str] = ()) -> str:
        choices = [c for c in self.free_colors(kind) if c not in exclude]
        return str(self.rng.choice(choices))

    def add(self, kind: str, color: str | None = None, role: str | None = None,
            region=None, keep_out=None, tries: int = 400) -> ObjectSpec:
        """Adds an object at a random free spot.

        Args:
            region: optional (x_min, x_max, y_min, y_max) to sample in; the table by default.
            keep_out: optional predicate on xy that must be False for the chosen spot.
        """
        color = color or self.pick_color(kind)
        size = float(self.rng.choice(BLOCK_SIZES)) if kind == "block" else 0.0
        probe = ObjectSpec(kind, color, (0.0, 0.0), size=size or BLOCK_SIZES[0])
        r = probe.footprint_radius
        x0, x1, y0, y1 = region or (TABLE.x_min + MARGIN, TABLE.x_max - MARGIN,
                                    TABLE.y_min + MARGIN, TABLE.y_max - MARGIN)
        for _ in range(tries):
            xy = self.rng.uniform([x0 + r * 0.5, y0 + r * 0.5], [x1 - r * 0.5, y1 - r * 0.5])
            if keep_out is not None and keep_out(xy):
                continue
            if all(np.hypot(*(xy - np.asarray(s.position))) > r + s.footprint_radius + 0.025
                   for s in self._specs):
                yaw = float(self.rng.uniform(-np.pi / 4, np.pi / 4)) if kind == "block" else 0.0
                spec = ObjectSpec(kind, color, (float(xy[0]), float(xy[1])), yaw, probe.size)
                self._specs.append(spec)
                self._roles.append(role)
                return spec
        raise SceneFull(f"no free spot for a {color} {kind}")

    def add_distractors(self, count: int, kinds: Sequence[str] = ("block", "bowl"),
                        keep_out=None) -> None:
        for _ in range(count):
            self.add(str(self.rng.choice(list(kinds))), keep_out=keep_out)

    @property
    def specs(self) -> list[ObjectSpec]:
        return list(self._specs)

    def set_role(self, spec: ObjectSpec, role: str) -> None:
        self._roles[self._specs.index(spec)] = role

    def build(self) -> tuple[tuple[ObjectSpec, ...], dict[str, str]]:
        order = self.rng.permutation(len(self._specs))
        specs = tuple(self._specs[i] for i in order)
        names = {}
        for new_index, old_index in enumerate(order):
            role = self._roles[old_index]
            if role is not None:
                names[role] = f"obj_{new_index + 1}"
        return specs, names


class SceneFull(RuntimeError):
    """The sampler could not fit another object; the caller retries with another draw."""


def describe(spec: ObjectSpec) -> str:
    return f"{spec.color} {spec.kind}"


def ref(spec: ObjectSpec) -> dict[str, str]:
    """The language ref of an object: its kind and colour (`embodied_mm.language.render`)."""
    return {"kind": spec.kind, "color": spec.color}


def template_text(value: Any) -> Any:
    """A ref as the fixed templates say it (`red block`); other values unchanged."""
    if isinstance(value, dict) and "color" in value:
        return f"{value['color']} {value.get('noun') or value['kind']}"
    return value


class Task(abc.ABC):
    """A task family. Subclasses set `name` and `templates` and implement the four parts."""

    name: ClassVar[str]
    templates: ClassVar[tuple[str, ...]]
    max_steps: ClassVar[int] = 10

    def sample(self, seed: int, n_distractors: int = 0, template_id: int | None = None,
               language: str = "train", absent: str = "none") -> Episode:
        """Samples an episode; the same seed (and arguments) gives the same episode.

        Args:
            seed: the episode seed (scene, goal and wording).
            n_distractors: extra objects the goal does not name.
            template_id: use this fixed template (`templates`, -1 = the last) instead of the
                language generator.
            language: `train` or `heldout`: which side of the lexicon the wording comes from.
            absent: `none`, or `color` / `kind` / `noun` / `mixed`: name one thing the scene
                lacks; the episode is then an `infeasible` one (see the module docstring).
        """
        from embodied_mm.language import ABSENT_MODES, SIDES, make_absent, render

        if n_distractors < 0:
            raise ConfigError(f"n_distractors must be >= 0, got {n_distractors}")
        if language not in SIDES:
            raise ConfigError(f"task.language must be one of {', '.join(SIDES)}, got "
                              f"{language!r}")
        if absent not in ("none", "mixed", *ABSENT_MODES):
            raise ConfigError(f"task.absent must be none, mixed or one of "
                              f"{', '.join(ABSENT_MODES)}, got {absent!r}")
        n = len(self.templates)
        if template_id is not None and not -n <= template_id < n:
            raise ConfigError(f"{self.name} has templates 0..{n - 1} (or -{n}..-1 from the "
                              f"end), got {template_id}")
        if template_id is not None:
            template_id %= n
        rng = np.random.default_rng([seed, _stable_hash(self.name)])
        for _ in range(50):
            builder = SceneBuilder(rng)
            try:
                words, goal_roles = self.sample_scene(builder, n_distractors)
            except SceneFull:
                continue
            scene, names = builder.build()
            goal = {key: names.get(role, role) if isinstance(role, str) else
                    [names[r] for r in role] for key, role in goal_roles.items()}
            words = {**words, "others": _unnamed(words, scene)}
            task = self.name
            if absent != "none" and self.name != "infeasible":
                mode = str(rng.choice(ABSENT_MODES)) if absent == "mixed" else absent
                changed = make_absent(words, [(s.color, s.kind) for s in scene], rng,
                                      language, mode)
                if changed is None:
                    continue
                words, goal, task = changed, {"absent": mode, "family": self.name}, "infeasible"
            if template_id is not None:
                instruction = self.templates[template_id].format(
                    **{k: template_text(v) for k, v in self.template_words(words).items()})
            else:
                instruction = render(words, np.random.default_rng([seed, 7919]), language)
            return Episode(task, seed, instruction, scene, goal, template_id, words)
        raise ConfigError(f"{self.name}: could not fit a scene with {n_distractors} "
                          "distractors on the table (or name something absent in it); try "
                          "fewer")

    def template_words(self, words: dict[str, Any]) -> dict[str, Any]:
        """The fixed templates' slot values for goal `words` (refs become `red block`)."""
        return words

    @abc.abstractmethod
    def sample_scene(self, scene: SceneBuilder, n_distractors: int) -> tuple[dict, dict]:
        """Adds objects to `scene`; returns (goal words for `embodied_mm.language.render`,
        goal: key -> role or [roles])."""

    @abc.abstractmethod
    def success(self, episode: Episode, initial: Sequence[ObjectState], final: Observation,
                steps: Sequence[SkillCall]) -> bool:
        """Judges the episode on the final world state (and, for `cannot`, the steps)."""

    @abc.abstractmethod
    def oracle(self, episode: Episode, obs: Observation, done: Sequence[SkillCall]) -> SkillCall:
        """The next plan step for the current observation."""


def _unnamed(words: dict[str, Any], scene: Sequence[ObjectSpec]) -> list[list[str]]:
    """[colour, kind] of the scene's objects the goal does not name, for clauses that may
    mention them; none for `sort` and relational referents (a mention could be the referent)."""
    from embodied_mm.language.absent import named_refs

    refs = named_refs(words)
    if words.get("frame") == "sort" or any("relation" in r for r in refs):
        return []
    named = {(r["color"], r["kind"]) for r in refs}
    return [[s.color, s.kind] for s in scene if (s.color, s.kind) not in named]


def _stable_hash(text: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(text))


class PutOnTask(Task):
    """A family whose goal is one block in/on one target (`goal["block"]`, `goal["target"]`)."""

    def success(self, episode: Episode, initial: Sequence[ObjectState], final: Observation,
                steps: Sequence[SkillCall]) -> bool:
        block, target = final.object(episode.goal["block"]), final.object(episode.goal["target"])
        return held_block(final) is None and is_on(block, target)

    def oracle(self, episode: Episode, obs: Observation, done: Sequence[SkillCall]) -> SkillCall:
        return move_into(obs, episode.goal["block"], episode.goal["target"]) or SkillCall("done")


# -- oracle building blocks ------------------------------------------------------------------
def move_into(obs: Observation, block: str, support: str) -> SkillCall | None:
    """Next step to get `block` in/on `support`, or None when it is already there."""
    held = held_block(obs)
    if held is not None and held.name == block:
        return SkillCall("place", (support,))
    if is_on(obs.object(block), obs.object(support), CAMERA_SLACK):
        return None
    if held is not None:  # holding the wrong block: put it on the table out of the way
        return SkillCall("place_at", (free_zone(obs),))
    return SkillCall("pick", (block,))


def free_zone(obs: Observation) -> str:
    """A table zone whose centre is far from every object (for putting a block aside)."""
    zones = ("front_left", "front_right", "back_left", "back_right", "left", "right",
             "front", "back", "center")
    held = held_block(obs)
    others = [o for o in obs.objects if held is None or o.name != held.name]
    return max(zones, key=lambda z: min((np.linalg.norm(o.position[:2] - TABLE.zone_center(z))
                                         for o in others), default=1.0))
