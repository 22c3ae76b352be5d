"""The one shape of what `inspect`, `run`, `scan`, `ops` and `parity` report: whether all is
well, the lines a person reads, and the JSON a pipeline reads. The command line prints every
report the same way (`--json` for the JSON) and exits 1 when it is not ok."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol


class Report(Protocol):
    @property
    def ok(self) -> bool: ...

    def lines(self) -> list[str]: ...

    def to_json(self) -> dict[str, Any]: ...


def json_name(name: str, **kwargs) -> dataclasses.Field:
    """A record field whose JSON key is `name`."""
    return dataclasses.field(metadata={"json": name}, **kwargs)


class Record:
    """A report record (a dataclass) whose JSON is its fields in order, under their names or
    the `json_name` they were given, with records, lists and dicts of them turned to JSON
    alike: the one serialisation of what the checks find."""

    def to_json(self) -> dict[str, Any]:
        return {
            f.metadata.get("json", f.name): as_json(getattr(self, f.name))
            for f in dataclasses.fields(self)
        }


def as_json(value: Any) -> Any:
    """`value` with every record in it turned to JSON."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value
