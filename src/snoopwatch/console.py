"""Shared terminal plumbing: results on stdout, progress and messages on stderr, colour only on a terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def stdout_console() -> Console:
    """Console for results; plain text (no colour, no wrapping surprises) when stdout is not a terminal."""
    tty = sys.stdout.isatty()
    return Console(file=sys.stdout, no_color=not tty or "NO_COLOR" in os.environ, highlight=False,
                   soft_wrap=not tty, width=None if tty else 120)


def stderr_console() -> Console:
    """Console for progress and notices, so stdout stays clean for pipes."""
    return Console(file=sys.stderr, no_color=not sys.stderr.isatty() or "NO_COLOR" in os.environ, highlight=False)


@contextlib.contextmanager
def progress(enabled: bool = True) -> Iterator[Progress]:
    """A rich progress display on stderr; silent when disabled or when stderr is not a terminal."""
    console = stderr_console()
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not enabled or not console.is_terminal,
    )
    with bar:
        yield bar
