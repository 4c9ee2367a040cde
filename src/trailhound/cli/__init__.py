"""The `trailhound` command: a thin layer that parses arguments and calls the library.

Each command lives in its own module here and is named in `_COMMANDS` below. A command's module is
imported only when that command runs (or when help lists it), so `trailhound scan` does not pay for
the simulator, the demo or rich's markdown renderer.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import threading

import click

from trailhound import __version__, heap
from trailhound.arrow_setup import own_process
from trailhound.cli.exits import guarded
from trailhound.collector import paused

# Command name -> (module under trailhound.cli, attribute holding the click command).
_COMMANDS: dict[str, tuple[str, str]] = {
    "alerts": ("alerts_cmd", "alerts"),
    "config": ("config_cmd", "config"),
    "demo": ("demo_cmd", "demo"),
    "normalize": ("normalize_cmd", "normalize"),
    "report": ("report_cmd", "report"),
    "rules": ("rules_cmd", "rules"),
    "scan": ("scan_cmd", "scan_command"),
    "simulate": ("simulate_cmd", "simulate_command"),
    "watch": ("watch_cmd", "watch_command"),
}


OWN_PROCESS = "trailhound.own_process"
"""`ctx.meta` key: True when the command runs in a process of its own (`run`). Its set-up
then makes objects that live as long as the process, and may take them out of the cyclic
collector for good (`gc.freeze`): otherwise the first collection after a paused set-up
walks every one of them and frees nothing (a one-file scan's 20 ms). Tests and Python
callers run `main` in a process that goes on, whose objects must stay collectable."""

# Commands that close what they wrote (outputs, state, report) before they end, so that
# their process may end without tearing its interpreter down (see `run`).
_QUICK_TO_LEAVE = frozenset({"scan"})


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use rather than at start-up."""

    leaves_quickly = False  # whether the command `invoke` ran is one of `_QUICK_TO_LEAVE`
    own_process = False  # set by `run`: see OWN_PROCESS

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            module_name, attribute = _COMMANDS[cmd_name]
            with paused():  # see trailhound.collector
                module = importlib.import_module(f"{__name__}.{module_name}")
                if self.own_process:  # modules live as long as the process
                    gc.freeze()
            if "pyarrow" in sys.modules:  # the command works on Arrow: see arrow_setup
                own_process()
            command = getattr(module, attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module.__name__}.{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        ctx.meta[OWN_PROCESS] = self.own_process
        # every command's failures end the same way: see trailhound.cli.exits
        with guarded(ctx):
            try:
                return super().invoke(ctx)
            finally:  # for `run`, which has no context left once `main` is over
                self.leaves_quickly = ctx.invoked_subcommand in _QUICK_TO_LEAVE


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trailhound")
def main() -> None:
    """Find attacks on Amazon DynamoDB in AWS CloudTrail logs."""


def run() -> None:
    """`trailhound` as a process of its own: the console script and `python -m trailhound`.

    When the command is done (its outputs written and closed, its state file closed), what
    it leaves is frozen out of the cyclic collector: at exit the interpreter then frees it
    without walking it for cycles first, 0.05 to 0.1 s of a small scan's CPU; a command of
    `_QUICK_TO_LEAVE` skips that teardown altogether (`_leave`). Only here, never in `main`,
    which tests and Python callers run in a process that goes on."""
    own_environment()
    heap.large_blocks_mapped()
    main.own_process = True
    try:
        main()
    except SystemExit as done:  # how click's `main` always ends
        if main.leaves_quickly and (done.code is None or isinstance(done.code, int)):
            _leave(done.code or 0)
        raise
    finally:
        gc.freeze()


def own_environment() -> None:
    """The variables `run` gives its process (and so the processes it starts) before anything
    loads NumPy or pyarrow. Public for the benchmark's scripts, which time a scan in a process
    of their own and must set it up as the command's is to time what the command runs."""
    _one_blas_thread()
    _arrow_without_huge_pages()


def _one_blas_thread() -> None:
    """Keep NumPy's OpenBLAS to the calling thread, unless the user chose otherwise.

    pyarrow imports NumPy, and OpenBLAS then starts a thread per core that spins while it
    sets up: 0.05 to 0.1 s of CPU in every process of the command (this one, the fork server
    and so each worker), at every start. trailhound does no linear algebra, so the threads
    never work; the variable also reaches the processes the command starts, which are its
    own. Only here: a library user's process keeps its own threads."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _arrow_without_huge_pages() -> None:
    """Keep Arrow's allocator (mimalloc, in the scanning process) to ordinary pages, unless
    the user chose otherwise.

    mimalloc asks the kernel for transparent huge pages on its arena, and each first touch of
    one clears 2 MB; a scan frees and takes memory all along and pays that again and again: a
    fifth of a one-process bucket scan's samples were `clear_page_erms`, and a one-worker 1M
    scan took 10.1-10.5 CPU-s against 8.5-9.7 without. mimalloc reads it when pyarrow loads,
    so it is set before anything imports pyarrow; the workers use the system allocator."""
    os.environ.setdefault("MIMALLOC_ALLOW_THP", "0")


def _leave(status: int) -> None:
    """End the process now, as its exit would but for the interpreter's teardown (freeing
    pyarrow, NumPy, DuckDB and what the command left, module by module: 0.06 s of a one-file
    scan, 0.2 to 0.5 s of wall after a 250k-event scan on a shared machine). Standard output
    and error are flushed and the exit handlers run (multiprocessing's removes its temporary
    folder); with a thread of the command's still running, or a flush failing (a reader that
    left), or under a profiler or tracer (cProfile, coverage, a debugger: each writes what it
    gathered once the command returns), the usual exit happens instead."""
    if _watched() or any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is
                         not threading.current_thread()):  # fmt: skip
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()
    os._exit(status)


def _watched() -> bool:
    """Whether a profiler, a tracer or a `sys.monitoring` tool is watching this process."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12 and later
    return monitoring is not None and any(monitoring.get_tool(i) is not None for i in range(6))
