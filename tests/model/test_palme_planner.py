"""PalmePlanner: checkpoint loading, valid steps on observations, and the real Gemma 3 270M."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from embodied_mm.config.schema import PlannerConfig
from embodied_mm.model.language_model import ReducedPrecisionLM, native_bf16
from embodied_mm.plan_language import parse_step
from embodied_mm.planner.base import PlannerError
from embodied_mm.planner.palme import PalmePlanner


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(PlannerError, match="no PaLM-E checkpoint at .*nowhere"):
        PalmePlanner.from_config(PlannerConfig(name="palme", checkpoint=str(missing)))
    with pytest.raises(PlannerError, match="no PaLM-E checkpoint"):  # a directory, but empty
        PalmePlanner.from_config(PlannerConfig(name="palme", checkpoint=str(tmp_path)))


@pytest.mark.parametrize("inputs", [("objects", "robot"), ("state", "robot")])
def test_planner_from_checkpoint_plans_valid_steps(make_model, make_obs, tmp_path, inputs):
    make_model(inputs=inputs).save(tmp_path)
    cfg = PlannerConfig(name="palme", checkpoint=str(tmp_path), device="cpu")
    planner = PalmePlanner.from_config(cfg)
    assert planner.needs_images == (inputs[0] == "objects")
    planner.reset("put the red block in the blue bowl")
    for seed in range(3):
        obs = make_obs(seed + 2, seed=seed)
        if not planner.needs_images:
            obs.rgb = obs.segmentation = None  # what the executor sends without images
        assert parse_step(planner.next_step(obs, []), obs.object_names)


def test_instruction_prefix_cache_changes_speed_not_answers(make_model, make_obs, tmp_path):
    from embodied_mm.model.decoding import reference_decode

    make_model(inputs=("state", "robot"), seed=3).save(tmp_path)
    planner = PalmePlanner.from_config(PlannerConfig(name="palme", checkpoint=str(tmp_path)))
    planner.reset("put the red block in the blue bowl")
    prefix, _ = planner.prefix_cache()
    assert len(prefix) > 8  # BOS + the whole `Task:` clause
    for seed in range(4):
        obs = make_obs(3, seed=seed)
        obs.rgb = obs.segmentation = None
        full = planner.prompt_embeds(obs, [])
        calls = _forward_calls(planner)
        step = planner.next_step(obs, [])
        assert step == reference_decode(planner.decoder, full, planner.scope(obs))
        assert _forward_calls(planner) > calls
    empty = make_obs(0, seed=9)  # every object gone (e.g. removed by a perturbation)
    empty.rgb = empty.segmentation = None
    assert parse_step(planner.next_step(empty, []), [])
    planner.reset("stack the blocks")  # another instruction: another prefix
    assert len(planner.prefix_cache()[0]) != len(prefix)


def _forward_calls(planner: PalmePlanner) -> int:
    fast = planner.fast_decoder.forward_calls if planner.fast_decoder else 0
    return planner.decoder.forward_calls + fast


needs_bf16 = pytest.mark.skipif(not native_bf16(), reason="this CPU has no native bf16")


@needs_bf16
def test_reduced_precision_copy_shares_embeddings_and_leaves_the_model_alone(make_model):
    model = make_model(inputs=("state", "robot"))
    fast = ReducedPrecisionLM(model)
    decoder = model.llm.get_decoder()
    assert fast.body.embed_tokens is None and decoder.embed_tokens is not None
    assert {p.dtype for p in fast.body.layers.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in decoder.layers.parameters()} == {torch.float32}
    assert len(decoder.layers) == len(fast.body.layers)
    embeds = model.embed_tokens(torch.arange(3, 40))[None]
    exact, approx = model.hidden_states(embeds)[0], fast.hidden_states(embeds)[0]
    assert approx.dtype == torch.bfloat16
    torch.testing.assert_close(approx.float(), exact, atol=0.1 * exact.abs().max().item(),
                               rtol=0.05)


@needs_bf16
def test_fast_path_rechecks_close_calls_and_keeps_the_exact_answers(make_model, make_obs,
                                                                   tmp_path):
    from embodied_mm.model.decoding import reference_decode

    make_model(inputs=("state", "robot"), seed=5).save(tmp_path)
    cfg = PlannerConfig(name="palme", checkpoint=str(tmp_path))
    planner = PalmePlanner.from_config(cfg)
    assert planner.fast_decoder is not None
    planner.reset("put the red block in the blue bowl")
    observations = [make_obs(n, seed=seed) for n in (2, 3, 4) for seed in range(3)]
    for obs in observations:
        obs.rgb = obs.segmentation = None
        expected = reference_decode(planner.decoder, planner.prompt_embeds(obs, []),
                                    planner.scope(obs))
        assert planner.next_step(obs, []) == expected
    assert planner.decisions == len(observations)
    # every call is close under an infinite margin: the model itself decides each time
    cautious = PalmePlanner.from_config(dataclasses.replace(cfg, verify_margin=float("inf")))
    cautious.reset("put the red block in the blue bowl")
    exact_calls = cautious.decoder.forward_calls
    for obs in observations[:3]:
        cautious.next_step(obs, [])
    assert cautious.rechecked == 3 and cautious.decoder.forward_calls > exact_calls
    # and none is under a zero margin: the model's own decoder never runs
    trusting = PalmePlanner.from_config(dataclasses.replace(cfg, verify_margin=0.0))
    trusting.reset("put the red block in the blue bowl")
    for obs in observations[:3]:
        assert parse_step(trusting.next_step(obs, []), obs.object_names)
    assert trusting.rechecked == 0 and trusting.decoder.forward_calls == 0


def test_no_fast_path_when_switched_off(make_model, tmp_path):
    make_model(inputs=("state", "robot")).save(tmp_path)
    cfg = PlannerConfig(name="palme", checkpoint=str(tmp_path), fast_dtype=None)
    assert PalmePlanner.from_config(cfg).fast_decoder is None


@pytest.mark.slow
@pytest.mark.sim
def test_shipped_checkpoint_on_the_real_gemma_plans_real_episodes():
    """`planner=palme` with no options: the shipped checkpoint on the embedded Gemma 3 270M
    plans closed-loop sim episodes it was not trained on (seeds from 1000) to success."""
    from embodied_mm.eval.rollout import EpisodeRunner, EpisodeSpec

    planner = PalmePlanner.from_config(PlannerConfig(name="palme"))
    assert planner.model.llm.config.hidden_size == 640  # the real model, not `tiny`
    with EpisodeRunner(planner, max_steps=8) as runner:
        reports = [runner.run(EpisodeSpec(task, 1000 + i)) for task in ("pick_place", "stack")
                   for i in range(2)]
    for report in reports:
        assert all(parse_step(step) for step in report.steps)
    assert sum(r.success for r in reports) >= 3, [(r.instruction, r.steps) for r in reports]


def test_cannot_bias_reaches_both_decoders(make_model, make_obs, tmp_path):
    """`planner.cannot_bias` applies to the fast decoder (where the CPU has native bf16) and
    to the exact one alike."""
    make_model(inputs=("state", "robot")).save(tmp_path)
    cfg = PlannerConfig(name="palme", checkpoint=str(tmp_path))
    for bias, refuses in ((-1e4, True), (1e4, False)):
        planner = PalmePlanner.from_config(dataclasses.replace(cfg, cannot_bias=bias))
        planner.reset("put the red block in the blue bowl")
        for seed in range(3):
            obs = make_obs(3, seed=seed)
            obs.rgb = obs.segmentation = None
            assert (planner.next_step(obs, []) == "cannot()") == refuses


def test_a_checkpoint_decodes_with_its_own_cannot_bias_unless_overridden(make_model, make_obs,
                                                                          tmp_path):
    """`model.cannot_bias` travels in `config.json`: a planner with `planner.cannot_bias=null`
    (the default) decodes with the checkpoint's, and an explicit value overrides it."""
    make_model(inputs=("state", "robot"), cannot_bias=-1e4).save(tmp_path)
    cfg = PlannerConfig(name="palme", checkpoint=str(tmp_path))
    assert cfg.cannot_bias is None
    for override, refuses in ((None, True), (0.0, None), (1e4, False)):
        planner = PalmePlanner.from_config(dataclasses.replace(cfg, cannot_bias=override))
        assert planner.decoder.cannot_bias == (-1e4 if override is None else override)
        if refuses is None:
            continue
        planner.reset("put the red block in the blue bowl")
        obs = make_obs(3, seed=0)
        obs.rgb = obs.segmentation = None
        assert (planner.next_step(obs, []) == "cannot()") == refuses
