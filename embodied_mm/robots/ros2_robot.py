"""Moved to `embodied_mm.ros.ros2_robot` (rclpy stays under `embodied_mm/ros/`); this name
remains only until `ros/executor_node.py` imports from there, then it is deleted."""

from embodied_mm.ros.ros2_robot import EStopActive, Ros2Robot, StaleData

__all__ = ["EStopActive", "Ros2Robot", "StaleData"]
