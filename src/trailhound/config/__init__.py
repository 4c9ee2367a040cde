"""A user's `trailhound.toml`: which rules run and how, where state lives, where alerts go.

`load_config` reads and checks the file (see `trailhound.config.model` for every key);
`Config.apply` turns the loaded rules into the ones to run, `Config.build_outputs` makes the
outputs. Every problem is a ConfigError located at its key's line in the file.
"""

from trailhound.config.load import (
    CheckReport,
    check_config,
    default_config_path,
    load_config,
    problems_of,
    read_config,
)
from trailhound.config.model import Config, ConfigProblems, is_secret, masked
from trailhound.config.overrides import RuleOverride, SuppressionOverride

__all__ = [
    "CheckReport",
    "Config",
    "ConfigProblems",
    "RuleOverride",
    "SuppressionOverride",
    "check_config",
    "default_config_path",
    "is_secret",
    "load_config",
    "masked",
    "problems_of",
    "read_config",
]
