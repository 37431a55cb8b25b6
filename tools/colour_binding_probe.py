"""Does a planner checkpoint check the colour of the block an instruction names?

For the first step of two-object `pick_place` samples (one block, one bowl) it decodes the
next step twice: with the instruction as recorded (the right answer picks the block) and with
the block's colour replaced by a colour absent from the instruction (the right answer is
`cannot()`, as in the `infeasible` "absent block" templates). A checkpoint that reads the
colour gets both right; one that decides from the wording alone gets about half of each.
Offline next-step accuracy cannot show this (the held-out split has few such pairs), and the
closed-loop eval shows only the side the checkpoint currently leans to (docs/palme.md, v20).

Usage:
    .venv/bin/python tools/colour_binding_probe.py CHECKPOINT [CHECKPOINT ...] \
        [--data outputs/data] [--split train] [--samples 12]
"""

from __future__ import annotations

import argparse

import torch

from embodied_mm.data.dataset import PlanDataset
from embodied_mm.model.decoding import StepDecoder
from embodied_mm.model.palme import PalmE
from embodied_mm.training.counterfactual import counterfactual, named_block_colour


def two_object_first_steps(data: str, split: str, samples: int) -> list:
    """Up to `samples` first steps of two-object `pick_place` episodes whose instruction
    names the block by colour."""
    dataset = PlanDataset(data, split, kinds=("plan",))
    picked = []
    for i, record in enumerate(dataset.records):
        if record["task"] != "pick_place" or record["done"]:  # first steps only, as in training
            continue
        sample = dataset[i]
        if len(sample.scene.object_names) == 2 and named_block_colour(sample.instruction):
            picked.append(sample)
        if len(picked) == samples:
            break
    return picked


def probe(checkpoint: str, samples: list) -> tuple[int, int]:
    """(samples where the recorded instruction is acted on, samples where the swapped one
    is refused with `cannot()`)."""
    model = PalmE.from_checkpoint(checkpoint).eval()
    decoder = StepDecoder(model)
    acts = refuses = 0
    for i, sample in enumerate(samples):
        swapped = counterfactual(sample, str(i)).instruction
        with torch.no_grad():
            recorded = decoder.decode(model.prompt_embeds(sample.scene, sample.instruction, []),
                                      sample.scene.object_names)
            refused = decoder.decode(model.prompt_embeds(sample.scene, swapped, []),
                                     sample.scene.object_names)
        acts += recorded.strip() != "cannot()"
        refuses += refused.strip() == "cannot()"
    return acts, refuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data", default="outputs/data")
    parser.add_argument("--split", default="train", choices=("train", "val"))
    parser.add_argument("--samples", type=int, default=12)
    args = parser.parse_args()
    samples = two_object_first_steps(args.data, args.split, args.samples)
    if not samples:
        raise SystemExit(f"no two-object pick_place first steps in {args.data} ({args.split})")
    for checkpoint in args.checkpoints:
        acts, refuses = probe(checkpoint, samples)
        print(f"{checkpoint}: acts on the recorded instruction {acts}/{len(samples)}, "
              f"cannot() on the absent colour {refuses}/{len(samples)}")


if __name__ == "__main__":
    main()
