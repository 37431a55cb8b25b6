"""No command source moves the sim arm faster than its limits, or its tool out of the workspace.

Property tests (hypothesis): raw `JointTrajectory` messages on the arm controller topic — what
any process on the domain can publish — against the sim node in its own process; and skills
and jog commands through `Robot.send_action` in-process. The measured joint speed (positions over
one 50 ms control period, from `/joint_states` stamps or the world's clock) stays within
`velocity_scale` × the rated speed, with `SPEED_SLACK` for the PD controller's overshoot.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mm.robots.base import RobotLimits
from embodied_mm.robots.kinematics import HOME, JOINT_LOWER, JOINT_UPPER, PandaKinematics
from embodied_mm.ros import topics
from embodied_mm.ros.conversions import trajectory_msg

LIMITS = RobotLimits()
MAX_SPEED = LIMITS.joint_velocity * LIMITS.velocity_scale  # rad/s, 1.09–1.31
# Speeds are averaged over one control period: PyBullet's instantaneous joint velocity spikes
# at contacts (3.6x the limit while grasping, in-process, with every command clipped).
WINDOW_S = 0.05
SPEED_SLACK = 1.15  # measured/limit: PD tracking overshoot (worst seen 1.04)
WORKSPACE_SLACK = 0.02  # m the measured tool may overshoot the box the commands respect

# Targets around HOME, where no link reaches the table: a link crashing into the table or a
# block is flung about by the contact, whatever was commanded (docs/reliability.md).
joint_targets = st.lists(st.floats(-0.6, 0.6), min_size=7, max_size=7).map(
    lambda d: HOME + np.array(d))
trajectories = st.lists(st.tuples(joint_targets, st.floats(0.001, 0.4)), min_size=1,
                        max_size=3)


def speeds(states: list[tuple[float, np.ndarray]], window_s: float = WINDOW_S) -> np.ndarray:
    """Per-joint speeds (rad/s), each averaged over the first state `window_s` or more later."""
    times = np.array([t for t, _ in states])
    q = np.array([q for _, q in states])
    later = np.searchsorted(times, times + window_s)
    keep = later < len(times)
    start, end = np.nonzero(keep)[0], later[keep]
    return np.abs(q[end] - q[start]) / (times[end] - times[start])[:, None]


def outside_workspace(q: np.ndarray, kinematics: PandaKinematics) -> float:
    tool = kinematics.forward(q)[0]
    return float(np.linalg.norm(tool - LIMITS.clip_position(tool)))


@pytest.mark.ros
@pytest.mark.sim
@pytest.mark.slow
def test_raw_trajectories_never_move_the_sim_arm_faster_than_its_limits(graph, sim_arm):
    states, arm = sim_arm("camera_hz:=2.0")
    kinematics = PandaKinematics()

    @settings(max_examples=12, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(trajectories)
    def publish(points):
        times = np.cumsum([t for _, t in points])
        arm.publish(trajectory_msg(list(topics.ARM_JOINTS), [q for q, _ in points], times))
        graph.spin_for(0.4)

    publish()
    graph.spin_for(0.5)
    measured = speeds(states)
    worst = (measured / MAX_SPEED).max()
    assert worst <= SPEED_SLACK, f"a joint moved at {worst:.2f}x its limit"
    assert (measured.max(axis=0) > 0.5 * MAX_SPEED).any(), "the arm should have moved fast"
    assert all(np.all(q >= JOINT_LOWER - 1e-3) and np.all(q <= JOINT_UPPER + 1e-3)
               for _, q in states)
    assert max(outside_workspace(q, kinematics) for _, q in states) <= WORKSPACE_SLACK


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.tuples(joint_targets | st.lists(st.floats(-9, 9), min_size=7, max_size=7)
                          .map(np.array), st.floats(0.001, 0.2), st.integers(1, 12)),
                min_size=1, max_size=8))
def test_the_gates_command_never_exceeds_the_limits(stream):
    """Whatever targets arrive, at whatever period, the command the sim's PD controller gets
    moves each joint at most its speed limit, stays in the joint limits and keeps the tool in
    the workspace box (or brings it closer). (Its acceleration is bounded too, except where a
    new target lies closer than the distance it needs to slow down: then it brakes harder.)"""
    from embodied_mm.ros.safety import CommandRamp, SafetyGate

    gate = SafetyGate()
    ramp = CommandRamp(gate, HOME)
    kinematics = PandaKinematics()
    previous = HOME.copy()
    for target, _, steps in stream:
        for _ in range(steps):
            dt = 1 / 240 * 2.5
            command = ramp.step(target, dt, previous)  # an arm that tracks perfectly
            step_velocity = (command - previous) / dt
            assert np.all(np.abs(step_velocity) <= MAX_SPEED + 1e-6)
            assert np.all(command >= JOINT_LOWER - 1e-9) and np.all(command <= JOINT_UPPER + 1e-9)
            assert outside_workspace(command, kinematics) <= max(
                outside_workspace(previous, kinematics), 1e-3) + 1e-9
            previous = command


class _Recorder:
    """Records the arm's joint positions at every physics step of a world (240 Hz)."""

    def __init__(self, world) -> None:
        self.world, self.positions = world, []
        self._step = world.step
        world.step = self.step

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self._step(1)
            self.positions.append(self.world.joint_state()[0].copy())

    def worst(self) -> float:
        """The highest speed/limit ratio over one control period (12 physics steps)."""
        q = np.array(self.positions)
        return float((np.abs(q[12:] - q[:-12]) / WINDOW_S / MAX_SPEED).max())


@pytest.fixture(scope="module")
def sim_world():
    from sim.world import TabletopWorld

    world = TabletopWorld()
    yield world
    world.close()


@pytest.mark.sim
@pytest.mark.slow
def test_skills_never_move_the_arm_faster_than_its_limits(sim_world):
    from embodied_mm.executor import run_skill
    from embodied_mm.tasks import TASKS
    from sim.robot import SimRobot

    task = TASKS["stack"]
    episode = task.sample(3)
    sim_world.reset(episode.scene)
    recorder = _Recorder(sim_world)
    robot = SimRobot(sim_world)
    robot.connect()
    done = []
    for _ in range(4):
        call = task.oracle(episode, robot.get_observation(images=False), done)
        if call.name in ("done", "cannot"):
            break
        run_skill(robot, call)
        done.append(call)
    sim_world.step = recorder._step
    assert len(done) >= 2 and recorder.worst() <= SPEED_SLACK, recorder.worst()


@pytest.mark.sim
@pytest.mark.slow
@settings(max_examples=10, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(st.floats(-5, 5), min_size=3, max_size=3),
                          st.floats(-5, 5), st.integers(1, 10)), min_size=1, max_size=4))
def test_jog_never_moves_the_arm_faster_than_its_limits(sim_world, twists):
    """Operator twists of any size (the jog scales them down; the robot clips the rest)."""
    from embodied_mm.robots.kinematics import HOME
    from embodied_mm.teleop.jog import Jog
    from sim.robot import SimRobot

    sim_world.reset_robot(HOME)
    recorder = _Recorder(sim_world)
    robot = SimRobot(sim_world)
    robot.connect()
    jog, now = Jog(), 0.0
    for linear, yaw, ticks in twists:
        jog.command(linear, yaw, now)
        for _ in range(ticks):
            now += 1 / robot.control_hz
            q = robot.joint_positions()
            action = jog.step(q, 0.08, now)
            if action is not None:
                robot.send_action(action)
    sim_world.step = recorder._step  # the module's world: undo the hook
    if len(recorder.positions) > 12:
        assert recorder.worst() <= SPEED_SLACK, recorder.worst()
