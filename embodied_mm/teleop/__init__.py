"""Teleoperated evaluation: operator console, per-episode MCAP recording, session files.

See docs/teleop.md; `embodied-mm teleop` starts the console, `embodied-mm report` and
`embodied-mm export` read what it recorded.
"""
