"""`TabletopEnv`: the tabletop world as a gymnasium env whose action is one plan step.

Importing this module registers the id `embodied_mm/Tabletop-v0` with `max_episode_steps` (the
longest family's step budget; each family truncates at its own). An action is plan text such
as `pick(obj_2)`; the env parses it against the scene and runs the matching skill to its end at
control rate (one `step` = one skill). Text that does not parse moves nothing and returns
reward 0 with the parser's message in `info["error"]`. `done()` / `cannot()` end the episode
with reward 1 when the task family's success predicate holds, else 0.

Example:
    python -c "import gymnasium, sim.env; env = gymnasium.make('embodied_mm/Tabletop-v0', \
task='stack'); obs, info = env.reset(seed=0); print(info['instruction']); \
print(env.step('done()')[1:3]); env.close()"
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from embodied_mm.executor import run_skill
from embodied_mm.plan_language import PlanError, parse_step
from embodied_mm.scene import object_feature_vector
from embodied_mm.tasks import TASKS, Episode
from embodied_mm.types import ObjectState, SkillCall
from sim.camera import CameraConfig
from sim.robot import SimRobot
from sim.world import TabletopWorld

ENV_ID = "embodied_mm/Tabletop-v0"
MAX_OBJECTS = 12
# Per-object row: position xyz (m), size xyz (m), colour rgb in [0, 1], kind (1 block, 0 bowl).
OBJECT_FEATURES = 10
PLAN_CHARSET = string.ascii_lowercase + string.digits + "_(), "
MAX_GRIPPER_WIDTH = 0.1  # m, above the Panda's 0.08 so physics overshoot stays in the box
# gymnasium's TimeLimit for the registered id: no family's episode needs more steps.
MAX_EPISODE_STEPS = max(task.max_steps for task in TASKS.values())


class TabletopEnv(gymnasium.Env):
    """One task family's episodes; each `step` runs one plan step in PyBullet.

    Args:
        task: task family, a key of `embodied_mm.tasks.TASKS`.
        n_distractors: extra objects in each sampled scene.
        max_steps: actions per episode before truncation; the task's `max_steps` by default.
        render_mode: None or "rgb_array".
        width: camera image width in pixels.
        height: camera image height in pixels.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, task: str = "pick_place", n_distractors: int = 0,
                 max_steps: int | None = None, render_mode: str | None = None,
                 width: int = CameraConfig.width, height: int = CameraConfig.height) -> None:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; tasks: {', '.join(sorted(TASKS))}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.task = TASKS[task]
        self.n_distractors = n_distractors
        self.max_steps = max_steps if max_steps is not None else self.task.max_steps
        self.render_mode = render_mode
        self.action_space = spaces.Text(max_length=64, charset=PLAN_CHARSET)
        self.observation_space = spaces.Dict({
            "rgb": spaces.Box(0, 255, (height, width, 3), np.uint8),
            "joint_positions": spaces.Box(-2 * np.pi, 2 * np.pi, (7,), np.float32),
            "gripper_width": spaces.Box(0.0, MAX_GRIPPER_WIDTH, (1,), np.float32),
            "objects": spaces.Box(-np.inf, np.inf, (MAX_OBJECTS, OBJECT_FEATURES), np.float32),
            "n_objects": spaces.Discrete(MAX_OBJECTS + 1),
        })
        self.world = TabletopWorld(camera=CameraConfig(width=width, height=height))
        self.robot = SimRobot(self.world)
        self.robot.connect()
        self.episode: Episode | None = None
        self._initial_objects: list[ObjectState] = []
        self._calls: list[SkillCall] = []
        self._n_steps = 0

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Samples an episode (from `seed`, or a seed drawn from `np_random`) and sets it up.

        `options` may hold "template_id" to fix the instruction template.
        """
        super().reset(seed=seed)
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**31 - 1))
        template_id = (options or {}).get("template_id")
        self.episode = self.task.sample(episode_seed, self.n_distractors, template_id)
        if len(self.episode.scene) > MAX_OBJECTS:
            raise ValueError(f"scene has {len(self.episode.scene)} objects; the observation "
                             f"holds at most {MAX_OBJECTS} (lower n_distractors)")
        self.world.reset(self.episode.scene)
        self._initial_objects = self.world.object_states()
        self._calls, self._n_steps = [], 0
        info = {"instruction": self.episode.instruction, "task": self.episode.task,
                "object_names": self.episode.object_names}
        return self._observe(), info

    def step(self, action: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Parses `action` as one plan step and carries it out (see the module docstring)."""
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        self._n_steps += 1
        info: dict[str, Any] = {}
        reward, terminated = 0.0, False
        try:
            call = parse_step(action, self.episode.object_names)
        except PlanError as err:
            info["error"] = str(err)
        else:
            self._calls.append(call)
            if call.is_terminal:
                final = self.robot.get_observation(images=False)
                success = self.task.success(self.episode, self._initial_objects, final,
                                            self._calls)
                reward, terminated = float(success), True
                info["is_success"] = bool(success)
            else:
                status, reason, _ = run_skill(self.robot, call)
                info["skill_status"], info["skill_reason"] = status.value, reason
        truncated = not terminated and self._n_steps >= self.max_steps
        return self._observe(), reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The camera's rgb frame (H, W, 3) uint8 for render_mode "rgb_array", else None."""
        if self.render_mode != "rgb_array":
            return None
        return self.world.render()[0]

    def close(self) -> None:
        """Disconnects the robot and the physics client; safe to call twice."""
        self.robot.disconnect()
        self.world.close()

    def _observe(self) -> dict[str, Any]:
        obs = self.robot.get_observation(images=True)
        objects = np.zeros((MAX_OBJECTS, OBJECT_FEATURES), np.float32)
        for i, obj in enumerate(obs.objects):
            objects[i] = object_feature_vector(obj)
        # Physics noise can leave the fingers a hair outside [0, MAX_GRIPPER_WIDTH].
        width = np.clip(obs.gripper_width, 0.0, MAX_GRIPPER_WIDTH)
        return {"rgb": obs.rgb, "joint_positions": obs.joint_positions.astype(np.float32),
                "gripper_width": np.array([width], np.float32), "objects": objects,
                "n_objects": len(obs.objects)}


if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="sim.env:TabletopEnv",
                       max_episode_steps=MAX_EPISODE_STEPS)
