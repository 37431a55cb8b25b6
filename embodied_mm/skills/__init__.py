"""Skill policies, one per moving step of the plan language (`done`/`cannot` move nothing).

`SKILLS` maps a step name to its skill class; the executor builds one per plan step.
"""

from embodied_mm.skills.base import Skill, SkillStatus
from embodied_mm.skills.pick import PickSkill
from embodied_mm.skills.place import PlaceAtSkill, PlaceSkill
from embodied_mm.skills.push import PushSkill

SKILLS: dict[str, type[Skill]] = {
    "pick": PickSkill,
    "place": PlaceSkill,
    "place_at": PlaceAtSkill,
    "push": PushSkill,
}

__all__ = ["SKILLS", "Skill", "SkillStatus"]
