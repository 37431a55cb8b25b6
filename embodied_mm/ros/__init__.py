"""ROS 2 nodes of the stack (the only package that imports rclpy).

One node per module, each with `main(args=None)`; `topics` fixes names (no rclpy), `qos` the
QoS profiles, `conversions` turns messages into the stack's types with numpy (no cv_bridge).
"""
