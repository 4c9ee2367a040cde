"""The typed configuration: what one `trailhound.toml` asks for, checked and with paths resolved.

The file lives at `$XDG_CONFIG_HOME/trailhound/trailhound.toml` (by default
`~/.config/trailhound/trailhound.toml`); `--config FILE` names another. Every key is optional, and
a key trailhound does not know is an error, so that a typo never passes silently. Relative paths
resolve against the folder holding the file, and `~` expands to your home folder.

    [rules]
    paths = ["rules/", "extra.toml"]   # rule files and folders (folders searched for *.toml)
    pack = true                        # also run the shipped DynamoDB pack; false drops it
    disabled = ["AWS DynamoDB Table Scanned", "<rule_id>"]   # rules not to run
    enabled = ["AWS DynamoDB Multiple Tables Deleted"]       # allow-list: only these run
    exceptions = ["exceptions.toml"]   # exceptions files: events to excuse, per rule or for all

    [rules.overrides."AWS DynamoDB Multiple Tables Deleted"]  # a rule's name or its rule_id
    severity = "critical"    # low, medium, high or critical
    risk_score = 90          # 0 to 100
    threshold = 8            # threshold rules: how many events make an alert
    window = "15m"           # threshold rules: the sliding window they must fall in
    history_window = "30d"   # new_terms rules: how far back a term counts as seen ("now-30d" too)
    learning_period = "72h"  # new_terms rules: record terms but do not alert at first
    min_count = 500          # baseline rules: the least count that may alert (and factor,
                             # deviations, min_history; window and history_window too)
    parameters = { decoy_tables = ["payroll-archive"] }   # the values of a rule's parameters
    suppression = { group_by = ["user.name"], duration = "1h", missing_fields = "suppress" }
    max_signals = 200        # most alerts per rule and run
    enabled = false          # switch this one rule off (or back on)

    [state]
    path = "~/trailhound/state.duckdb"   # default: $XDG_STATE_HOME/trailhound/state.duckdb

    [sources.org-trail]                  # what `trailhound watch` follows by default
    bucket = "my-cloudtrail-bucket"
    prefix = "org/"
    interval = "5m"

    [outputs.oncall]                     # one table per output; the name is yours
    type = "pagerduty"
    routing_key_env = "PD_ROUTING_KEY"
    min_severity = "high"

    [outputs.hook]
    type = "webhook"
    url = "http://127.0.0.1:8080/alerts"

`[rules]`
- `paths`: rule files and folders to load. Empty or absent: only the shipped pack.
- `pack` (default true): keep the shipped pack in addition to `paths`. `pack = false` with no
  `paths` would leave no rule at all, and is an error.
- `disabled`: rule names or rule_ids that do not run.
- `enabled`: when given, only the rules named here run (even one its file switches off); every
  other rule is switched off. `disabled` and an override's `enabled` still apply on top.
- `exceptions`: exceptions files, in the format `trailhound scan --exceptions` reads.
- Every name in `disabled`, `enabled` and `overrides` must name a loaded rule.

`[rules.overrides."NAME"]`, one table per rule, keyed by the rule's name or rule_id:
- `severity`, `risk_score`, `max_signals`, `enabled`: replace the rule's own.
- `threshold`, `window`: a threshold rule's value and window (durations such as "90s", "15m",
  "2h", "14d", "2w"). An error on any other type of rule.
- `history_window`, `learning_period`: a new_terms rule's; an error on any other type.
- `window`, `history_window`, `min_count`, `factor`, `deviations`, `min_history`: a baseline
  rule's window, history, least count, multiple of its mean, standard deviations above its
  mean, and warm-up.
- `parameters`: a table of the rule's parameters (`[[rule.parameters]]` in its file), each a
  list of values: `parameters = { decoy_tables = ["payroll-archive", "hr-*"] }`. A rule whose
  parameter is empty is not configured and does not run. A name the rule lacks is an error.
- `suppression`: one alert per group and duration, the rest counted. A table with `group_by`
  (1 to 3 fields), `duration` (absent: per run) and `missing_fields` ("suppress", the default,
  or "doNotSuppress"); keys left out keep the rule's own suppression. A threshold rule
  suppresses per threshold group, so give it only `duration`. `suppression = false` removes
  the rule's suppression. Sequence rules have none.

`[state]`
- `path`: the state file (terms seen, open windows, alerts already sent).

`[sources.NAME]`: what `trailhound watch` follows when its command line names no SOURCE.
- one of `path` (a folder), `bucket` (with an optional `prefix`: an S3 bucket in CloudTrail's
  layout) or `queue` (an SQS queue's name or URL, fed with S3 or EventBridge notifications).
- `interval`: how often to look (a duration, default "5m"); `--interval` overrides it.

`[outputs.NAME]`: where alerts go, one table per destination.
- `type`: stdout, jsonl, json, slack, pagerduty or webhook; the other keys are the type's own.
- `min_severity`: the least severe alert sent there (low, the default, to critical).
- A secret (`url`, `routing_key`, `token`, `password`, `secret`, or any `*_key`, `*_token`,
  `*_secret`) may be written inline, or as `KEY_env = "VARIABLE"` (read from the environment)
  or `KEY_file = "path"` (read from a file). `trailhound config show` masks secrets as "***".
- Options named `path`, `*_path` or `*_file` are paths, resolved like every other path here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from trailhound.config.overrides import RuleOverride, apply_overrides, key_text
from trailhound.errors import ConfigError, TrailhoundError
from trailhound.rules.duration import format_duration
from trailhound.rules.toml_reader import KeyPath

if TYPE_CHECKING:
    from trailhound.outputs.base import Output
    from trailhound.rules.model import Rule, RuleException

# Where a key path sits in the file, as (line, column); (None, None) when unknown.
Locate = Callable[[KeyPath], tuple[int | None, int | None]]

_SECRET_NAMES = frozenset({"url", "routing_key", "secret", "token", "password", "authorization"})
_SECRET_ENDINGS = ("_key", "_token", "_secret")
MASK = "***"


def is_secret(option: str) -> bool:
    """Whether an output option holds a secret itself (its `_env`/`_file` forms hold a name)."""
    name = option.lower().replace("-", "_")  # header names (X-Api-Token) count too
    return name in _SECRET_NAMES or name.endswith(_SECRET_ENDINGS)


def masked(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options with every secret value replaced by "***", in nested tables too."""
    shown: dict[str, Any] = {}
    for key, value in options.items():
        if is_secret(key):
            shown[key] = MASK
        elif isinstance(value, Mapping):
            shown[key] = masked(value)
        else:
            shown[key] = value
    return shown


