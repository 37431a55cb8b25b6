"""World faults injected once per episode, mid-skill, in the in-process sim (`eval.perturb`).

A fault becomes due at a control tick drawn from the episode's seed and strikes at the first
tick from then on where it applies:

- `knock`: a block that is not held is knocked to a free table spot (someone bumps it);
- `grasp_fail`: the block in the gripper slips out and lands on the table next to the hand
  (waits until a block is held); the world runs `SLIP_S` on while the fingers close on air;
- `remove`: a block that is not held is taken out of the scene; it vanishes from the
  observation, as it would from the camera's object list;
- `mixed`: one of the three, drawn at the moment it strikes among those that apply then.

The planner learns of a fault only from its next observation (closed loop). An episode whose
fault removed an object the goal names cannot succeed any more; it counts as a success when the
planner answered `cannot()` (stop rather than guess), otherwise the task's own verdict counts.

Example:
    embodied-mm eval planner=oracle task=all eval.episodes=7 eval.perturb=mixed
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from embodied_mm.config.schema import PERTURBATIONS
from embodied_mm.planner.oracle import goal_objects
from embodied_mm.robots.base import Robot
from embodied_mm.scene import held_block
from embodied_mm.table import TABLE
from embodied_mm.types import JointAction, ObjectState, Observation

FAULTS = ("knock", "grasp_fail", "remove")
FIRST_TICK, LAST_TICK = 4, 60  # control ticks (20 Hz): inside the first or second skill
KNOCK_MIN_DISTANCE = 0.08  # m a knocked block travels at least
CLEARANCE = 0.03  # m kept free between a moved block's footprint and any other object's
SLIP_S = 0.2  # s of physics after a slip: a dropped block's fingers do not stay apart


@dataclass
class Fault:
    """One episode's fault: what is due, and once it struck, what it did."""

    kind: str  # knock | grasp_fail | remove | mixed (resolved to one of FAULTS on strike)
    due_tick: int
    applied: str | None = None  # the fault that struck, None while none has
    object: str | None = None
    at_s: float | None = None  # sim time when it struck
    before: list[float] | None = None  # the object's position before (m)
    after: list[float] | None = None  # after (None once removed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(fault: Fault, goal: dict[str, Any], task_success: bool, outcome: str) -> bool:
    """An episode's success under its fault (see the module doc)."""
    if fault.applied == "remove" and fault.object in goal_objects(goal):
        return outcome == "cannot"
    return task_success


