"""ROS 2 figures, over real DDS on a private domain with localhost-only discovery:

- image transport: a second process publishes 640×480 `rgb8` images at `IMAGE_HZ` on the
  camera topic; this process receives them (sensor QoS) and measures stamp → receive latency
  and the received rate;
- replanning latency in the running sim graph: `embodied-mm launch
  launch/tabletop_sim.launch.yaml` with the oracle for a few episodes; from its MCAP recording,
  the time from each finished skill's status (executor: succeeded / failed) to the next
  `/embodied_mm/plan` message, both as received by the recorder.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

from embodied_mm.bench.stats import summarize_ms
from embodied_mm.config.schema import Config
from embodied_mm.ros.dds import DEFAULT_RANGE, DISCOVERY_RANGE, default_transport

IMAGE_SIZE = (480, 640)  # rows, columns
IMAGE_HZ = 30.0
IMAGE_SECONDS = 6.0
GRAPH_EPISODES = 4
FINISHED = ("succeeded", "failed")


def _ros_env(domain_id: int) -> dict[str, str]:
    """This process's env with a private domain, localhost discovery, and the graph's Fast DDS
    profile unless the user named one (`dds.default_transport`)."""
    return default_transport({**os.environ, "ROS_DOMAIN_ID": str(domain_id),
                              DISCOVERY_RANGE: DEFAULT_RANGE})


def _publish_images(domain_id: int, seconds: float) -> None:
    """Child process: publishes stamped images at `IMAGE_HZ` for `seconds`."""
    os.environ.update(_ros_env(domain_id))
    import numpy as np
    import rclpy
    from sensor_msgs.msg import Image

    from embodied_mm.ros import qos as ros_qos
    from embodied_mm.ros import topics
    from embodied_mm.ros.conversions import image_to_msg

    rclpy.init(domain_id=domain_id)
    node = rclpy.create_node("bench_camera")
    pub = node.create_publisher(Image, topics.COLOR, ros_qos.SENSOR_QOS)
    frame = np.random.default_rng(0).integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tick = time.monotonic()
        pub.publish(image_to_msg(frame, "rgb8", time.time()))
        time.sleep(max(0.0, 1 / IMAGE_HZ - (time.monotonic() - tick)))
    node.destroy_node()
    rclpy.shutdown()


def bench_image_transport(domain_id: int) -> dict:
    """Latency and rate of 640×480 images from another process."""
    os.environ.update(_ros_env(domain_id))
    import rclpy
    from sensor_msgs.msg import Image

    from embodied_mm.ros import qos as ros_qos
    from embodied_mm.ros import topics

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = rclpy.create_node("bench_probe", context=context)
    latencies: list[float] = []
    arrivals: list[float] = []

    def on_image(msg: Image) -> None:
        now = time.time()
        latencies.append(now - (msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9))
        arrivals.append(now)

    node.create_subscription(Image, topics.COLOR, on_image, ros_qos.SENSOR_QOS)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)
    publisher = get_context("spawn").Process(target=_publish_images,
                                             args=(domain_id, IMAGE_SECONDS + 2))
    publisher.start()
    try:
        deadline = time.monotonic() + IMAGE_SECONDS + 20
        while publisher.is_alive() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
    finally:
        publisher.join(5)
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
    if len(arrivals) < 10:
        raise RuntimeError(f"received only {len(arrivals)} images from the publisher process")
    steady = latencies[5:]  # discovery and the first frames are not the steady state
    return {"resolution": f"{IMAGE_SIZE[1]}x{IMAGE_SIZE[0]}", "published_hz": IMAGE_HZ,
            "received_hz": round((len(arrivals) - 1) / (arrivals[-1] - arrivals[0]), 1),
            "latency": summarize_ms(steady)}


def replan_latencies(mcap_path: Path) -> list[float]:
    """Seconds from each finished skill's executor status to the next plan message, from
    their publish times (the publishers' clocks, not when the busy recorder got them)."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    from embodied_mm.ros import topics

    gaps, finished_at = [], None
    with open(mcap_path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for _, channel, message, msg in reader.iter_decoded_messages(
                topics=[topics.SKILL_STATUS, topics.PLAN], log_time_order=True):
            t = message.publish_time * 1e-9
            if channel.topic == topics.PLAN:
                if finished_at is not None:
                    gaps.append(t - finished_at)
                finished_at = None
            elif msg.name == "executor" and msg.message.split(":")[0] in FINISHED:
                finished_at = t
    return gaps


def bench_graph_replanning(domain_id: int, planner: str) -> dict:
    """Skill finished → next plan step, in the sim graph with `planner`."""
    from embodied_mm.paths import share_dir

    with tempfile.TemporaryDirectory(prefix="embodied_mm_bench_") as out:
        launch = share_dir() / "launch" / "tabletop_sim.launch.yaml"
        cmd = [sys.executable, "-m", "embodied_mm.cli", "launch", str(launch),
               f"planner:={planner}", "task:=all", f"episodes:={GRAPH_EPISODES}", "seed:=5",
               f"out_dir:={out}"]
        start = time.perf_counter()
        done = subprocess.run(cmd, env={**os.environ, **_ros_env(domain_id)},
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"the sim graph failed ({done.returncode}): "
                               f"{done.stdout[-500:]}{done.stderr[-500:]}")
        gaps = replan_latencies(Path(out) / "run.mcap")
    return {"planner": planner, "episodes": GRAPH_EPISODES,
            "wall_s": round(time.perf_counter() - start, 1),
            "skill_finished_to_next_plan": summarize_ms(gaps)}


def bench_ros(cfg: Config) -> dict:
    """Both ROS 2 benchmarks, each on its own random domain."""
    # fixed sizes: the figures are comparable across runs
    return {"image_transport": bench_image_transport(random.randint(100, 200)),
            "graph": bench_graph_replanning(random.randint(100, 200), cfg.bench.graph_planner)}
