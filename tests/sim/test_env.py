"""Contract tests for `sim.env.TabletopEnv`: gymnasium API, oracle success, invalid text, seeds."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim.env  # registers embodied_mm/Tabletop-v0
from embodied_mm.skills import SkillStatus
from embodied_mm.tasks import TASKS
from sim.env import ENV_ID

REPO = Path(__file__).resolve().parents[2]
SMALL = {"width": 64, "height": 48}  # small camera images keep the tests fast


@pytest.fixture
def make_env():
    envs = []

    def make(**kwargs):
        env = gymnasium.make(ENV_ID, **{**SMALL, **kwargs})
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.close()


@pytest.mark.sim
def test_passes_gymnasium_env_checker(make_env):
    env = make_env(task="stack", render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    # Object positions are unbounded (objects can fall off the table), as in MuJoCo envs;
    # any other checker warning (e.g. an observation outside its space) is a failure.
    messages = [str(w.message) for w in caught if "infinity" not in str(w.message)]
    assert messages == []


def test_registered_with_the_longest_family_budget_as_time_limit():
    spec = gymnasium.spec(ENV_ID)
    assert spec.max_episode_steps == max(task.max_steps for task in TASKS.values())


@pytest.mark.sim
def test_made_env_is_time_limited(make_env):
    env = make_env(task="stack")
    assert isinstance(env, gymnasium.wrappers.TimeLimit)
    assert env.spec.max_episode_steps == gymnasium.spec(ENV_ID).max_episode_steps


def test_reimport_does_not_register_twice():
    # In a subprocess, so reloading does not swap the env class under the other tests.
    code = ("import importlib, gymnasium, sim.env; importlib.reload(sim.env); "
            "print(sim.env.ENV_ID in gymnasium.registry)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip().endswith("True")


@pytest.mark.sim
def test_oracle_episode_succeeds_with_reward_one(make_env):
    env = make_env(task="pick_place")
    obs, info = env.reset(seed=3)
    base = env.unwrapped
    assert obs["n_objects"] == len(info["object_names"]) == 2
    done, reward, terminated, truncated = [], 0.0, False, False
    while not (terminated or truncated):
        state = base.robot.get_observation(images=False)
        call = TASKS["pick_place"].oracle(base.episode, state, done)
        obs, reward, terminated, truncated, step_info = env.step(str(call))
        assert "error" not in step_info
        if step_info.get("skill_status") == SkillStatus.SUCCEEDED.value:
            done.append(call)
    assert terminated and not truncated
    assert reward == 1.0 and step_info["is_success"]
    assert [str(c) for c in done][:1] == [f"pick({base.episode.goal['block']})"]


@pytest.mark.sim
@pytest.mark.parametrize("text", ["pick(obj_9)", "fly(obj_1)", "pick obj_1", "", "done(obj_1)"])
def test_invalid_text_moves_nothing(make_env, text):
    env = make_env(task="stack", max_steps=3)
    obs, _ = env.reset(seed=1)
    after, reward, terminated, truncated, info = env.step(text)
    assert reward == 0.0 and not terminated and not truncated
    assert info["error"]
    np.testing.assert_allclose(after["objects"], obs["objects"], atol=1e-5)
    np.testing.assert_allclose(after["joint_positions"], obs["joint_positions"], atol=1e-5)
    np.testing.assert_allclose(after["gripper_width"], obs["gripper_width"], atol=1e-5)


@pytest.mark.sim
def test_step_budget_truncates(make_env):
    env = make_env(task="stack", max_steps=2)
    env.reset(seed=1)
    assert env.step("nonsense")[3] is False
    _, _, terminated, truncated, _ = env.step("nonsense")
    assert truncated and not terminated


@pytest.mark.sim
def test_same_seed_same_episode(make_env):
    env = make_env(task="sort_by_color", n_distractors=2)
    obs_a, info_a = env.reset(seed=11)
    scene_a = env.unwrapped.episode.scene
    env.step("pick(obj_2)")  # disturb the world between the two resets
    obs_b, info_b = env.reset(seed=11)
    assert info_a == info_b
    assert env.unwrapped.episode.scene == scene_a
    # Objects settle under physics after placement; 0.1 mm covers the world's first-step
    # transient (a fresh PyBullet client settles the first scene slightly differently).
    np.testing.assert_allclose(obs_a["objects"], obs_b["objects"], atol=1e-4)
    obs_c, _ = env.reset(seed=12)
    assert not np.allclose(obs_c["objects"], obs_a["objects"], atol=1e-3)


@pytest.mark.sim
def test_rejects_scenes_larger_than_the_observation(make_env, monkeypatch):
    env = make_env(task="stack", n_distractors=3)
    monkeypatch.setattr(sim.env, "MAX_OBJECTS", 4)  # the real table fits at most 12
    with pytest.raises(ValueError, match="at most 4"):
        env.reset(seed=0)