def located_error(source: Path | None, locate: Locate, path: KeyPath, message: str) -> ConfigError:
    """A ConfigError at the key `path` of the file `source`, its message led by the key."""
    line, column = locate(path)
    key = key_text(path)
    where = None if source is None else str(source)
    return ConfigError(f"{key}: {message}" if key else message, where=where, line=line,
                       column=column)  # fmt: skip


def _nowhere(path: KeyPath) -> tuple[int | None, int | None]:
    return None, None


class ConfigProblems(ConfigError):
    """Every problem found, raised as one error that reads (and locates) as the first."""

    def __init__(self, problems: Sequence[TrailhoundError]) -> None:
        first = problems[0]
        more = len(problems) - 1
        suffix = f" (and {more} more; see trailhound config check)" if more else ""
        super().__init__(
            first.message + suffix, where=first.where, line=first.line, column=first.column
        )
        self.problems: tuple[TrailhoundError, ...] = tuple(problems)


def raise_all(problems: Sequence[TrailhoundError]) -> None:
    if problems:
        raise ConfigProblems(problems)


class SourceConfig(Struct, frozen=True):
    """A `[sources.NAME]` table: what `trailhound watch` follows when given no SOURCE."""

    name: str
    spec: str  # a folder path, s3://bucket/prefix or sqs://queue (or a queue URL)
    interval: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """A read configuration. The empty Config is every default: the shipped pack, no outputs."""

    source: Path | None = None  # the file read; None when none was
    rule_paths: tuple[Path, ...] = ()
    pack: bool = True
    enabled: tuple[str, ...] | None = None  # None: no allow-list, every rule runs
    disabled: tuple[str, ...] = ()
    exception_files: tuple[Path, ...] = ()
    overrides: Mapping[str, RuleOverride] = field(default_factory=lambda: MappingProxyType({}))
    state_path: Path | None = None  # None: the default state file
    outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    sources: Mapping[str, SourceConfig] = field(default_factory=lambda: MappingProxyType({}))
    locate: Locate = field(default=_nowhere, compare=False, repr=False)

    def error(self, path: KeyPath, message: str) -> ConfigError:
        """A ConfigError at the key `path`, its message led by the key as the file spells it."""
        return located_error(self.source, self.locate, path, message)

    def rule_sources(self) -> list[Path]:
        """The rule files and folders to load: `paths`, then the shipped pack if kept."""
        from trailhound.rules.loader import shipped_pack_dir  # the loader pulls in the parser

        return [*self.rule_paths, *([shipped_pack_dir()] if self.pack else [])]

    def try_apply(self, rules: Sequence[Rule]) -> tuple[list[Rule], list[ConfigError]]:
        """`apply` that returns every problem instead of raising."""
        return apply_overrides(
            rules,
            enabled=self.enabled,
            disabled=self.disabled,
            overrides=self.overrides,
            fail=self.error,
        )

    def apply(self, rules: Sequence[Rule]) -> list[Rule]:
        """The rules with `enabled`, `disabled` and the overrides applied; a rule switched off
        stays in the list with `enabled = False`. Raises ConfigProblems."""
        applied, problems = self.try_apply(rules)
        raise_all(problems)
        return applied

    def try_build_outputs(self) -> tuple[list[Output], list[ConfigError]]:
        """`build_outputs` that returns every problem instead of raising."""
        built: list[Output] = []
        problems: list[ConfigError] = []
        for name, options in self.outputs.items():
            try:
                built.append(self._build_output(name, options))
            except ConfigError as err:
                problems.append(err)
        return built, problems

    def build_outputs(self) -> list[Output]:
        """Every output, built by its type; raises ConfigProblems naming each bad option's line."""
        built, problems = self.try_build_outputs()
        raise_all(problems)
        return built

    def load_exceptions(self) -> list[RuleException]:
        """The exceptions of every exceptions file; a bad file raises its RuleError."""
        from trailhound.rules.exceptions_file import load_exceptions

        return [e for path in self.exception_files for e in load_exceptions(path)]

    def as_toml(self, *, default_state: Path | None = None) -> dict[str, Any]:
        """The configuration as TOML tables, with defaults filled in and secrets masked."""
        rules: dict[str, Any] = {"paths": [str(p) for p in self.rule_paths], "pack": self.pack}
        if self.enabled is not None:
            rules["enabled"] = list(self.enabled)
        rules["disabled"] = list(self.disabled)
        rules["exceptions"] = [str(p) for p in self.exception_files]
        rules["overrides"] = {k: override_toml(v) for k, v in self.overrides.items()}
        state_path = self.state_path or default_state
        document: dict[str, Any] = {"rules": rules}
        document["state"] = {"path": str(state_path)} if state_path else {}
        document["sources"] = {name: _source_toml(src) for name, src in self.sources.items()}
        document["outputs"] = {name: masked(opts) for name, opts in self.outputs.items()}
        return document

    def _build_output(self, name: str, options: Mapping[str, Any]) -> Output:
        from trailhound.outputs.base import build_output  # only a run with outputs needs it

        at: KeyPath = ("outputs", name)
        try:
            return build_output(name, options)
        except ConfigError as err:
            raise self._output_error(name, options, err) from None
        except ImportError as err:
            message = f"the {options.get('type')!r} output cannot be loaded: {err}"
            raise self.error((*at, "type"), _scrub(message, options)) from None

    def _output_error(self, name: str, options: Mapping[str, Any], err: ConfigError) -> ConfigError:
        """An output's complaint placed at its key in this file, with any secret cut out."""
        prefix = f"outputs.{name}"
        where = err.where or prefix
        if where == prefix or where.startswith(prefix + "."):
            keys = [k for k in where[len(prefix) + 1 :].split(".") if k]
            path: KeyPath = ("outputs", name, *_as_written(keys, options))
            return self.error(path, _scrub(err.message, options))
        return self.error(("outputs", name), _scrub(f"{where}: {err.message}", options))


