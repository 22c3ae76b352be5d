"""The console's phases on a terminal: drawn in place, a clock past the threshold, report
lines printed above the phase line, the time each phase took left behind."""

from __future__ import annotations

import io
import time

from exporter.core import console as console_mod
from exporter.core.console import Console, note, phase


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_phase_on_a_terminal_counts_its_seconds_and_keeps_report_lines_whole(monkeypatch):
    monkeypatch.setattr(console_mod, "SHOW_SECONDS_AFTER", 0.0)
    monkeypatch.setattr(console_mod, "TICK", 0.01)
    out, err = Terminal(), Terminal()
    con = Console(out=out, err=err)
    with phase(con, "writing frozen.pb"):
        deadline = time.monotonic() + 5
        while "writing frozen.pb (0 s)" not in err.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        con("[ok] probs")
        with phase(con, "an inner step"):  # part of the outer phase: not shown
            pass
        con.status("40% of val.tfrecord")
    assert out.getvalue() == "[ok] probs\n"
    drawn = err.getvalue()
    assert "\r\033[Kwriting frozen.pb (0 s)" in drawn  # the clock
    assert "\r\033[K40% of val.tfrecord" in drawn and "an inner step" not in drawn
    final = drawn.rsplit("\r\033[K", 1)[1]
    assert final.startswith("writing frozen.pb (") and final.endswith(" s)\n")


def test_quiet_draws_nothing_and_a_plain_echo_gets_phases_as_lines():
    out, err = Terminal(), Terminal()
    con = Console(quiet=True, out=out, err=err)
    with phase(con, "loading the source"):
        note(con, "10% of val.tfrecord")
        con("result")
    assert (out.getvalue(), err.getvalue()) == ("result\n", "")
    said: list[str] = []
    with phase(said.append, "loading the source"):
        note(said.append, "10% of val.tfrecord")
    assert said == ["loading the source", "10% of val.tfrecord"]
