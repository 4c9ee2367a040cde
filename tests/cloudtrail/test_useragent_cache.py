"""The known user agents kept between runs: a run that sees only known strings never loads the
parser, and a file that is not wholly ours changes no answer and is written again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trailhound.cloudtrail.useragent import UserAgentInfo, UserAgentParser

AGENTS = [
    "aws-cli/2.15.0 Python/3.11.6 Linux/5.10.205 exe/x86_64.amzn.2 command/dynamodb.scan",
    "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#5.15 md/arch#x86_64 lang/python#3.12.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "dynamodb.amazonaws.com",
    "",
    "odd \ud800 lone surrogate",
]


def answers(monkeypatch: pytest.MonkeyPatch, cache: Path) -> list[UserAgentInfo]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    parser = UserAgentParser()
    return [parser.parse(agent) for agent in AGENTS]


def kept_file(cache: Path) -> Path:
    (found,) = (cache / "trailhound").glob("useragents-*.json")
    return found


@pytest.fixture
def expected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[UserAgentInfo]:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # no cache folder can be made under a file: parsed, nothing kept
    return answers(monkeypatch, blocker)


def test_a_later_run_answers_known_agents_without_loading_the_parser(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from msgspec.structs import astuple\n"
        "from trailhound.cloudtrail.useragent import UserAgentParser\n"
        "parser = UserAgentParser()\n"
        "found = [astuple(parser.parse(a)) for a in json.loads(sys.argv[1])]\n"
        "print(json.dumps({'loaded': 'ua_parser' in sys.modules, 'found': found}))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}

    def run() -> dict[str, object]:
        command = [sys.executable, "-c", script, json.dumps(AGENTS)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        result: dict[str, object] = json.loads(done.stdout)
        return result

    first, second = run(), run()
    assert first["loaded"] is True
    assert second["loaded"] is False
    assert second["found"] == first["found"]
    assert kept_file(tmp_path).exists()


DAMAGE = {
    "truncated": lambda text: text[: len(text) // 2],
    "not json": lambda text: "\x00\xff garbage",
    "a list": lambda text: "[1, 2, 3]",
    "another layout": lambda text: json.dumps({**json.loads(text), "layout": 99}),
    "a foreign entry": lambda text: json.dumps(
        {"layout": 1, "agents": {**json.loads(text)["agents"], "x": ["a", 1, None, None, "", "b"]}}
    ),
    "a short entry": lambda text: json.dumps({"layout": 1, "agents": {"x": ["a"]}}),
    "deep nesting": lambda text: "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_or_foreign_file_is_ignored_and_written_again(
    damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expected: list[UserAgentInfo]
) -> None:
    cache = tmp_path / "cache"
    assert answers(monkeypatch, cache) == expected
    path = kept_file(cache)
    path.write_text(DAMAGE[damage](path.read_text()), encoding="utf-8", errors="surrogatepass")
    assert answers(monkeypatch, cache) == expected
    kept = json.loads(path.read_text())["agents"]
    assert set(kept) == set(AGENTS)  # whole again, lone surrogate included


def test_an_unwritable_cache_folder_only_means_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expected: list[UserAgentInfo]
) -> None:
    cache = tmp_path / "cache"
    (cache / "trailhound").mkdir(parents=True)
    (cache / "trailhound").chmod(0o500)
    try:
        assert answers(monkeypatch, cache) == expected
    finally:
        (cache / "trailhound").chmod(0o700)
