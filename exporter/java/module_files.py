"""The files of a handed-off module and how a new hand-off updates them in place. A stamp,
`.tf2java-handoff.json`, records each file tf2java wrote with its sha256 and what was handed
off (version, API, model digest); a file is tf2java's to replace or remove only while it is
still as written. Everything else in the module (`.git`, the team's classes and tests, build
output) is never touched; a build file or README the team edited is kept, with tf2java's new
one beside it; a generated class or resource the team edited stops the hand-off before it
writes anything."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from exporter.core.fsutil import check_target, stage_beside, staged_dir, staged_file
from exporter.core.manifest import sha256_file
from exporter.errors import ModelError, UsageError

STAMP = ".tf2java-handoff.json"
CHANGELOG = "CHANGELOG.md"
# Files the team may edit (dependencies, repositories, plugins, their own notes): once edited
# they are the team's; tf2java's next version of one is written beside it, NAME + NEW.
KEPT_WHEN_EDITED = ("pom.xml", "build.gradle", "settings.gradle", "README.md")
NEW = ".tf2java-new"


@dataclass
class Stamp:
    files: dict[str, str] = field(default_factory=dict)  # path in the module -> sha256
    handoff: dict | None = None  # what was handed off: version, api, model_sha256...


def read_stamp(dest: Path) -> Stamp | None:
    """The stamp of the module in `dest`, None where there is none."""
    path = dest / STAMP
    if not path.is_file() or dest.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = {
            rel: sha
            for rel, sha in data["files"].items()
            if isinstance(rel, str) and isinstance(sha, str) and _inside(rel)
        }
        handoff = data["handoff"]
        if not isinstance(handoff, dict):
            raise TypeError
        return Stamp(files, handoff)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ModelError(
            f"{path}: not a tf2java hand-off stamp; remove it (tf2java then treats every file "
            "of the module as the team's), or hand off into another folder"
        ) from None


@contextlib.contextmanager
def staged_module(
    dest: Path, force: bool, handoff: dict, echo: Callable[[str], None]
) -> Iterator[Path]:
    """Yields an empty folder to render the whole module into. A new DEST (or an empty one,
    or a file or link with --force) becomes that folder; a module already there is updated
    file by file (see `update`). Without --force an existing DEST is refused."""
    check_target(dest, force)
    if not dest.is_dir() or dest.is_symlink() or not any(dest.iterdir()):
        with staged_dir(dest, force) as stage:
            yield stage
            _write_stamp(stage, Stamp(_digests(stage), handoff))
        return
    with stage_beside(dest) as stage:
        yield stage
        update(stage, dest, handoff, echo)


def update(stage: Path, dest: Path, handoff: dict, echo: Callable[[str], None]) -> None:
    """Brings the module in `dest` to the rendering in `stage`, writing only tf2java's own
    files: each is checked before any is written, then each replaced atomically, and the
    stamp last. Raises UsageError naming a generated file the team changed."""
    stamp = read_stamp(dest) or Stamp()
    new = _digests(stage)
    writes, beside, conflicts = [], [], []
    for rel, sha in sorted(new.items()):
        target = dest / rel
        if rel == CHANGELOG or not os.path.lexists(target):
            writes.append(rel)
        elif (
            target.is_file()
            and not target.is_symlink()
            and sha256_file(target)
            in (
                sha,
                stamp.files.get(rel),
            )
        ):
            writes.append(rel)
        elif rel in KEPT_WHEN_EDITED and target.is_file() and not target.is_symlink():
            beside.append(rel)
        else:
            conflicts.append(rel)
    if conflicts:
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        raise UsageError(
            f"{dest / conflicts[0]}{more}: changed since tf2java wrote it, or not written by "
            "tf2java; nothing was handed off. Move your changes into a file of your own, or "
            "remove it, and hand off again"
        )
    files = {}
    for rel in writes:
        _move(stage / rel, dest / rel)
        files[rel] = new[rel]
    for rel in beside:
        _move(stage / rel, dest / (rel + NEW))
        files[rel + NEW] = new[rel]
        echo(
            f"{rel}: edited since tf2java wrote it, so it is kept; tf2java's new one is "
            f"{rel}{NEW} (version {handoff.get('version')}): bring its changes over"
        )
    for rel, sha in stamp.files.items():
        if rel in files or rel in beside or not (dest / rel).is_file() or (dest / rel).is_symlink():
            continue
        if sha256_file(dest / rel) == sha:  # tf2java's and no longer part of the module
            (dest / rel).unlink()
            _prune(dest, (dest / rel).parent)
        else:
            echo(f"{rel}: no longer generated, but edited since tf2java wrote it, so it is kept")
    _write_stamp(dest, Stamp(files, handoff))


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with staged_file(target, True) as staged:
        os.replace(source, staged)


def _prune(root: Path, folder: Path) -> None:
    """Removes `folder` and its parents up to `root` while they are empty."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _write_stamp(root: Path, stamp: Stamp) -> None:
    text = json.dumps({"handoff": stamp.handoff, "files": stamp.files}, indent=2, sort_keys=True)
    with staged_file(root / STAMP, True) as staged:
        staged.write_text(text + "\n", encoding="utf-8")


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != STAMP
    }


def _inside(rel: str) -> bool:
    parts = Path(rel).parts
    return bool(parts) and not Path(rel).is_absolute() and ".." not in parts
