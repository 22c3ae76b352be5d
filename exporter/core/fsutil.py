"""Atomic outputs: everything is written into a staging place beside the target and moved
into place at the end; an existing output is only replaced when the caller says so."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from exporter.errors import OutputExistsError, UsageError


def check_target(target: Path, force: bool, flag: str = "--force") -> None:
    if (target.exists() or target.is_symlink()) and not force:
        raise OutputExistsError(f"{target}: already exists; pass {flag} to replace it")
    parent = target.parent if str(target.parent) else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{parent}: no permission to write here; choose another output path")


def refuse_overlap(target: Path, protected: Path, what: str, flag: str) -> None:
    """An output is never the input, inside it, or around it: replacing it would destroy the
    user's model (or copy the output into itself)."""
    out, src = target.resolve(), protected.resolve()
    if out == src or src in out.parents or out in src.parents:
        relation = "is" if out == src else ("is inside" if src in out.parents else "holds")
        raise UsageError(
            f"{flag} {target}: it {relation} the {what} {protected}; choose an output outside it"
        )


def _stage_prefix(target: Path) -> str:
    return f".{target.name}.tmp-"


def remove_stale_stages(target: Path) -> None:
    """Staging directories of runs that were killed (their process is gone) are removed."""
    remove_dead(target.parent, _stage_prefix(target))


def scratch(kind: str) -> tempfile.TemporaryDirectory:
    """A temporary folder `tf2java-KIND-PID-...` for this process; the ones of runs that were
    killed (SIGKILL leaves no time to clean up) are removed first."""
    prefix = f"tf2java-{kind}-"
    remove_dead(Path(tempfile.gettempdir()), prefix)
    return tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-")


def remove_dead(folder: Path, prefix: str) -> None:
    """Removes the entries `PREFIX<pid>-...` of `folder` whose process is gone."""
    if not folder.is_dir():
        return
    for stale in folder.glob(prefix + "*"):
        pid = stale.name[len(prefix) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            remove(stale)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def staged_dir(target: Path, force: bool) -> Iterator[Path]:
    """Yields an empty directory; on success it replaces `target`, on error it is removed.
    An interrupted run leaves `target` as it was (or absent), never half-written."""
    check_target(target, force)
    with stage_beside(target) as stage:
        yield stage
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp's 0700 was for the stage only
        replace(stage, target)


@contextlib.contextmanager
def stage_beside(target: Path) -> Iterator[Path]:
    """Yields an empty directory beside `target` (same file system, so its entries move into
    place atomically), named so that a killed run's is removed by the next; it is removed on
    the way out, whatever is left in it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_stages(target)
    prefix = f"{_stage_prefix(target)}{os.getpid()}-"
    stage = Path(tempfile.mkdtemp(dir=target.parent, prefix=prefix))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def staged_file(target: Path, force: bool) -> Iterator[Path]:
    check_target(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_stages(target)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f"{_stage_prefix(target)}{os.getpid()}-")
    os.close(fd)
    stage = Path(name)
    try:
        yield stage
        os.chmod(stage, 0o666 & ~_umask())  # mkstemp's 0600 was for the stage only
        if target.is_dir() and not target.is_symlink():
            replace(stage, target)  # a folder where the file goes: swapped out, then removed
        else:
            os.replace(stage, target)
    finally:
        stage.unlink(missing_ok=True)


def replace(stage: Path, target: Path) -> None:
    """Moves a staged directory onto `target`. An existing target is swapped with the stage
    in one atomic step (Linux renameat2 RENAME_EXCHANGE), so there is no moment without
    either the old or the new output; elsewhere the old one is moved aside first."""
    present = target.exists() or target.is_symlink()
    if present and _exchange(stage, target):
        remove(stage)  # now holds the previous output: a folder, a file or a link
        return
    old = None
    if present:
        old = Path(
            tempfile.mkdtemp(dir=target.parent, prefix=f"{_stage_prefix(target)}{os.getpid()}-old-")
        )
        os.replace(target, old / "x")
    os.replace(stage, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove(path: Path) -> None:
    """Removes a file, a link (not what it points to) or a folder with what it holds."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def project_root() -> Path | None:
    """The tf2java checkout (holding build.gradle) this package runs from, if any."""
    here = Path(__file__).resolve().parents[2]
    for candidate in (here, Path.cwd()):
        if (candidate / "build.gradle").is_file() and (candidate / "java-harness").is_dir():
            return candidate
    return None
