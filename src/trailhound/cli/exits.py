"""Every exit status of the `trailhound` command, and the guard that turns a failure into one.

`scan`, `watch --once` and `alerts resend` add flags: +1 alerts were emitted, +4 some input was
set aside, +8 some alerts wait for delivery; 2 alone is a usage error. Any sum of those flags is
at most 13, so the statuses for a run that did not finish are taken far from them, from
sysexits.h where it has a meaning that fits (so `$? -ge 64` means "did not finish"), and 130
for an interruption, the status a shell reports for a command stopped by Ctrl-C:

- 70 (EX_SOFTWARE): an internal error, a bug in trailhound;
- 74 (EX_IOERR): the state file cannot be used (damaged, not trailhound's, of another version,
  a folder, not readable or writable by this user);
- 75 (EX_TEMPFAIL): the state file is in use by another trailhound: running again later works;
- 130: interrupted (SIGINT, Ctrl-C).
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from trailhound.errors import StateError, StateInUse, query_interrupted

NEW_ALERTS = 1
USAGE_ERROR = 2
INPUT_SET_ASIDE = 4
DELIVERY_PENDING = 8
INTERNAL_ERROR = 70
STATE_UNUSABLE = 74
STATE_IN_USE = 75
INTERRUPTED = 130

DEBUG_VARIABLE = "TRAILHOUND_DEBUG"
INTERRUPT_NOTE = "trailhound.interrupt_note"
"""A command may put in `ctx.meta` under this key what an interruption leaves behind."""


@contextmanager
def guarded(ctx: click.Context) -> Iterator[None]:
    """Run a command so that whatever goes wrong ends in one line on stderr and its own status,
    never in a traceback (unless TRAILHOUND_DEBUG is set, for a bug report)."""
    heard = _listen_for_ctrl_c()
    try:
        yield
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise  # click's own: usage errors and chosen exit statuses, already said
    except KeyboardInterrupt:
        _interrupted(ctx)
    except StateError as err:
        _say(str(err))
        raise click.exceptions.Exit(
            STATE_IN_USE if isinstance(err, StateInUse) else STATE_UNUSABLE
        ) from None
    except OSError as err:
        if err.errno == errno.EPIPE:
            raise  # the reader of the output is gone (`| head`): click ends quietly
        _internal(err)
    except Exception as err:
        # Ctrl-C as DuckDB reports it when it stopped a query, or what followed from that
        # (a transaction it aborted): an interruption all the same
        if heard or query_interrupted(err):
            _interrupted(ctx)
        _internal(err)


def _listen_for_ctrl_c() -> list[int]:
    """A list that gets an entry when SIGINT arrives (which still raises KeyboardInterrupt,
    once no module is being imported)."""
    heard: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        return heard

    def on_sigint(number: int, frame: FrameType | None) -> None:
        heard.append(number)
        if _importing(frame):
            # a compiled module's set-up that a KeyboardInterrupt cuts short can abort the
            # process (DuckDB's: "Critical nanobind error", SIGABRT): the signal comes again
            # until the import is over
            _again_soon(number)
            return
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    return heard


_AGAIN_AFTER = 0.02  # seconds: far below what a person notices, a few times an import's length


def _importing(frame: FrameType | None) -> bool:
    """Whether the interrupted code runs inside an import (its frames or a caller's are
    importlib's, as they are while a compiled module's initialization calls Python)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _again_soon(number: int) -> None:
    again = threading.Timer(_AGAIN_AFTER, os.kill, (os.getpid(), number))
    again.daemon = True
    again.start()


def _interrupted(ctx: click.Context) -> None:
    # DuckDB may leave the signal pending after reporting it: a second KeyboardInterrupt
    # raised while exiting would end the process by the signal, not with its status
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _say(ctx.meta.get(INTERRUPT_NOTE, "interrupted"))
    raise click.exceptions.Exit(INTERRUPTED) from None


def _internal(err: Exception) -> None:
    if os.environ.get(DEBUG_VARIABLE):
        traceback.print_exc()
    else:
        rerun = f"rerun with {DEBUG_VARIABLE}=1 for the traceback"
        _say(f"internal error: {_described(err)}; this is a bug, please report it ({rerun})")
    raise click.exceptions.Exit(INTERNAL_ERROR) from None


def _described(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _say(message: str) -> None:
    # imported here: trailhound.cli.common loads the rule loader and the sources, which a
    # command that fails before needing them should not pay for
    try:
        from trailhound.cli.common import say
    except Exception:  # the failure is in what common imports: say nothing of what it was
        click.echo(f"trailhound: internal error; rerun with {DEBUG_VARIABLE}=1", err=True)
        return
    say(message)
