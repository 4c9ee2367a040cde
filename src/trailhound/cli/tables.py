"""Tables on standard output: as wide as the terminal on one, whole everywhere else.

rich lays a table out for 80 columns when stdout is a pipe or a file, so `trailhound rules list
| grep` saw rule ids cut short. Off a terminal there is no width to respect: the table gets
the width it needs, and every cell is there in full.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

_UNBOUNDED = 100_000  # wide enough to measure any table at its natural width


def print_table(table: Table) -> None:
    console = Console(highlight=False)
    if not console.is_terminal:
        natural = Console(width=_UNBOUNDED).measure(table).maximum
        console = Console(highlight=False, width=natural)
    console.print(table)
