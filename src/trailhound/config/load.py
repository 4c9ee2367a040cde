"""Reading `trailhound.toml`: every problem found in one pass, each at its key's line.

`tomllib` gives values without positions, so the rule reader's `KeyLocator` (which follows
`[table]` headers, dotted keys and `key =` lines) places each problem; a key it cannot find is
placed at its nearest enclosing table. Reading carries on past a bad value, so one run shows
them all; the Config read alongside leaves bad values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from msgspec import Struct, field

from trailhound.config.model import (
    Config,
    ConfigProblems,
    SourceConfig,
    located_error,
    raise_all,
)
from trailhound.config.overrides import RuleOverride, Strategy, SuppressionOverride
from trailhound.errors import ConfigError, TrailhoundError
from trailhound.rules.duration import parse_date_math, parse_duration
from trailhound.rules.elastic_format import SUPPRESSION_MAX_FIELDS
from trailhound.rules.model import Rule, Severity
from trailhound.rules.toml_reader import KeyLocator, KeyPath, toml_error
from trailhound.userdirs import config_folder

if TYPE_CHECKING:
    import tomllib

T = TypeVar("T")
CONFIG_NAME = "trailhound.toml"

_ROOT_KEYS = ("outputs", "rules", "sources", "state")
_SOURCE_KEYS = ("bucket", "interval", "path", "prefix", "queue")
_RULES_KEYS = ("disabled", "enabled", "exceptions", "overrides", "pack", "paths")
_STATE_KEYS = ("path",)
_OVERRIDE_KEYS = tuple(RuleOverride.__struct_fields__)
_SUPPRESSION_KEYS = ("duration", "group_by", "missing_fields")
_SEVERITIES: Mapping[str, Severity] = MappingProxyType(
    {"low": "low", "medium": "medium", "high": "high", "critical": "critical"}
)
_STRATEGIES: Mapping[str, Strategy] = MappingProxyType(
    {"suppress": "suppress", "doNotSuppress": "doNotSuppress"}
)
_AT_END = " (at end of document)"
_DURATION_HINT = "write a number and a unit: s, m, h, d or w, e.g. 15m"


def default_config_path() -> Path:
    """$XDG_CONFIG_HOME/trailhound/trailhound.toml (default ~/.config/trailhound/...)."""
    return config_folder() / CONFIG_NAME


def load_config(path: Path | None) -> Config:
    """The configuration in `path`; None reads the default file when there is one, else gives
    the empty Config (every default). Raises ConfigProblems (a ConfigError) listing every
    problem, itself located at the first."""
    config, problems = read_config(path)
    raise_all(problems)
    assert config is not None  # no problems means the file was read
    return config


def read_config(path: Path | None) -> tuple[Config | None, list[ConfigError]]:
    """The configuration and every problem in it; the Config is None when the file could not
    be read at all (missing, not UTF-8, not TOML), else it holds the values that were valid."""
    if path is None:
        path = default_config_path()
        if not path.is_file():
            return Config(), []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return None, [ConfigError("no such configuration file", where=str(path))]
    except OSError as err:
        return None, [ConfigError(f"cannot read the file: {err.strerror}", where=str(path))]
    except UnicodeDecodeError:
        return None, [ConfigError("not UTF-8 text", where=str(path))]
    return parse_config(text, path)


def parse_config(text: str, source: Path) -> tuple[Config | None, list[ConfigError]]:
    """Read the text of the file at `source`; relative paths resolve against its folder."""
    import tomllib  # here: a run without a config file reads no TOML (its import ~3 ms)

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return None, [_syntax_error(err, text, source)]
    reader = _Reader(text, source)
    reader.only(document, _ROOT_KEYS, ())
    rules = _read_rules(reader, reader.table(document, ("rules",)) or {})
    state = reader.table(document, ("state",)) or {}
    reader.only(state, _STATE_KEYS, ("state",))
    config = Config(
        source=source,
        rule_paths=rules.paths,
        pack=rules.pack,
        enabled=rules.enabled,
        disabled=rules.disabled,
        exception_files=rules.exceptions,
        overrides=MappingProxyType(rules.overrides),
        state_path=reader.path(state, ("state", "path")),
        outputs=MappingProxyType(_read_outputs(reader, reader.table(document, ("outputs",)) or {})),
        sources=MappingProxyType(_read_sources(reader, reader.table(document, ("sources",)) or {})),
        locate=reader.locator.find,
    )
    return config, sorted(reader.errors, key=_file_order)


class CheckReport(Struct, frozen=True):
    """What `trailhound config check` found: the rules as they will run, and every problem."""

    config: Config | None
    rules: list[Rule] = field(default_factory=list)
    outputs: int = 0
    problems: list[TrailhoundError] = field(default_factory=list)

    @property
    def running(self) -> int:
        return sum(rule.runs for rule in self.rules)  # enabled, and its parameters set


def check_config(path: Path | None) -> CheckReport:
    """Read the file, load the rules and exceptions it names, apply its overrides and build its
    outputs (which checks that secrets can be read), collecting every problem on the way."""
    # The rule parser is for checking; reading a configuration (config show) does without it.
    from trailhound.rules.exceptions_file import read_exceptions_text
    from trailhound.rules.loader import load_rules

    config, problems = read_config(path)
    if config is None:
        return CheckReport(None, problems=list(problems))
    report: list[TrailhoundError] = list(problems)
    loaded = load_rules(config.rule_sources())
    report += loaded.errors
    for exceptions_file in config.exception_files:
        text = exceptions_file.read_text(encoding="utf-8", errors="replace")
        report += read_exceptions_text(text, source=str(exceptions_file))[1]
    rules = loaded.rules
    if loaded.ok:  # with a rule file broken, its overrides would only add false alarms
        rules, applied = config.try_apply(loaded.rules)
        report += applied
    outputs, built = config.try_build_outputs()
    report += built
    return CheckReport(config, rules, len(outputs), _config_first(report, config.source))


def problems_of(error: TrailhoundError) -> Sequence[TrailhoundError]:
    """Each problem an error carries: all of a ConfigProblems, else the error itself."""
    return error.problems if isinstance(error, ConfigProblems) else (error,)


class _Rules(Struct):
    paths: tuple[Path, ...] = ()
    pack: bool = True
    enabled: tuple[str, ...] | None = None
    disabled: tuple[str, ...] = ()
    exceptions: tuple[Path, ...] = ()
    overrides: dict[str, RuleOverride] = field(default_factory=dict)


def _read_rules(reader: _Reader, table: Mapping[str, Any]) -> _Rules:
    at: KeyPath = ("rules",)
    reader.only(table, _RULES_KEYS, at)
    rules = _Rules(
        paths=reader.paths(table, (*at, "paths"), files_only=False),
        pack=_or(reader.flag(table, (*at, "pack")), True),
        enabled=reader.texts(table, (*at, "enabled")),
        disabled=reader.texts(table, (*at, "disabled")) or (),
        exceptions=reader.paths(table, (*at, "exceptions"), files_only=True),
    )
    if not rules.pack and not table.get("paths"):
        reader.fail((*at, "pack"), "false, with no rules.paths, leaves no rule to run")
    if rules.enabled == ():
        reader.fail((*at, "enabled"), "an empty allow-list runs no rule; leave it out to run all")
    overrides = reader.table(table, (*at, "overrides")) or {}
    for key in overrides:
        override = _read_override(reader, overrides, (*at, "overrides", key))
        if override is not None:
            rules.overrides[key] = override
    return rules


def _read_override(
    reader: _Reader, overrides: Mapping[str, Any], at: KeyPath
) -> RuleOverride | None:
    table = reader.table(overrides, at, required=True)
    if table is None:
        return None
    reader.only(table, _OVERRIDE_KEYS, at)
    return RuleOverride(
        severity=reader.choice(table, (*at, "severity"), _SEVERITIES),
        risk_score=reader.integer(table, (*at, "risk_score"), low=0, high=100),
        threshold=reader.integer(table, (*at, "threshold"), low=1),
        window=reader.duration(table, (*at, "window")),
        history_window=reader.duration(table, (*at, "history_window"), date_math=True),
        learning_period=reader.duration(table, (*at, "learning_period")),
        min_count=reader.integer(table, (*at, "min_count"), low=1),
        factor=reader.ratio(table, (*at, "factor")),
        deviations=reader.ratio(table, (*at, "deviations")),
        min_history=reader.duration(table, (*at, "min_history")),
        parameters=_read_parameters(reader, table, (*at, "parameters")),
        suppression=_read_suppression(reader, table, (*at, "suppression")),
        max_signals=reader.integer(table, (*at, "max_signals"), low=1),
        enabled=reader.flag(table, (*at, "enabled")),
    )


def _read_parameters(
    reader: _Reader, override: Mapping[str, Any], at: KeyPath
) -> Mapping[str, tuple[str, ...]] | None:
    """`parameters = { decoy_tables = ["payroll-archive"] }`: each a list of values."""
    table = reader.table(override, at, what='a table such as { decoy_tables = ["t1"] }')
    if table is None:
        return None
    found = {name: reader.texts(table, (*at, name)) for name in table}
    return MappingProxyType({name: values for name, values in found.items() if values is not None})


def _read_suppression(
    reader: _Reader, override: Mapping[str, Any], at: KeyPath
) -> SuppressionOverride | Literal[False] | None:
    if override.get(_key(at)) is False:
        return False
    table = reader.table(override, at, what='a table such as {duration = "1h"}, or false')
    if table is None:
        return None
    reader.only(table, _SUPPRESSION_KEYS, at)
    group_by = reader.texts(table, (*at, "group_by"))
    if group_by is not None and not 1 <= len(group_by) <= SUPPRESSION_MAX_FIELDS:
        reader.fail((*at, "group_by"), f"needs 1 to {SUPPRESSION_MAX_FIELDS} fields")
        group_by = None
    return SuppressionOverride(
        group_by=group_by,
        duration=reader.duration(table, (*at, "duration")),
        missing_fields=reader.choice(table, (*at, "missing_fields"), _STRATEGIES),
    )


def _read_outputs(reader: _Reader, table: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    outputs: dict[str, Mapping[str, Any]] = {}
    for name in table:
        at: KeyPath = ("outputs", name)
        options = reader.table(table, at, required=True)
        if options is None:
            continue
        if not isinstance(options.get("type"), str):
            reader.fail((*at, "type"), 'needed: the output\'s type, a string such as "webhook"')
            continue
        outputs[name] = MappingProxyType(_resolve_output_paths(reader, options))
    return outputs


def _read_sources(reader: _Reader, table: Mapping[str, Any]) -> dict[str, SourceConfig]:
    sources: dict[str, SourceConfig] = {}
    for name in table:
        at: KeyPath = ("sources", name)
        options = reader.table(table, at, required=True)
        if options is None:
            continue
        reader.only(options, _SOURCE_KEYS, at)
        spec = _source_spec(reader, options, at)
        if spec is not None:
            sources[name] = SourceConfig(name, spec, reader.duration(options, (*at, "interval")))
    return sources


def _source_spec(reader: _Reader, options: Mapping[str, Any], at: KeyPath) -> str | None:
    """What the source reads, as `watch` takes it on its command line."""
    given = [k for k in ("path", "bucket", "queue") if k in options]
    if len(given) != 1:
        reader.fail(at, "give one of path (a folder), bucket (with an optional prefix) or queue")
        return None
    kind = given[0]
    if kind == "path":
        path = reader.path(options, (*at, "path"))
        return None if path is None else str(path)
    value = reader._typed(options, (*at, kind), str, "a string")
    if not value:
        return None
    if kind == "queue":
        return value if "://" in value else f"sqs://{value}"
    prefix = reader._typed(options, (*at, "prefix"), str, "a string") or ""
    return f"s3://{value}/{prefix.lstrip('/')}"


def _resolve_output_paths(reader: _Reader, options: Mapping[str, Any]) -> dict[str, Any]:
    # A file named next to the configuration (a secret's *_file, an output's path) is found
    # there wherever trailhound runs from, as every other path in the file is.
    resolved = dict(options)
    for key, value in options.items():
        if isinstance(value, str) and value and _names_a_path(key):
            resolved[key] = str(reader.resolve(value))
    return resolved


def _names_a_path(key: str) -> bool:
    return key == "path" or key.endswith(("_path", "_file"))


def _syntax_error(err: tomllib.TOMLDecodeError, text: str, source: Path) -> ConfigError:
    """tomllib's complaint, its position as line and column fields rather than message text."""
    syntax = toml_error(err, str(source))
    line, column = syntax.line, syntax.column
    message = syntax.message
    if line is None and message.endswith(_AT_END):
        # tomllib names no line for a document that stops too soon: point past its last text.
        message = message.removesuffix(_AT_END)
        lines = text.rstrip().splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    return ConfigError(message, where=str(source), line=line, column=column)


