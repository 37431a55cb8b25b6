"""Planners behind one interface; `PLANNERS` maps a name to its class."""

from embodied_mm.config.schema import PlannerConfig
from embodied_mm.planner.base import Planner, PlannerError
from embodied_mm.planner.oracle import OraclePlanner
from embodied_mm.planner.palme import PalmePlanner
from embodied_mm.planner.scripted import ScriptedPlanner
from embodied_mm.planner.text_llm import TextLLMPlanner

PLANNERS: dict[str, type[Planner]] = {
    "oracle": OraclePlanner,
    "script": ScriptedPlanner,
    "palme": PalmePlanner,
    "text_llm": TextLLMPlanner,
}


def build_planner(cfg: PlannerConfig) -> Planner:
    """The planner named by `cfg.name`, built from its config."""
    if cfg.name not in PLANNERS:
        raise PlannerError(f"unknown planner {cfg.name!r}; choose one of: {', '.join(PLANNERS)}")
    return PLANNERS[cfg.name].from_config(cfg)


__all__ = ["PLANNERS", "Planner", "PlannerError", "build_planner"]
