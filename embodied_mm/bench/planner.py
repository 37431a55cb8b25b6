"""Planner decision latency: the `palme` planner's optimised path against a naive one.

One decision is observation in → parsed step out. Measured in one process, side by side:

- `optimised`: `PalmePlanner.next_step` (LoRA merged into the LLM's weights, encoders once,
  grammar-restricted LM head, forced tokens in one forward pass, KV cache of the instruction,
  bf16 layers with close calls re-decided in float32: `planner.fast_dtype`,
  `planner.verify_margin`);
- `naive`: the model as trained (LoRA unmerged), the same sentences (the smallest scenes in
  turn, `bench.naive_repeats` decisions), then `model.generate` over
  the full vocabulary with no KV cache, then `parse_step` (its text may not parse: counted);
- the split of the optimised path's first pass into encoders (features + encoders +
  sentence), the forward pass over the prompt after the cached instruction (prefill) and the
  constrained decoding after it; and how many decisions were close calls, re-decided;
- the optimised latency as the scene grows (`bench.objects`), pooled over `bench.scene_seeds`
  scenes per size (each seed's task and instruction, with more distractors); a seed's sizes
  take turns decision by decision, so the machine's drift does not bias their ratio;
- agreement: on every benchmark observation, and on the first scene of every task family for
  `bench.agreement_seeds` seeds from 1000, the optimised planner's step equals
  `reference_decode`'s on the model as trained (float32, full vocabulary, no cache, every
  branching point recomputed, LoRA unmerged).

Timings run in one spawned process; the planner's peak RSS is measured in another that only
loads the planner and decides (the naive path's full-vocabulary LM head reads the whole
embedding table, which the planner never does).
"""

from __future__ import annotations

import resource
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import TYPE_CHECKING

from embodied_mm.bench.stats import interleaved_timings, summarize_ms
from embodied_mm.config.schema import Config
from embodied_mm.types import Observation

if TYPE_CHECKING:
    from embodied_mm.tasks.base import Episode
    from embodied_mm.tasks.specs import ObjectSpec

SCENE_TASK = "pick_place"  # scenes of the requested sizes are this family's plus distractors


def observations(cfg: Config, sizes: list[int], images: bool, scene_seeds: int = 1,
                 agreement_seeds: int = 0) -> tuple[list[tuple[str, Observation]], ...]:
    """(instruction, first observation) of `scene_seeds` sim scenes (seeds from 1000) with each
    number of objects (more distractors, the same task and instruction per seed); and of the
    first scene of every task family for `agreement_seeds` seeds from 1000."""
    from embodied_mm.robots.base import RobotLimits
    from embodied_mm.tasks import TASKS
    from sim.camera import CameraConfig
    from sim.robot import SimRobot
    from sim.world import TabletopWorld

    family = TASKS[SCENE_TASK]
    base = len(family.sample(0).scene)
    camera = CameraConfig(width=cfg.robot.camera.width, height=cfg.robot.camera.height)
    sized, varied = [], []
    # per seed one task and instruction, on the largest scene cut down: the distractors alone
    # grow, so a seed's sizes share the instruction's cached prefix and take turns
    largest = [family.sample(seed, n_distractors=max(0, max(sizes) - base))
               for seed in range(1000, 1000 + scene_seeds)]
    with TabletopWorld(camera=camera) as world, SimRobot(world, RobotLimits()) as robot:
        for n in sizes:
            for episode in largest:
                world.reset(_first_objects(episode, n))
                sized.append((episode.instruction, robot.get_observation(images=images)))
        for task in TASKS.values():
            for seed in range(1000, 1000 + agreement_seeds):
                episode = task.sample(seed)
                world.reset(episode.scene)
                varied.append((episode.instruction, robot.get_observation(images=images)))
    return sized, varied


def _first_objects(episode: Episode, n: int) -> tuple[ObjectSpec, ...]:
    """`episode`'s scene cut to `n` objects: its goal objects and the distractors first in it."""
    goal = {name for value in episode.goal.values()
            for name in ([value] if isinstance(value, str) else value)}
    distractors = n - len(goal)
    kept = []
    for name, spec in zip(episode.object_names, episode.scene):
        if name not in goal:
            if distractors == 0:
                continue
            distractors -= 1
        kept.append(spec)
    return tuple(kept)


def _checkpoint(cfg: Config):
    """The directory of `planner.checkpoint`, or None when there is no checkpoint there."""
    from embodied_mm.model.palme import CheckpointError, read_checkpoint_config
    from embodied_mm.planner.base import PlannerError
    from embodied_mm.planner.palme import resolve_checkpoint

    try:
        path = resolve_checkpoint(cfg.planner.checkpoint)
        read_checkpoint_config(path)
    except (PlannerError, CheckpointError):
        return None
    return path


def _load_model(cfg: Config):
    """The checkpoint `planner.checkpoint` if there is one, else untrained encoders on the
    configured LLM (latency does not depend on the trained weights); and which it was."""
    from embodied_mm.model.palme import PalmE
    from embodied_mm.train import model_config

    path = _checkpoint(cfg)
    if path is None:
        return PalmE(model_config(cfg)), f"untrained encoders on {cfg.model.llm}"
    return PalmE.from_checkpoint(path), str(path)


def _naive_step(model, embeds, names: list[str]) -> str | None:
    """Full-vocabulary `generate` without a KV cache, then parse; None if it does not parse."""
    import torch

    from embodied_mm.plan_language import PlanError, parse_step

    ones = torch.ones(embeds.shape[:2], dtype=torch.long)
    out = model.llm.generate(inputs_embeds=embeds, attention_mask=ones, max_new_tokens=12,
                             do_sample=False, use_cache=False, eos_token_id=model.terminator,
                             pad_token_id=model.terminator)
    text = model.tokenizer.decode(out[0], skip_special_tokens=True).strip()
    try:
        return str(parse_step(text, names))
    except PlanError:
        return None


