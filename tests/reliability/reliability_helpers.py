"""Shared by the reliability tests: acting as the operator console on a test graph."""

from __future__ import annotations


def release_estop(graph) -> None:
    """Releases the e-stop as the operator console does: only the console's (or the
    executor's) release is accepted by the sim and the safety filter."""
    import rclpy
    from std_msgs.msg import Bool

    from embodied_mm.ros import qos as ros_qos
    from embodied_mm.ros import topics

    console = rclpy.create_node("teleop_console", context=graph.context)
    graph.executor.add_node(console)
    console.create_publisher(Bool, topics.ESTOP, ros_qos.LATCHED_QOS).publish(Bool(data=False))
