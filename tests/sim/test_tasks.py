"""Contract tests over every task family: templates, seeded sampling, oracle success."""

from __future__ import annotations

import pytest

from embodied_mm.config.schema import ConfigError
from embodied_mm.eval.rollout import EpisodeRunner, EpisodeSpec
from embodied_mm.planner.oracle import OraclePlanner
from embodied_mm.tasks import TASKS

REQUIRED = {"pick_place", "stack", "sort_by_color", "tower", "push_to_side", "spatial_ref",
            "place_at_zone", "infeasible"}


def test_all_families_are_registered():
    assert REQUIRED <= set(TASKS)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_family_has_five_templates_and_seeded_sampling(task):
    family = TASKS[task]
    assert len(family.templates) >= 5
    a, b = family.sample(7, n_distractors=2), family.sample(7, n_distractors=2)
    assert a == b
    assert family.sample(8, n_distractors=2) != a
    for template_id in range(len(family.templates)):
        episode = family.sample(3, template_id=template_id)
        assert episode.template_id == template_id
    last = family.sample(3, template_id=-1)  # counted from the end: the held-out template
    assert last.template_id == len(family.templates) - 1
    with pytest.raises(ConfigError, match="templates"):
        family.sample(3, template_id=len(family.templates))
        assert episode.instruction and "{" not in episode.instruction
        names = episode.object_names
        for value in episode.goal.values():
            for name in value if isinstance(value, list) else [value]:
                if str(name).startswith("obj_"):
                    assert name in names


@pytest.mark.parametrize("task", sorted(TASKS))
def test_distractors_add_objects(task):
    family = TASKS[task]
    plain = sum(len(family.sample(seed).scene) for seed in range(5))
    crowded = sum(len(family.sample(seed, n_distractors=4).scene) for seed in range(5))
    # Each scene gains about 4 objects (spatial_ref redraws its own blocks on ambiguity).
    assert crowded - plain >= 5 * 4 - 3


@pytest.fixture(scope="module")
def runner():
    with EpisodeRunner(OraclePlanner()) as r:
        yield r


@pytest.mark.sim
@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("seed, n_distractors", [(11, 0), (12, 2)])
def test_oracle_succeeds_through_real_executor(runner, task, seed, n_distractors):
    report = runner.run(EpisodeSpec(task, seed, n_distractors=n_distractors))
    assert report.success, report.skill_outcomes
    assert report.outcome == ("cannot" if task == "infeasible" else "done")
