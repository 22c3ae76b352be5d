"""What changed between two hand-offs of a model, as a Java caller sees it: the API of the
generated classes (classes, methods, parameters, results, outputs with dtype and shape, label
counts), the model files' digest, the tolerance and the runtime; the version semantic
versioning gives the new hand-off, and the CHANGELOG section that says why."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from exporter.core.inputs import format_shape
from exporter.errors import UsageError

FIRST_VERSION = "1.0.0"
LEVELS = ("none", "patch", "minor", "major")
_SEMVER = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?([-+].*)?")


def api_of(package: str, classes) -> dict:
    """The caller's view of the generated classes, as JSON: what a Java build compiles
    against and what each call returns."""
    api: dict = {"package": package, "classes": {}}
    for cls in classes:
        methods = api["classes"].setdefault(cls.name, {})
        for jsig in cls.signatures:
            methods[jsig.method] = {
                "signature": jsig.sig.key,
                "params": [
                    f"{t.java_type} {t.ident}: {t.info.dtype} {format_shape(t.info.shape)}"
                    for t in jsig.inputs
                ],
                "result": jsig.result_class,
                "outputs": {
                    t.getter: f"{t.java_type}: {t.info.dtype} {format_shape(t.info.shape)}"
                    + (f", {len(t.labels)} labels" if t.labels else "")
                    for t in jsig.outputs
                },
            }
    return api


def model_digest(classes) -> str:
    """One sha256 of every model file the classes run (each class's own digest)."""
    lines = "".join(f"{c.model_sha256}\n" for c in sorted(classes, key=lambda c: c.name))
    return hashlib.sha256(lines.encode()).hexdigest()


@dataclass
class Changes:
    """The change from one hand-off to the next: each line says what, and its level says what
    a caller must do (major: change code; minor: may use more; patch: nothing)."""

    level: str = "none"
    lines: list[str] = field(default_factory=list)

    def add(self, level: str, line: str) -> None:
        self.lines.append(line)
        if LEVELS.index(level) > LEVELS.index(self.level):
            self.level = level


def compare(before: dict, after: dict) -> Changes:
    """`before` and `after`: hand-off records ({api, model_sha256, tolerances, runtime})."""
    changes = Changes()
    old, new = before.get("api", {}), after["api"]
    if old.get("package") != new["package"]:
        changes.add("major", f"Changed: package `{old.get('package')}` -> `{new['package']}`")
    old_classes, new_classes = old.get("classes", {}), new["classes"]
    for name in sorted(old_classes.keys() - new_classes.keys()):
        changes.add("major", f"Removed: class `{name}`")
    for name in sorted(new_classes.keys() - old_classes.keys()):
        changes.add("minor", f"Added: class `{name}`")
    for name in sorted(old_classes.keys() & new_classes.keys()):
        _compare_methods(changes, name, old_classes[name], new_classes[name])
    if before.get("model_sha256") != after["model_sha256"]:
        changes.add(
            "patch",
            f"Model files: sha256 {after['model_sha256'][:12]} (was "
            f"{str(before.get('model_sha256'))[:12]})",
        )
    for key, what in (("tolerances", "Golden tolerance (atol, rtol)"), ("runtime", "Runtime")):
        if before.get(key) != after[key]:
            changes.add("patch", f"{what}: {after[key]} (was {before.get(key)})")
    return changes


def _compare_methods(changes: Changes, cls: str, old: dict, new: dict) -> None:
    for method in sorted(old.keys() - new.keys()):
        changes.add(
            "major", f"Removed: `{cls}.{method}(...)` (signature `{old[method]['signature']}`)"
        )
    for method in sorted(new.keys() - old.keys()):
        changes.add(
            "minor", f"Added: `{cls}.{method}(...)` (signature `{new[method]['signature']}`)"
        )
    for method in sorted(old.keys() & new.keys()):
        was, now = old[method], new[method]
        where = f"`{cls}.{method}(...)`"
        if was["params"] != now["params"]:
            changes.add(
                "major",
                f"Changed: {where} parameters ({', '.join(now['params'])}; were "
                f"{', '.join(was['params']) or 'none'})",
            )
        if was["result"] != now["result"]:
            changes.add(
                "major", f"Changed: {where} returns `{now['result']}` (was `{was['result']}`)"
            )
        outs_old, outs_new = was["outputs"], now["outputs"]
        for getter in sorted(outs_old.keys() - outs_new.keys()):
            changes.add("major", f"Removed: {where} result's `{getter}()`")
        for getter in sorted(outs_new.keys() - outs_old.keys()):
            changes.add("minor", f"Added: {where} result's `{getter}()`: {outs_new[getter]}")
        for getter in sorted(outs_old.keys() & outs_new.keys()):
            if outs_old[getter] != outs_new[getter]:
                changes.add(
                    "major",
                    f"Changed: {where} result's `{getter}()`: {outs_new[getter]} (was "
                    f"{outs_old[getter]})",
                )


def bump(version: str, level: str) -> str:
    """The next version after `version` for a change of `level` (a pre-release or build
    suffix is dropped)."""
    match = _SEMVER.fullmatch(version)
    if not match:
        raise UsageError(
            f"the module's version {version!r} is not MAJOR.MINOR.PATCH, so the next one cannot "
            "be worked out; give it with --module-version"
        )
    major, minor, patch = (int(part or 0) for part in match.groups()[:3])
    if level == "major":
        return f"{major + 1}.0.0"
    if level == "minor":
        return f"{major}.{minor + 1}.0"
    if level == "patch":
        return f"{major}.{minor}.{patch + 1}"
    return version


def decide(previous: dict | None, record: dict, given: str | None) -> tuple[str, Changes]:
    """The version of this hand-off and what changed since `previous` (None: the first).
    Without `given`, semantic versioning decides; a version is never given to another model
    than the one it was first handed off with (`previous["versions"]`: version -> model
    sha256). Adds this hand-off to `record["versions"]`."""
    history = dict((previous or {}).get("versions") or {})
    if previous is None:
        version, changes = given or FIRST_VERSION, Changes()
    else:
        changes = compare(previous, record)
        was = str(previous.get("version", ""))
        version = given or bump(was, changes.level)
        if given == was and changes.level != "none":
            raise UsageError(
                f"--module-version {given}: the module holds {given} for another model (sha256 "
                f"{str(previous.get('model_sha256'))[:12]}); a changed model needs a new "
                f"version: {bump(was, changes.level)} by semantic versioning ({changes.level}: "
                f"{changes.lines[0]})"
            )
    if history.get(version, record["model_sha256"]) != record["model_sha256"]:
        raise UsageError(
            f"--module-version {version}: handed off before for another model (sha256 "
            f"{history[version][:12]}); a version names one model: choose another"
        )
    history[version] = record["model_sha256"]
    record["versions"] = history
    return version, changes


CHANGELOG_HEAD = (
    "# Changelog\n\nEach hand-off of the model by tf2java adds a section; semantic versioning: "
    "major when a caller's code must change, minor when the API grew, patch when only the "
    "model's weights, the tolerance or the runtime changed.\n"
)


def changelog(existing: str | None, version: str, date: str, changes: Changes, first: bool) -> str:
    """CHANGELOG.md with this hand-off's section on top of the sections already there (the
    team's own edits kept as they are); unchanged when nothing changed (the same version)."""
    if existing and not first and changes.level == "none":
        return existing
    if first:
        body = ["First hand-off."]
    elif changes.level == "none":
        body = ["Handed off again: the same model, API and runtime."]
    else:
        what = {
            "major": "Major: callers must change their code.",
            "minor": "Minor: the API grew; existing calls are unchanged.",
            "patch": "Patch: the same API; new model files, tolerance or runtime.",
        }[changes.level]
        body = [what, "", *(f"- {line}" for line in changes.lines)]
    section = f"## {version} - {date}\n\n" + "\n".join(body) + "\n"
    if not existing:
        return f"{CHANGELOG_HEAD}\n{section}"
    top = re.search(r"^## ", existing, re.M)
    if top is None:
        return existing.rstrip("\n") + f"\n\n{section}"
    return existing[: top.start()] + section + "\n" + existing[top.start() :]