class FaultStriker:
    """Strikes one episode's `Fault` into a `sim.world.TabletopWorld` when it is due.

    The caller counts control ticks (20 Hz) and calls `tick` with the current observation;
    the striker keeps the fault's record and the names of removed objects, which callers
    leave out of what they observe (`visible`). Used by `PerturbedRobot` (in-process sim)
    and by the sim node (`perturb` parameter, for the graph and its soak).

    Args:
        world: the world the fault is injected into.
        kind: one of `FAULTS` or `mixed`.
        seed: the episode's seed: due tick, victim and destination follow from it.
    """

    def __init__(self, world, kind: str, seed: int) -> None:
        if kind not in (*FAULTS, "mixed"):
            raise ValueError(f"unknown fault {kind!r}; choose one of {', '.join(PERTURBATIONS)}")
        self.world = world
        self.rng = np.random.default_rng([seed, 7])  # 7: a stream apart from the scene's
        self.fault = Fault(kind, int(self.rng.integers(FIRST_TICK, LAST_TICK + 1)))
        self.removed: set[str] = set()

    @property
    def pending(self) -> bool:
        """True until the fault has struck."""
        return self.fault.applied is None

    def visible(self, objects: list[ObjectState]) -> list[ObjectState]:
        """`objects` without the removed ones (as a camera's object list would be)."""
        return [o for o in objects if o.name not in self.removed]

    def tick(self, ticks: int, obs: Observation) -> None:
        """Strikes if the fault is due after `ticks` control ticks and applies in `obs`."""
        if self.pending and ticks >= self.fault.due_tick:
            self._strike(obs)

    def _strike(self, obs: Observation) -> None:
        held = held_block(obs)
        loose = [o for o in obs.objects if o.kind == "block" and (held is None
                                                                  or o.name != held.name)]
        options = {"knock": bool(loose), "grasp_fail": held is not None, "remove": bool(loose)}
        kinds = [k for k in FAULTS if options[k]] if self.fault.kind == "mixed" else (
            [self.fault.kind] if options[self.fault.kind] else [])
        if not kinds:
            return  # nothing it applies to yet: try again next tick
        kind = str(self.rng.choice(kinds))
        tool = obs.ee_pose[:2]
        if kind == "grasp_fail":
            victim = held
            xy = self._free_spot(victim, obs, tool, near=tool)
        else:
            victim = loose[int(self.rng.integers(len(loose)))]
            xy = self._free_spot(victim, obs, tool) if kind == "knock" else None
        if kind != "remove" and xy is None:
            return
        self.fault.applied, self.fault.object = kind, victim.name
        self.fault.at_s = round(obs.stamp, 3)
        self.fault.before = np.round(victim.position, 4).tolist()
        if kind == "remove":
            self.world.remove_object(victim.name)
            self.removed.add(victim.name)
            return
        self.world.move_object(victim.name, xy)
        if kind == "grasp_fail":
            from sim.world import PHYSICS_HZ

            self.world.step(round(SLIP_S * PHYSICS_HZ))
        self.fault.after = np.round(self.world.object_states()[_index(victim)].position,
                                    4).tolist()

    def _free_spot(self, victim: ObjectState, obs: Observation, tool: np.ndarray,
                   near: np.ndarray | None = None) -> np.ndarray | None:
        """A random table point where `victim` fits clear of other objects and the hand."""
        others = [o for o in obs.objects if o.name != victim.name]
        margin = victim.size[0] / 2 + 0.03
        low = np.array([TABLE.x_min + margin, TABLE.y_min + margin])
        high = np.array([TABLE.x_max - margin, TABLE.y_max - margin])
        if near is not None:  # slipped from the hand: lands within 12 cm of it
            low, high = np.maximum(low, near - 0.12), np.minimum(high, near + 0.12)
        for _ in range(200):
            xy = self.rng.uniform(low, high)
            if near is None and np.linalg.norm(xy - victim.position[:2]) < KNOCK_MIN_DISTANCE:
                continue
            if np.linalg.norm(xy - tool) < 0.06 + victim.size[0] / 2:
                continue  # never under the fingers
            if all(np.linalg.norm(xy - o.position[:2]) > (victim.size[0] + o.size[0]) / 2
                   + CLEARANCE for o in others):
                return xy
        return None


class PerturbedRobot(Robot):
    """A `SimRobot` whose world suffers one `Fault` mid-episode; otherwise the same robot.

    Commands are clipped by this robot's `send_action` (same limits) and passed to the wrapped
    robot's `_command`; observations leave out removed objects.

    Args:
        robot: the connected `sim.robot.SimRobot` to wrap.
        kind: one of `FAULTS` or `mixed`.
        seed: the episode's seed: due tick, victim and destination follow from it.
    """

    def __init__(self, robot, kind: str, seed: int) -> None:
        super().__init__(robot.limits, robot.control_hz)
        self.striker = FaultStriker(robot.world, kind, seed)
        self.inner, self.world, self.kinematics = robot, robot.world, robot.kinematics
        self._ticks = 0
        self._connected = True

    @property
    def fault(self) -> Fault:
        return self.striker.fault

    def _observe(self, images: bool) -> Observation:
        obs = self.inner._observe(images)
        obs.objects = self.striker.visible(obs.objects)
        return obs

    def joint_positions(self) -> np.ndarray:
        return self.inner.joint_positions()

    def _command(self, action: JointAction) -> None:
        self.inner._command(action)
        self._ticks += 1
        if self.striker.pending and self._ticks >= self.fault.due_tick:
            self.striker.tick(self._ticks, self._observe(images=False))


def _index(obj: ObjectState) -> int:
    return int(obj.name.split("_")[1]) - 1


def summary(rows: list[dict]) -> dict[str, Any]:
    """Success over the episodes a fault struck, overall and per fault kind."""
    struck = [r for r in rows if (r.get("perturbation") or {}).get("applied")]
    by_kind: dict[str, list[bool]] = {}
    for row in struck:
        by_kind.setdefault(row["perturbation"]["applied"], []).append(bool(row["success"]))

    def rate(values: list[bool]) -> dict[str, Any]:
        return {"success_rate": round(sum(values) / len(values), 4) if values else None,
                "n_episodes": len(values)}

    return {"perturbed": rate([bool(r["success"]) for r in struck]),
            "per_fault": {kind: rate(by_kind[kind]) for kind in sorted(by_kind)},
            "not_struck": len(rows) - len(struck)}
