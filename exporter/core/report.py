"""The one shape of what `inspect`, `run`, `scan`, `ops` and `parity` report: whether all is
well, the lines a person reads, and the JSON a pipeline reads. The command line prints every
report the same way (`--json` for the JSON) and exits 1 when it is not ok."""

from __future__ import annotations

from typing import Any, Protocol


class Report(Protocol):
    @property
    def ok(self) -> bool: ...

    def lines(self) -> list[str]: ...

    def to_json(self) -> dict[str, Any]: ...
