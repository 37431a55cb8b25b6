"""What `embodied-mm <command> --help` and `--cfg` show: the config groups with their options
and keys, and the composed configuration as YAML (Hydra's `--cfg job`).

Example:
    embodied-mm run task=stack seed=3 --cfg     # the configuration `run` would use
    embodied-mm eval --help                     # groups, options and keys
"""

from __future__ import annotations

import textwrap
from dataclasses import fields, is_dataclass

from omegaconf import OmegaConf

from embodied_mm.config.schema import Config
from embodied_mm.paths import config_dir


def group_keys() -> dict[str, list[str]]:
    """Each config group of `Config` (`task`, `planner`, …) -> its keys, in schema order."""
    return {f.name: [k.name for k in fields(f.default_factory)] for f in fields(Config)
            if callable(f.default_factory) and is_dataclass(f.default_factory)}


def group_options() -> dict[str, list[str]]:
    """Each config group with YAML options under `configs/<group>/` -> the option names."""
    directory = config_dir()
    return {group: sorted(p.stem for p in (directory / group).glob("*.yaml"))
            for group in group_keys() if (directory / group).is_dir()}


def help_epilog() -> str:
    """The `--help` text listing groups, options and keys."""
    options = group_options()
    lines = ["config groups: choose an option with group=option, set a key with",
             "group.key=value; --cfg prints every value."]
    for group, keys in group_keys().items():
        choice = f"options {', '.join(options[group])}" if group in options else "(no options)"
        lines += _wrapped(f"  {group}: ", choice)
        lines += _wrapped("      keys ", ", ".join(keys))
    top = [f.name for f in fields(Config) if f.name not in group_keys()]
    lines += _wrapped("  top-level keys: ", ", ".join(top))
    return "\n".join(lines)


def _wrapped(first: str, text: str, width: int = 92) -> list[str]:
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=" " * 11,
                         break_on_hyphens=False)


def composed_yaml(cfg: Config) -> str:
    """`cfg` as YAML, every key with its value after composition and overrides."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))