def _planner(cfg: Config, model):
    from embodied_mm.planner.palme import PalmePlanner

    return PalmePlanner(model, fast_dtype=cfg.planner.fast_dtype,
                        verify_margin=cfg.planner.verify_margin,
                        feasible_only=cfg.planner.feasible_only,
                        cannot_bias=cfg.planner.cannot_bias)


def _run(cfg: Config, sized: list[tuple[str, Observation]],
         varied: list[tuple[str, Observation]]) -> dict:
    import torch

    from embodied_mm.model.decoding import reference_decode
    from embodied_mm.planner.palme import PalmePlanner

    torch.set_num_threads(cfg.train.num_threads)
    b = cfg.bench
    started = time.perf_counter()
    model, source = _load_model(cfg)
    load_s = time.perf_counter() - started
    # Before the planner optimises the model (LoRA merge): the naive path as trained, and the
    # steps the unoptimised constrained decoder chooses, which the planner must reproduce.
    planner = PalmePlanner(model, merge_lora=False, fast_dtype=None,
                           feasible_only=cfg.planner.feasible_only,
                           cannot_bias=cfg.planner.cannot_bias)
    reference = []
    for instruction, obs in sized + varied:
        planner.reset(instruction)
        reference.append(reference_decode(planner.decoder, planner.prompt_embeds(obs, []),
                                          planner.scope(obs)))
    # the naive path on the same smallest scenes as the headline figure, in turn
    smallest = [scene for scene in sized if len(scene[1].objects) == len(sized[0][1].objects)]
    naive_times, naive_rows = [], []
    for i in range(b.naive_repeats):
        instruction, obs = smallest[i % len(smallest)]
        planner.reset(instruction)
        start = time.perf_counter()
        embeds = planner.prompt_embeds(obs, [])
        naive_rows.append(_naive_step(model, embeds, obs.object_names))
        naive_times.append(time.perf_counter() - start)
    planner = _planner(cfg, model)
    first_pass = planner.fast_decoder or planner.decoder
    by_size, split = defaultdict(list), {"encoders": [], "prefill": [], "decode": []}
    by_instruction = defaultdict(list)  # a seed's scenes of every size share its instruction
    for instruction, obs in sized:
        by_instruction[instruction].append(obs)
    for instruction, scenes in by_instruction.items():  # sizes in turn; pooled over seeds
        planner.reset(instruction)
        decisions = [lambda o=obs: planner.next_step(o, []) for obs in scenes]
        for obs, times in zip(scenes, interleaved_timings(decisions, b.repeats, b.warmup)):
            by_size[len(obs.objects)] += times
    for instruction, obs in sized:
        planner.reset(instruction)
        for _ in range(b.repeats):
            start = time.perf_counter()
            embeds = planner.prompt_embeds(obs, [])
            split["encoders"].append(time.perf_counter() - start)
            planner.decode_with(first_pass, embeds, planner.scope(obs))
            split["prefill"].append(first_pass.last_timing["prefill_s"])
            split["decode"].append(first_pass.last_timing["decode_s"])
    planner.decisions = planner.rechecked = 0
    agree = []
    for (instruction, obs), expected in zip(sized + varied, reference):
        planner.reset(instruction)
        agree.append(planner.next_step(obs, []) == expected)
    by_size = {n: summarize_ms(times) for n, times in by_size.items()}
    optimised = by_size[len(sized[0][1].objects)]
    naive = summarize_ms(naive_times)
    sizes = sorted(by_size)
    return {
        "model": source, "model_load_s": round(load_s, 2),
        "decision": {"optimised": optimised, "naive": naive,
                     "speedup": round(naive["median_ms"] / optimised["median_ms"], 1),
                     "objects": len(sized[0][1].objects),
                     "naive_parsed": sum(r is not None for r in naive_rows) / len(naive_rows)},
        "fast_dtype": cfg.planner.fast_dtype if planner.fast_decoder else None,
        "split": {part: summarize_ms(times) for part, times in split.items()},
        "by_objects": {str(n): by_size[n] for n in sizes},
        "largest_vs_smallest": round(by_size[sizes[-1]]["median_ms"]
                                     / by_size[sizes[0]]["median_ms"], 2),
        "same_steps_as_reference": f"{sum(agree)}/{len(agree)}",
        "rechecked": f"{planner.rechecked}/{planner.decisions}",
    }


def _planner_peak_rss(cfg: Config, scenes: list[tuple[str, Observation]]) -> float:
    """MB: peak RSS of a process that loads the planner and decides each scene once."""
    import torch

    torch.set_num_threads(cfg.train.num_threads)
    planner = _planner(cfg, _load_model(cfg)[0])
    for instruction, obs in scenes:
        planner.reset(instruction)
        planner.next_step(obs, [])
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bench_planner(cfg: Config) -> dict:
    """The planner benchmarks (see the module doc), measured in fresh spawned processes."""
    from embodied_mm.model.palme import read_checkpoint_config
    from embodied_mm.train import model_config

    path = _checkpoint(cfg)
    images = (model_config(cfg) if path is None else read_checkpoint_config(path)).needs_images
    sized, varied = observations(cfg, sorted(set(cfg.bench.objects)), images,
                                 cfg.bench.scene_seeds, cfg.bench.agreement_seeds)
    context = get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        result = pool.submit(_run, cfg, sized, varied).result()
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        result["peak_rss_mb"] = pool.submit(_planner_peak_rss, cfg, sized + varied).result()
    return result
