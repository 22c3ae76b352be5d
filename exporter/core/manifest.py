"""manifest.json: build it from the model description, write it, read it back, validate it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema

from exporter import GENERATOR, __version__
from exporter.core.model import Artifact
from exporter.errors import ModelError

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class Manifest:
    """What an export holds and how to call it, as `manifest.json` says it: the model's name,
    where it came from, its artifacts (each with its signatures, ops and file hashes), the
    versions that made it and the runtime that ran it, and the tolerances of its checks."""

    name: str
    source_format: str
    source_name: str
    tensorflow_version: str
    keras_version: str | None
    artifacts: list[Artifact]
    generator_version: str = __version__
    pinned: dict[str, Any] = field(default_factory=dict)  # placeholder -> value (--set)
    # A Keras file's readers: {"read_by": "tf_keras 2.18.0", "written_by": "2.15.0" | None}
    keras: dict[str, Any] | None = None
    source_sha256: str | None = None  # of the source's files as exported (`source_digest`)
    # How the export was checked, which parity repeats: {"atol", "rtol", "outputs": {key:
    # {"compare": "shape" | "skip", "why"}}} for outputs not compared by value.
    checks: dict[str, Any] = field(default_factory=dict)

    def checked(self, name: str, given: Any, default: Any) -> Any:
        """A check's setting (atol, rtol, batch): `given` unless None, else the export's,
        else `default`."""
        return self.checks.get(name, default) if given is None else given

    def artifact(self, fmt: str) -> Artifact:
        for art in self.artifacts:
            if art.format == fmt:
                return art
        have = ", ".join(a.format for a in self.artifacts)
        raise ModelError(f"the manifest has no {fmt} artifact; it has: {have}")

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "generator": {"name": GENERATOR, "version": self.generator_version},
            "model": {
                "name": self.name,
                "source_format": self.source_format,
                "source_name": self.source_name,
                **({"source_sha256": self.source_sha256} if self.source_sha256 else {}),
                **({"pinned": self.pinned} if self.pinned else {}),
                **({"keras": self.keras} if self.keras else {}),
            },
            "tensorflow": {"version": self.tensorflow_version, "keras_version": self.keras_version},
            "artifacts": [a.to_json() for a in self.artifacts],
            **({"checks": self.checks} if self.checks else {}),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            name=data["model"]["name"],
            source_format=data["model"]["source_format"],
            source_name=data["model"]["source_name"],
            tensorflow_version=data["tensorflow"]["version"],
            keras_version=data["tensorflow"].get("keras_version"),
            artifacts=[Artifact.from_json(a) for a in data["artifacts"]],
            generator_version=data["generator"]["version"],
            pinned=dict(data["model"].get("pinned", {})),
            keras=data["model"].get("keras"),
            source_sha256=data["model"].get("source_sha256"),
            checks=dict(data.get("checks", {})),
        )


@cache
def schema() -> dict[str, Any]:
    text = resources.files("exporter.core").joinpath("schema/manifest.schema.json").read_text()
    return json.loads(text)


@cache
def validator() -> jsonschema.protocols.Validator:
    """The schema's validator. The schema is checked against its metaschema by a test, not on
    each read (that check costs more than reading a manifest)."""
    return jsonschema.validators.validator_for(schema())(schema())


def validate(data: dict[str, Any], where: str = MANIFEST_NAME) -> None:
    exc = jsonschema.exceptions.best_match(validator().iter_errors(data))
    if exc is not None:
        path = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ModelError(f"{where}: does not match the manifest schema at {path}: {exc.message}")


MAX_MANIFEST_BYTES = 4 * 2**20  # a manifest of a thousand signatures is well under 1 MiB


def read(export_dir: Path) -> tuple[Manifest, str]:
    """Reads and validates OUT/manifest.json; returns it with its sha256. A manifest is data
    from elsewhere: its size is bounded before it is parsed, and every path in it must stay
    inside the export folder."""
    path = export_dir / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"{export_dir}: no {MANIFEST_NAME}; create it with `tf2java export`")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ModelError(
            f"{path}: {path.stat().st_size} bytes, more than a manifest holds "
            f"({MAX_MANIFEST_BYTES // 2**20} MiB at most); export again"
        )
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
        validate(data, str(path))
    except RecursionError:
        raise ModelError(f"{path}: nested deeper than a manifest is; export again") from None
    except ValueError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from exc
    manifest = Manifest.from_json(data)
    check_paths(export_dir, manifest)
    return manifest, hashlib.sha256(raw).hexdigest()


def check_paths(export_dir: Path, manifest: Manifest) -> None:
    """Every artifact path and file entry is relative, normalized, inside its artifact, and
    stays inside the export folder once symlinks are resolved; every artifact lists files."""
    root = export_dir.resolve()
    for art in manifest.artifacts:
        _relative(art.path, f"artifact {art.format} path")
        if not art.files:
            raise ModelError(
                f"{export_dir / MANIFEST_NAME}: the {art.format} artifact lists no files, so "
                "nothing could be checked against it; export again"
            )
        for entry in art.files:
            rel = entry["path"]
            _relative(rel, f"{art.format} file")
            if rel != art.path and not rel.startswith(art.path + "/"):
                raise ModelError(
                    f"{export_dir / MANIFEST_NAME}: file '{rel}' is not inside its artifact "
                    f"'{art.path}'"
                )
            resolved = (export_dir / rel).resolve()
            if root not in resolved.parents:
                raise ModelError(
                    f"{export_dir / rel}: resolves to {resolved}, outside the export folder; "
                    "a manifest only names files inside it"
                )


def _relative(path: str, what: str) -> None:
    pure = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or pure.is_absolute()
        or any(part in ("..", ".") for part in path.split("/"))
        or str(pure) != path
    ):
        raise ModelError(
            f"{MANIFEST_NAME}: {what} '{path[:200]}' is not a plain relative path inside the "
            "export folder"
        )


def file_entries(root: Path, rel: str) -> list[dict[str, Any]]:
    """sha256 and size of every file of an artifact (a file, or a directory's files)."""
    target = root / rel
    files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
    return [
        {"path": p.relative_to(root).as_posix(), "sha256": sha256_file(p), "size": p.stat().st_size}
        for p in files
    ]


def is_export_dir(path: Path) -> bool:
    """Whether `path` is a tf2java export folder (it holds manifest.json)."""
    return path.is_dir() and (path / MANIFEST_NAME).is_file()


def details(manifest: Manifest, sha: str) -> dict[str, Any]:
    """What `inspect` says of an export beyond its signatures: the model, where it came
    from, the TensorFlow that made it, the manifest's sha256, each artifact's signatures."""
    data: dict[str, Any] = {
        "model": manifest.name,
        "exported_from": f"{manifest.source_name} ({manifest.source_format})",
        "tensorflow_version": manifest.tensorflow_version,
        "manifest_sha256": sha,
        "artifacts": {
            art.format: {
                "path": art.path,
                "signatures": [s.key for s in art.signatures],
                **({"left_out": art.left_out} if art.left_out else {}),
            }
            for art in manifest.artifacts
        },
    }
    if manifest.source_sha256:
        data["source_sha256"] = manifest.source_sha256
    if manifest.pinned:
        data["pinned"] = manifest.pinned
    if manifest.keras:
        data["keras"] = manifest.keras
    return data


def source_files(src: Path) -> list[Path]:
    """The files a source is: the file itself, every file of a folder (a SavedModel, a
    Serving layout), or those of a checkpoint named by its prefix (PREFIX.index,
    PREFIX.data-*, PREFIX.meta)."""
    if src.is_file():
        return [src]
    if src.is_dir():
        return sorted(p for p in src.rglob("*") if p.is_file())
    return sorted(p for p in src.parent.glob(src.name + ".*") if p.is_file())


def source_digest(src: Path) -> str:
    """One sha256 of a source: over the lines "PATH SHA256" of its files (`source_files`),
    each path relative to the source (a file: its name), sorted."""
    base = src if src.is_dir() else src.parent
    lines = "".join(
        f"{p.relative_to(base).as_posix()} {sha256_file(p)}\n" for p in source_files(src)
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(export_dir: Path, manifest: Manifest) -> None:
    """Every model file the manifest lists must be there with its recorded sha256, and an
    artifact folder holds no file the manifest does not list."""
    for art in manifest.artifacts:
        listed = {entry["path"] for entry in art.files}
        folder = export_dir / art.path
        if folder.is_dir():
            for extra in sorted(p for p in folder.rglob("*") if not p.is_dir()):
                rel = extra.relative_to(export_dir).as_posix()
                if rel not in listed:
                    raise ModelError(
                        f"{extra}: in the {art.format} artifact but not in the manifest "
                        "(added after export); export again"
                    )
        for entry in art.files:
            path = export_dir / entry["path"]
            if not path.is_file():
                raise ModelError(f"{path}: listed in the manifest but missing; export again")
            if sha256_file(path) != entry["sha256"]:
                raise ModelError(
                    f"{path}: sha256 differs from the manifest (changed after export); export again"
                )