def _config_first(problems: list[TrailhoundError], source: Path | None) -> list[TrailhoundError]:
    """The configuration's own problems in file order, then those of the files it names."""
    own = [p for p in problems if source is not None and p.where == str(source)]
    others = [p for p in problems if p not in own]
    return sorted(own, key=_file_order) + others


def _file_order(error: TrailhoundError) -> tuple[int, int]:
    return error.line or 0, error.column or 0


def _key(at: KeyPath) -> str:
    """The key a path ends in (reader paths end in a key, never a list position)."""
    return str(at[-1])


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


class _Reader:
    """Typed access to the parsed document: a bad value is recorded at its line and read as
    None, so that reading carries on."""

    def __init__(self, text: str, source: Path) -> None:
        self.source = source
        self.locator = KeyLocator(text)
        self.errors: list[ConfigError] = []

    def fail(self, path: KeyPath, message: str) -> None:
        self.errors.append(located_error(self.source, self.locator.find, path, message))

    def only(self, table: Mapping[str, Any], allowed: Sequence[str], at: KeyPath) -> None:
        for key in table:
            if key not in allowed:
                self.fail((*at, key), f"unknown key (known: {', '.join(allowed)})")

    def table(
        self, parent: Mapping[str, Any], at: KeyPath, *, required: bool = False, what: str = ""
    ) -> dict[str, Any] | None:
        """The table at `at` (its last part a key of `parent`); None when absent or wrong."""
        value = parent.get(_key(at))
        if isinstance(value, dict):
            return value
        if value is not None or required:
            self.fail(at, f"must be {what or 'a table'}")
        return None

    def flag(self, table: Mapping[str, Any], at: KeyPath) -> bool | None:
        return self._typed(table, at, bool, "true or false")

    def integer(
        self, table: Mapping[str, Any], at: KeyPath, *, low: int, high: int | None = None
    ) -> int | None:
        value = self._typed(table, at, int, "a whole number")
        if value is None or (low <= value and (high is None or value <= high)):
            return value
        limits = f"at least {low}" if high is None else f"between {low} and {high}"
        self.fail(at, f"must be {limits}, not {value}")
        return None

    def ratio(self, table: Mapping[str, Any], at: KeyPath) -> float | None:
        """A positive number, whole or not."""
        value = table.get(_key(at))
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.fail(at, f"must be a positive number, not {value!r}")
            return None
        return float(value)

    def choice(self, table: Mapping[str, Any], at: KeyPath, choices: Mapping[str, T]) -> T | None:
        value = self._typed(table, at, str, "a string")
        if value is None or value in choices:
            return None if value is None else choices[value]
        self.fail(at, f"must be one of {', '.join(choices)}, not {value!r}")
        return None

    def texts(self, table: Mapping[str, Any], at: KeyPath) -> tuple[str, ...] | None:
        """A list of strings (one string is a list of one); None when absent or wrong."""
        value = table.get(_key(at))
        if isinstance(value, str):
            value = [value]
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(at, "must be a list of non-empty strings")
            return None
        return tuple(value)

    def duration(
        self, table: Mapping[str, Any], at: KeyPath, *, date_math: bool = False
    ) -> timedelta | None:
        text = self._typed(table, at, str, 'a duration such as "15m"')
        if text is None:
            return None
        try:
            if date_math and text.strip().startswith("now"):
                return parse_date_math(text)
            return parse_duration(text)
        except TrailhoundError:
            self.fail(at, f"not a duration: {_quoted(text)} ({_DURATION_HINT})")
            return None

    def path(self, table: Mapping[str, Any], at: KeyPath) -> Path | None:
        text = self._typed(table, at, str, "a path")
        if text is not None and not text:
            self.fail(at, "must not be empty")
            return None
        return None if text is None else self.resolve(text)

    def paths(self, table: Mapping[str, Any], at: KeyPath, *, files_only: bool) -> tuple[Path, ...]:
        """Paths that exist, resolved; each missing one is a problem at the list's line."""
        found: list[Path] = []
        for n, text in enumerate(self.texts(table, at) or ()):
            path = self.resolve(text)
            exists = path.is_file() if files_only else path.exists()
            if exists:
                found.append(path)
            else:
                self.fail((*at, n), f"no such {'file' if files_only else 'file or folder'}: {path}")
        return tuple(found)

    def resolve(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.source.parent / path

    def _typed(self, table: Mapping[str, Any], at: KeyPath, kind: type[T], what: str) -> T | None:
        value = table.get(_key(at))
        if value is None:
            return None
        # TOML's booleans are not numbers, though Python's bool is an int.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(at, f"must be {what}")
            return None
        return value


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
