"""Configuration: typed schemas and the Hydra compose-API loader."""

from embodied_mm.config.load import load_config
from embodied_mm.config.schema import Config, ConfigError

__all__ = ["Config", "ConfigError", "load_config"]
