"""The `trailhound` command over hostile input: nothing an attacker wrote reaches a person's
terminal raw. Control characters retitle or clear a terminal, bidi overrides reorder what is
read, a line break forges a `trailhound:` line; all must arrive escaped, on stderr, in a table
and in JSON alike."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.harness import cli, escaped_lines, folder, raw_in_json
from fuzz.hostile import bad_line, hostile_keys, junk_file, line, names, neutral
from fuzz.profiles import fuzz
from fuzz.strategies import Record, hostile_strings, ndjson, simulated_records, with_text
from fuzz.test_scan_fuzz import _six_deletions


@st.composite
def attacked(draw: st.DrawFn) -> list[Record]:
    """Simulated activity whose every record carries hostile text where its caller chose."""
    return [draw(hostile_strings(r)) for r in draw(simulated_records(max_bursts=3))]


BIDI = "adm\u202enimda\u202c\u2028\x1b[2J"
ISSUER = ("userIdentity", "sessionContext", "sessionIssuer", "userName")  # user.name of a role


def _bidi_deletions() -> list[Record]:
    """Six table deletions by a role whose name and user agent are hostile text."""
    return [with_text(with_text(r, ("userAgent",), BIDI), ISSUER, BIDI) for r in
            _six_deletions()]  # fmt: skip


@given(records=attacked())
@example(records=_bidi_deletions())
@fuzz(0.12)
def test_the_alert_table_shows_hostile_text_escaped(records: list[Record]) -> None:
    """`scan --format table`: every cell an attacker could fill is shown with its control and
    bidi characters escaped."""
    with folder({"a.ndjson": ndjson(records)}) as path:
        result = cli("scan", "--no-state", "--format", "table", "--quiet", str(path))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert escaped_lines(result.stdout, prefixed=False) == []


def test_the_table_shows_what_the_attacker_wrote() -> None:
    """The premise of the table property: attacker text reaches the table, escaped, not
    dropped (a table that left it out would pass the property and hide the actor)."""
    with folder({"a.ndjson": ndjson(_bidi_deletions())}) as path:
        result = cli("scan", "--no-state", "--format", "table", "--quiet", str(path))
    assert "Multiple Tables Deleted" in result.stdout
    assert "adm\\u202enimda" in result.stdout


@st.composite
def hostile_folder(draw: st.DrawFn) -> dict[str, bytes]:
    """Good records with hostile text, and files under hostile names holding hostile keys,
    bad lines and values that problem messages quote."""
    files = {"a.ndjson": ndjson(draw(attacked()))}
    for name in draw(st.lists(names(), min_size=1, max_size=3, unique=True)):
        files.setdefault(name, draw(hostile_keys() | junk_file() | bad_line(0)))
    text = draw(st.sampled_from(["\x1b[2J", "\u202e", "\r\ntrailhound: FORGED"]))
    files["b.ndjson"] = (draw(hostile_keys()) + line({"eventTime": text, "eventName": text})
                         + line({**neutral(1), "eventTime": text}))  # fmt: skip
    return files


ESCAPE_NAME = {"x\x1b]0;owned\x07\x1b[2J\u202e.json": b'{"hello\\u001b[2J": 1}\n'}


@given(files=hostile_folder())
@example(files=ESCAPE_NAME)
@fuzz(0.1)
def test_problem_lines_show_file_names_and_input_escaped(files: dict[str, bytes]) -> None:
    """`normalize` and `scan`: every stderr line is one `trailhound:` line with no raw control
    or bidi character, whatever the file names, keys and values were."""
    with folder(files) as path:
        for args in (("normalize",), ("scan", "--no-state", "--format", "jsonl")):
            result = cli(*args, str(path))
            assert escaped_lines(result.stderr, prefixed=True) == [], args


@given(records=attacked())
@example(records=_bidi_deletions())
@fuzz(0.1)
def test_json_alerts_escape_control_and_bidi_characters(records: list[Record]) -> None:
    """`scan --format jsonl`: alerts carry the attacker's text with control and bidi
    characters escaped (`\\u202e`), so that `cat`, `less` or `jq -r` of the file is safe."""
    with folder({"a.ndjson": ndjson(records)}) as path:
        result = cli("scan", "--no-state", "--format", "jsonl", "--quiet", str(path))
    assert raw_in_json(result.stdout_bytes) == []


@given(records=attacked())
@example(records=_bidi_deletions())
@fuzz(0.1)
def test_normalized_documents_escape_control_and_bidi_characters(records: list[Record]) -> None:
    """`normalize`: the ECS documents escape control and bidi characters as alerts do."""
    with folder({"a.ndjson": ndjson(records)}) as path:
        result = cli("normalize", "--quiet", str(path))
    assert result.stdout_bytes.count(b"\n") == len(records)
    assert raw_in_json(result.stdout_bytes) == []