def _as_written(keys: list[str], options: Mapping[str, Any]) -> list[str]:
    """An option's key as the file has it: a secret `KEY` given as `KEY_env` or `KEY_file` is
    named (and found) by that form."""
    if len(keys) != 1 or keys[0] in options:
        return keys
    forms = [
        f"{keys[0]}{suffix}" for suffix in ("_env", "_file") if f"{keys[0]}{suffix}" in options
    ]
    return forms[:1] or keys


def override_toml(override: RuleOverride) -> dict[str, Any]:
    """An override as its TOML table: the keys it sets, durations written back as text."""
    table: dict[str, Any] = {}
    for key in RuleOverride.__struct_fields__:
        value = getattr(override, key)
        if value is None:
            continue
        if key == "suppression" and value is not False:
            value = {k: _toml_value(v) for k, v in value.given().items()}
        table[key] = _toml_value(value)
    return table


def _toml_value(value: object) -> Any:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return {k: _toml_value(v) for k, v in value.items()}
    return value


def _scrub(message: str, options: Mapping[str, Any]) -> str:
    """The message with every secret the options hold or point to replaced by "***"."""
    for value in sorted(_secret_values(options), key=len, reverse=True):
        message = message.replace(value, MASK)
    return message


def _secret_values(options: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for key, value in options.items():
        if isinstance(value, Mapping):
            found |= _secret_values(value)
        elif isinstance(value, str) and value:
            found |= _secret_of(key, value)
    return found


def _secret_of(key: str, value: str) -> set[str]:
    base, _, form = key.rpartition("_")
    if is_secret(key):
        return {value}
    if form == "env" and is_secret(base):
        found = os.environ.get(value, "")
        return {s for s in (found, found.strip()) if s}
    if form == "file" and is_secret(base):
        return {s for s in (_read_quietly(Path(value)),) if s}
    return set()


def _read_quietly(path: Path) -> str:
    try:
        return path.expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _source_toml(source: SourceConfig) -> dict[str, Any]:
    shown: dict[str, Any] = {"follows": source.spec}
    if source.interval is not None:
        shown["interval"] = format_duration(source.interval)
    return shown
