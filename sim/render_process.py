"""`RenderProcess`: renders a `TabletopWorld`'s camera in a separate process.

PyBullet holds the GIL while it renders (53 ms a 320x240 frame on this project's 2-core
machines, more under load), so a render in the sim node's thread stalls physics and joint
states for that long; at 15 Hz the thread is then mostly rendering, joint states come at
~13 Hz and the arm moves in fits. A second process keeps a render-only replica of the world —
the same scene built the same way, so the same body ids and segmentation values — and renders
it at the poses it is sent, on another core, while the caller steps physics.

Example:
    >>> renderer = RenderProcess(CameraConfig())  # doctest: +SKIP
    >>> renderer.load(scene)  # doctest: +SKIP
    >>> renderer.submit(world.pose_vector(), tag=stamp)  # doctest: +SKIP
    >>> frame = renderer.result()  # None until the frame is ready  # doctest: +SKIP
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embodied_mm.tasks.specs import ObjectSpec
from sim.camera import CameraConfig


@dataclass
class RenderedFrame:
    """A frame of the world at the pose it was submitted with; `tag` is the caller's (a stamp)."""

    tag: float
    pose: np.ndarray
    rgb: np.ndarray
    depth: np.ndarray
    segmentation: np.ndarray


class RenderProcess:
    """One frame in flight at a time; frames of a scene replaced by `load` are dropped."""

    def __init__(self, camera: CameraConfig) -> None:
        context = mp.get_context("spawn")  # never fork a process that runs DDS threads
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, camera), daemon=True,
                                        name="render")
        self._process.start()
        child.close()
        self._generation = 0
        self._in_flight: tuple[int, float, np.ndarray] | None = None

    @property
    def busy(self) -> bool:
        return self._in_flight is not None

    def load(self, scene: Sequence[ObjectSpec]) -> None:
        """Rebuilds the replica with `scene`; a frame still rendering will not be returned."""
        self._generation += 1
        self._conn.send(("scene", list(scene)))

    def submit(self, pose: np.ndarray, tag: float) -> bool:
        """Starts rendering the world at `pose` (`TabletopWorld.pose_vector`); False, and
        nothing sent, while another frame is rendering."""
        if self.busy:
            return False
        self._conn.send(("render", pose))
        self._in_flight = (self._generation, tag, pose)
        return True

    def result(self) -> RenderedFrame | None:
        """The submitted frame once rendered, else None (never blocks)."""
        if self._in_flight is None or not self._conn.poll():
            return None
        try:
            rgb, depth, seg = self._conn.recv()
        except (EOFError, OSError) as err:
            raise RuntimeError("the render process exited "
                               f"(code {self._process.exitcode})") from err
        generation, tag, pose = self._in_flight
        self._in_flight = None
        if generation != self._generation:
            return None
        return RenderedFrame(tag, pose, rgb, depth, seg)

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._process.join(timeout=5.0)
        if self._process.is_alive():
            self._process.terminate()
        self._conn.close()


def _serve(conn, camera: CameraConfig) -> None:
    """The render process: a headless replica world that follows the poses it is sent.

    It ignores Ctrl-C (SIGINT reaches the whole process group): the owner ends it by closing
    the pipe, so a frame in flight never dies with a traceback at shutdown."""
    from sim.world import TabletopWorld

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with TabletopWorld(camera=camera) as world:
        while True:
            try:
                request = conn.recv()
            except EOFError:  # the owner is gone
                return
            if request is None:
                return
            kind, payload = request
            if kind == "scene":
                world.reset(payload, settle_steps=0)
            else:
                world.show_pose(payload)
                conn.send(world.render())
