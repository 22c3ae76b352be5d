"""Tables of records keyed by format (the source loaders, the export targets): each format is
registered once."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def register_once(table: dict[str, T], key: str, record: T, what: str) -> T:
    """Adds `record` under `key`; raises ValueError when `key` is taken."""
    if key in table:
        raise ValueError(f"{what} format '{key}' is already registered")
    table[key] = record
    return record
