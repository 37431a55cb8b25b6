"""Builds a typed `Config` from `key=value` overrides with Hydra's compose API.

The compose API (not `@hydra.main`) is used everywhere, so the same loader serves the CLI and
ROS 2 nodes (where `--ros-args` would break `@hydra.main`). Hydra's multi-line errors are turned
into one line naming the bad key or option.

Example:
    >>> cfg = load_config(["task=stack", "seed=3"])
    >>> cfg.task.name, cfg.seed
    ('stack', 3)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from embodied_mm.config.schema import Config, ConfigError
from embodied_mm.paths import config_dir


def load_config(overrides: Sequence[str] = ()) -> Config:
    """Composes `configs/config.yaml` with `overrides` and validates it.

    Raises:
        ConfigError: naming the unknown key, unknown option or bad value.
    """
    directory = config_dir()
    overrides = [_quote_free_text(item) for item in overrides]
    try:
        with initialize_config_dir(config_dir=str(directory), version_base=None):
            raw = compose(config_name="config", overrides=list(overrides))
    except MissingConfigException as err:
        raise ConfigError(_missing_option_message(str(err), directory)) from None
    except ConfigCompositionException as err:
        raise ConfigError(_composition_message(err)) from None
    except Exception as err:  # Hydra's override grammar errors have several types
        raise ConfigError(f"bad override: {str(err).splitlines()[0]}") from None
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Config), raw)
        return OmegaConf.to_object(merged)
    except ConfigError:
        raise
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        if "not in struct" in str(err) or "Key '" in str(err) and "not in" in str(err):
            raise ConfigError(f"unknown config key {key!r}") from None
        raise ConfigError(f"bad value for {key}: {str(err).splitlines()[0]}") from None
    except ValueError as err:  # a group's own dataclass (e.g. `PalmEConfig`) names the key
        raise ConfigError(str(err)) from None


# Keys whose values are free text (commas, parentheses, quotes): quoted before Hydra parses
# them, so `instruction=put the red, green and blue blocks...` needs no shell gymnastics.
FREE_TEXT_KEYS = ("instruction", "planner.steps")


def _quote_free_text(item: str) -> str:
    if "=" not in item:
        raise ConfigError(f"expected key=value, got {item!r}")
    key, value = item.split("=", 1)
    if key.lstrip("+~") not in FREE_TEXT_KEYS or value[:1] in ("'", '"') or value == "null":
        return item
    return f"{key}='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _missing_option_message(text: str, directory) -> str:
    match = re.search(r"Could not find '([^/']+)/([^']+)'", text)
    if not match:
        return text.splitlines()[0]
    group, option = match.groups()
    options = sorted(p.stem for p in (directory / group).glob("*.yaml"))
    return f"unknown {group} {option!r}; choose one of: {', '.join(options)}"


def _composition_message(err: Exception) -> str:
    text = str(err)
    cause = str(err.__cause__ or "")
    match = re.search(r"Could not override '([^']+)'", text)
    if match and ("not in struct" in cause or "Key" in cause):
        # The innermost key that is unknown, e.g. `train.task_weights.juggle` for
        # `train.task_weights={juggle:2}`.
        key = getattr(err.__cause__, "full_key", None) or match.group(1)
        return f"unknown config key {key!r}"
    return (text + " " + cause).strip().splitlines()[0]
