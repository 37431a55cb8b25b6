"""Task families: `TASKS` maps a family name to its `Task` instance.

Each family lives in its own module with its instruction templates, scene sampler, success
predicate and oracle. Nothing here imports pybullet.
"""

from embodied_mm.tasks.base import Episode, Task
from embodied_mm.tasks.infeasible import Infeasible
from embodied_mm.tasks.pick_place import PickPlace
from embodied_mm.tasks.place_at_zone import PlaceAtZone
from embodied_mm.tasks.push_to_side import PushToSide
from embodied_mm.tasks.sort_by_color import SortByColor
from embodied_mm.tasks.spatial_ref import SpatialRef
from embodied_mm.tasks.stack import Stack
from embodied_mm.tasks.tower import Tower

TASKS: dict[str, Task] = {
    task.name: task
    for task in (PickPlace(), Stack(), SortByColor(), Tower(), PushToSide(), SpatialRef(),
                 PlaceAtZone(), Infeasible())
}

__all__ = ["TASKS", "Task", "Episode"]
