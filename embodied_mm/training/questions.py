"""Scene questions asked afresh at training time about the stored scenes.

`gen-data` stores `data.vqa_per_step` questions with each observation, so a dataset holds a
few hundred of any one question type. A type that needs many examples to learn (the pairwise
relations left/right/front/behind compare two objects' places) can be asked again about every
stored scene: `SceneQuestions` rebuilds each scene's objects from its state rows (position,
size, colour, kind: what `features.object_row` stored) and samples new (question, answer)
pairs with `data.vqa.sample_questions`, so answers come from the same ground truth as
`gen-data`'s and are balanced the same way. Deterministic in (item, copy, seed).

Example:
    python -c "from embodied_mm.training.data import load_splits; \
from embodied_mm.training.questions import SceneQuestions; \
q = SceneQuestions(load_splits('outputs/palme/data')[0], 0.5, ['left_of']); print(len(q), q[0])"
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from embodied_mm.data.vqa import GEOMETRIC_TYPES, sample_questions
from embodied_mm.model.features import (
    POSITION_SCALE,
    SIZE_SCALE,
    SceneFeatures,
    attribute_labels,
    table_xy,
)
from embodied_mm.model.palme import Sample
from embodied_mm.types import ObjectState, Observation
from embodied_mm.vocabulary import COLORS, KINDS


def scene_observation(scene: SceneFeatures) -> Observation:
    """The objects a sample's state rows describe, as an `Observation` (no robot, no images).

    Colour, kind and place are read as the model's own labels read them
    (`features.attribute_labels`, `features.table_xy`); an object whose colour or kind is not
    a known word keeps an empty one, so no question names it with an attribute it lacks."""
    rows = torch.as_tensor(scene.objects)[None]
    labels = attribute_labels(rows, torch.ones(rows.shape[:2], dtype=torch.bool))
    x, y = table_xy(rows)
    colors, kinds = list(COLORS), list(KINDS)
    objects = [ObjectState(
        name=name, kind=kinds[k] if k >= 0 else "", color=colors[c] if c >= 0 else "",
        position=np.array([x[0, i].item(), y[0, i].item(), row[2] * POSITION_SCALE]),
        orientation=np.array([0.0, 0.0, 0.0, 1.0]), size=np.asarray(row[3:6]) * SIZE_SCALE)
        for i, (name, row, c, k) in enumerate(zip(
            scene.object_names, scene.objects, labels["color"][0].tolist(),
            labels["kind"][0].tolist()))]
    return Observation(joint_positions=np.zeros(7), gripper_width=0.0, ee_pose=np.zeros(7),
                       objects=objects)


class SceneQuestions(Dataset):
    """`per_sample` questions of `types` per stored sample, each asked about that sample's
    scene (sources in a fixed permutation; a scene with no question of those types, e.g. one
    object, passes its turn to the next).

    Raises:
        ValueError: `per_sample` <= 0, an empty dataset, or a type outside `GEOMETRIC_TYPES`.
    """

    def __init__(self, dataset: Dataset, per_sample: float, types: Sequence[str],
                 seed: int = 0) -> None:
        unknown = sorted(set(types) - set(GEOMETRIC_TYPES))
        if unknown or not types:
            raise ValueError(f"question types must be some of {', '.join(GEOMETRIC_TYPES)} "
                             f"(the others read what state rows do not keep), got {list(types)}")
        if per_sample <= 0 or len(dataset) == 0:
            raise ValueError(f"per_sample must be > 0 and the dataset non-empty, got "
                             f"{per_sample} and {len(dataset)} samples")
        self.dataset, self.types, self.seed = dataset, tuple(types), seed
        self.order = np.random.default_rng([seed, 4]).permutation(len(dataset))
        self.size = max(1, round(per_sample * len(dataset)))

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Sample:
        copy, position = divmod(index, len(self.order))
        for step in range(len(self.order)):  # a scene with none of those questions: the next
            item = int(self.order[(position + step) % len(self.order)])
            scene = self.dataset[item].scene
            rng = np.random.default_rng([self.seed, item, copy, 5])
            asked = sample_questions(scene_observation(scene), rng, 1, self.types)
            if asked:
                question, reply = asked[0]
                return Sample(scene=scene, instruction=str(question), target=reply, kind="vqa")
        raise ValueError(f"no stored scene has a question of the types {list(self.types)}")
