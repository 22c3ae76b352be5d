"""What a command says while it works. Its report goes to stdout; what it is doing goes to
stderr, as phases (loading, writing, freezing, checking, compiling) and progress through
long inputs: on a terminal, the phase's line stays in place and counts its seconds once the
phase passes two; elsewhere (a CI log), one line as each phase starts and one per tenth of a
long input; with --quiet, nothing but the report.

The commands take any `echo(line)`; `phase(echo, what)` and `note(echo, line)` use a
Console's phases when `echo` is one, and otherwise say `what` as a line of `echo`, so a
caller of the Python API with `echo=print` sees the phases too."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

SHOW_SECONDS_AFTER = 2.0  # a phase shorter than this never shows a clock
TICK = 0.5


class Console:
    """`console(line)` prints a report line on stdout; `console.phase(what)` shows a phase on
    stderr while its block runs; `console.note(line)` is a line on stderr (progress through
    inputs), `console.status(text)` rewrites the current phase's line on a terminal."""

    def __init__(
        self,
        quiet: bool = False,
        clean: Callable[[str], str] = lambda s: s,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ):
        self.quiet, self.clean = quiet, clean
        self._out, self._err = out, err
        self._lock = threading.Lock()
        self._line = ""  # the phase line open on the terminal, "" when none
        self._depth = 0

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout  # looked up late: the CLI re-points sys.stderr

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    @property
    def live(self) -> bool:
        """Phases are drawn in place (a terminal, not --quiet)."""
        try:
            return not self.quiet and self.err.isatty()
        except (AttributeError, ValueError):
            return False

    def __call__(self, line: str) -> None:
        self._print(self.out, line)

    def note(self, line: str) -> None:
        if not self.quiet:
            self._print(self.err, line)

    def _print(self, stream: TextIO, line: str) -> None:
        """`line` above the phase line on a terminal, which is drawn again under it."""
        with self._lock:
            self._lift()
            stream.write(self.clean(line) + "\n")
            stream.flush()
            self._redraw()

    def status(self, text: str) -> None:
        """On a terminal, the open phase's line becomes `text` until the next update."""
        if self.live and self._line:
            with self._lock:
                self._line = self.clean(text)
                self._redraw()

    @contextlib.contextmanager
    def phase(self, what: str) -> Iterator[None]:
        self._depth += 1
        try:
            if self.quiet or self._depth > 1:  # a phase inside a phase is part of it
                yield
            elif not self.live:
                self.note(what)
                yield
            else:
                with self._clock(self.clean(what)):
                    yield
        finally:
            self._depth -= 1

    @contextlib.contextmanager
    def _clock(self, what: str) -> Iterator[None]:
        """`what` in place on the terminal, with its seconds once past two, left there with
        the time it took when the block ends."""
        started, done = time.monotonic(), threading.Event()

        def tick() -> None:
            while not done.wait(TICK):
                elapsed = time.monotonic() - started
                if elapsed >= SHOW_SECONDS_AFTER and self._line.startswith(what):
                    with self._lock:
                        self._line = f"{what} ({elapsed:.0f} s)"
                        self._redraw()

        with self._lock:
            self._line = what
            self._redraw()
        clock = threading.Thread(target=tick, name="tf2java-phase", daemon=True)
        clock.start()
        try:
            yield
        finally:
            done.set()
            clock.join()
            with self._lock:
                self._lift()
                self._line = ""
                self.err.write(f"{what} ({time.monotonic() - started:.1f} s)\n")
                self.err.flush()

    def _lift(self) -> None:
        """Clears the phase line off the terminal so a line can be printed above it."""
        if self._line and self.live:
            self.err.write("\r\033[K")
            self.err.flush()

    def _redraw(self) -> None:
        if self._line and self.live:
            self.err.write(f"\r\033[K{self._line}")
            self.err.flush()


def phase(echo: Callable[[str], None], what: str) -> contextlib.AbstractContextManager:
    """`echo`'s own phase when it is a Console; otherwise `what` said as a line of `echo`."""
    if isinstance(echo, Console):
        return echo.phase(what)
    echo(what)
    return contextlib.nullcontext()


def note(echo: Callable[[str], None], line: str) -> None:
    """A line about the work, not the result: a Console's stderr (none with --quiet)."""
    (echo.note if isinstance(echo, Console) else echo)(line)
