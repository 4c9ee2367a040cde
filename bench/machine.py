"""The machine and software a benchmark ran on, for the report."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from importlib import metadata

PACKAGES = ("trailhound", "duckdb", "pyarrow", "msgspec", "orjson", "isal", "numpy", "sqlglot")


def describe() -> list[tuple[str, str]]:
    """(label, value) pairs: date, CPU, cores, memory, OS, Python and library versions."""
    rows = [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("cpu", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("memory", _memory()),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("os", f"{platform.system()} {platform.release()}"),
        ("python", platform.python_version()),
    ]
    rows += [(name, _version(name)) for name in PACKAGES]
    rows.append(("jq", _jq_version()))
    return rows


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _jq_version() -> str:
    jq = shutil.which("jq")
    if jq is None:
        return "not installed"
    return subprocess.run([jq, "--version"], capture_output=True, text=True).stdout.strip()
