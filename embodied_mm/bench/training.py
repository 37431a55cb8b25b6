"""Training throughput of the configured model (`model`, real LLM): samples/s in float32 and
under bf16 autocast, the same batch of sim samples, optimizer step included."""

from __future__ import annotations

import time

from embodied_mm.bench.planner import observations
from embodied_mm.config.schema import Config

BATCH = 4  # samples per step: small, because emulated bf16 is very slow on AVX2-only CPUs


def bench_training(cfg: Config) -> dict:
    """fp32 vs bf16-autocast training samples/s (median step; `bench.train_steps` timed)."""
    import numpy as np
    import torch

    from embodied_mm.model.features import extract
    from embodied_mm.model.language_model import native_bf16
    from embodied_mm.model.palme import PalmE, Sample, collate_samples
    from embodied_mm.train import model_config

    torch.set_num_threads(cfg.train.num_threads)
    model_cfg = model_config(cfg)
    scenes, _ = observations(cfg, [3, 4], images=model_cfg.needs_images)
    samples = [Sample(extract(obs, images=model_cfg.needs_images), instruction, [],
                      "pick(obj_1)") for instruction, obs in scenes] * (BATCH // 2)
    batch = collate_samples(samples)
    model = PalmE(model_cfg).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    out = {"batch": BATCH, "native_bf16": native_bf16()}
    for name, enabled in (("fp32", False), ("bf16", True)):
        steps = cfg.bench.train_steps if enabled is False or native_bf16() else 1
        times = []
        for i in range(1 + steps):  # the first step warms up
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
                loss = model(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if i:
                times.append(time.perf_counter() - start)
        out[f"{name}_samples_per_s"] = round(BATCH / float(np.median(times)), 2)
    out["bf16_vs_fp32"] = round(out["bf16_samples_per_s"] / out["fp32_samples_per_s"], 3)
    return out
