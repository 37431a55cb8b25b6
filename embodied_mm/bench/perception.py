"""Perception latency per camera frame: `gt`, `color` and `learned` on the same sim frames.

Frames are held-out perception scenes (`embodied_mm.perception.dataset`, every scene kind:
nested, touching, stacked, held, arm, crowded, task) rendered by the sim's own camera at the
configured resolution, the frames the perception node gets; `learned` includes the robot
self-filter's render, as the node runs it. Each repeat runs every mode once on the next frame
(interleaved), so a machine whose speed drifts slows all modes alike.
"""

from __future__ import annotations

import itertools

import numpy as np

from embodied_mm.bench.stats import interleaved_timings, summarize_ms
from embodied_mm.config.schema import Config

FRAMES = 14  # two of each scene kind


def bench_perception(cfg: Config) -> dict:
    """Median / p90 ms per frame of each perception mode, and the torch threads used."""
    import torch

    from embodied_mm.perception.dataset import HELDOUT_SEED, render_frame
    from embodied_mm.perception.detectors import detect_color, detect_gt
    from embodied_mm.perception.learned import INFERENCE_THREADS, LearnedDetector
    from embodied_mm.perception.self_filter import SelfFilter
    from sim.camera import CameraConfig
    from sim.world import TabletopWorld

    camera = CameraConfig(width=cfg.robot.camera.width, height=cfg.robot.camera.height)
    with TabletopWorld(camera=camera) as world:
        frames = [render_frame(world, HELDOUT_SEED + i, augment=False, vary=False)
                  for i in range(FRAMES)]
    # (rgb, depth m, camera, segmentation, object table, arm state), decoded once outside
    # the timing
    inputs = [(f.rgb, f.depth, f.camera, f.instances.astype(np.int32),
               [{"name": f"obj_{k}", "kind": o["kind"], "color": o["color"], "mask_id": k}
                for k, o in enumerate(f.objects, start=1)],
               (f.meta["joints"], f.meta["gripper_width"])) for f in frames]
    learned, robot_filter = LearnedDetector.load(), SelfFilter()
    threads = torch.get_num_threads()
    torch.set_num_threads(INFERENCE_THREADS)  # as the perception node runs it
    cycles = {mode: itertools.cycle(inputs) for mode in ("gt", "color", "learned")}

    def gt() -> None:
        rgb, depth, cam, seg, table, _ = next(cycles["gt"])
        detect_gt(rgb, depth, seg, cam, table)

    def color() -> None:
        rgb, depth, cam, _, _, _ = next(cycles["color"])
        detect_color(rgb, depth, cam)

    def learn() -> None:
        rgb, depth, cam, _, _, arm = next(cycles["learned"])
        learned.detect(rgb, depth, cam, robot_filter.mask(cam, depth, *arm))

    b = cfg.bench
    times = interleaved_timings([gt, color, learn], max(b.repeats, FRAMES), b.warmup)
    torch.set_num_threads(threads)
    return {"resolution": f"{camera.width}x{camera.height}", "frames": FRAMES,
            "torch_threads": INFERENCE_THREADS,
            **{mode: summarize_ms(t) for mode, t in zip(("gt", "color", "learned"), times)}}
