"""The processes a test started, and only those: the machine runs other jobs too (another
parity's worker among them), so tests look at their own process tree, never at the whole
machine."""

from __future__ import annotations

from pathlib import Path

WORKER = b"exporter.java.worker"


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    return fields[0], int(fields[1])


def descendants(root: int) -> set[int]:
    """Every living process below `root` in the process tree."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                children.setdefault(stat[1], []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def workers_of(root: int) -> set[int]:
    """The Java worker processes below `root`."""
    pids = set()
    for pid in descendants(root):
        try:
            if WORKER in Path(f"/proc/{pid}/cmdline").read_bytes() and alive(pid):
                pids.add(pid)
        except OSError:
            continue
    return pids


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its parent does not)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"
