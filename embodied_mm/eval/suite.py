"""Which episodes an evaluation runs: task families × seeds, or a suite file.

A suite file is YAML or JSON: a list of entries (or `{episodes: [...]}`), each with `task` and
`seed`, optionally `instruction`, `n_distractors` and `template_id`:

    - {task: stack, seed: 3}
    - {task: pick_place, seed: 7, n_distractors: 4}
    - {task: pick_place, seed: 8, instruction: "put the red block in the blue bowl"}

Every entry is checked before any episode runs; a bad file or entry is a `ConfigError` naming
the file and the entry (YAML nested too deeply, seeds outside 0..2**32-1, too many
distractors, a non-text instruction).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from embodied_mm.config.schema import Config, ConfigError
from embodied_mm.eval.rollout import EpisodeSpec

SUITE_KEYS = {"task", "seed", "instruction", "n_distractors", "template_id"}
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_DISTRACTORS = 20  # more objects than the table holds: the scene sampler gives up anyway
MAX_INSTRUCTION = 500  # characters, as the operator console allows


def episodes_for(cfg: Config) -> list[EpisodeSpec]:
    """The episodes `cfg` asks for: `eval.suite` if set, else tasks × `eval.episodes` seeds."""
    from embodied_mm.tasks import TASKS

    if cfg.eval.suite:
        return load_suite(cfg.eval.suite, TASKS)
    names = list(TASKS) if cfg.task.name == "all" else [cfg.task.name]
    return [EpisodeSpec(name, cfg.eval.seed + i, None, cfg.task.n_distractors,
                        cfg.task.template_id, cfg.task.language, cfg.task.absent)
            for name in names for i in range(cfg.eval.episodes)]


def load_suite(path: str | Path, tasks) -> list[EpisodeSpec]:
    """Reads a suite file; raises ConfigError naming the file and the bad entry."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"eval.suite: no such file {path}")
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))  # JSON is valid YAML
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML/JSON: {str(err).splitlines()[0]}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from None
    if isinstance(data, dict):
        data = data.get("episodes")
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: expected a non-empty list of episodes")
    specs = []
    for i, entry in enumerate(data):
        where = f"{path}: episode {i + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping with task and seed")
        unknown = set(entry) - SUITE_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                              f"allowed: {', '.join(sorted(SUITE_KEYS))}")
        if not isinstance(entry.get("task"), str) or entry["task"] not in tasks:
            raise ConfigError(f"{where}: unknown task {entry.get('task')!r}; "
                              f"choose one of: {', '.join(tasks)}")
        seed = entry.get("seed")
        if not _integer(seed) or not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"{where}: seed must be an integer in 0..{MAX_SEED}")
        n_distractors = entry.get("n_distractors", 0)
        if not _integer(n_distractors) or not 0 <= n_distractors <= MAX_DISTRACTORS:
            raise ConfigError(f"{where}: n_distractors must be an integer in "
                              f"0..{MAX_DISTRACTORS}")
        template_id = entry.get("template_id")
        if template_id is not None and not _integer(template_id):
            raise ConfigError(f"{where}: template_id must be an integer")
        instruction = entry.get("instruction")
        if instruction is not None and not isinstance(instruction, str):
            raise ConfigError(f"{where}: instruction must be text")
        if instruction is not None and not instruction.strip():
            raise ConfigError(f"{where}: instruction is empty")
        if instruction is not None and len(instruction) > MAX_INSTRUCTION:
            raise ConfigError(f"{where}: instruction longer than {MAX_INSTRUCTION} characters")
        specs.append(EpisodeSpec(entry["task"], seed, instruction, n_distractors, template_id))
    return specs


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
