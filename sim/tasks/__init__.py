"""Task families: `TASKS` maps a family name to its `Task` instance.

Each family lives in its own module with its instruction templates, scene sampler, success
predicate and oracle. Nothing here imports pybullet.
"""

from sim.tasks.base import Episode, Task
from sim.tasks.infeasible import Infeasible
from sim.tasks.pick_place import PickPlace
from sim.tasks.place_at_zone import PlaceAtZone
from sim.tasks.push_to_side import PushToSide
from sim.tasks.sort_by_color import SortByColor
from sim.tasks.spatial_ref import SpatialRef
from sim.tasks.stack import Stack
from sim.tasks.tower import Tower

TASKS: dict[str, Task] = {
    task.name: task
    for task in (PickPlace(), Stack(), SortByColor(), Tower(), PushToSide(), SpatialRef(),
                 PlaceAtZone(), Infeasible())
}

__all__ = ["TASKS", "Task", "Episode"]
