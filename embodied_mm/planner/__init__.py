"""Planners behind one interface; `PLANNERS` maps a name to its class."""

from embodied_mm.planner.base import Planner, PlannerError
from embodied_mm.planner.oracle import OraclePlanner

PLANNERS: dict[str, type[Planner]] = {
    "oracle": OraclePlanner,
}

__all__ = ["PLANNERS", "Planner", "PlannerError"]
