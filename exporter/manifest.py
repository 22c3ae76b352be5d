"""manifest.json: build it from the model description, write it, read it back, validate it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from exporter import GENERATOR, __version__
from exporter.errors import ModelError
from exporter.model import Artifact

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class Manifest:
    name: str
    source_format: str
    source_name: str
    tensorflow_version: str
    keras_version: str | None
    artifacts: list[Artifact]
    generator_version: str = __version__
    pinned: dict[str, Any] = field(default_factory=dict)  # placeholder -> value (--set)

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
                **({"pinned": self.pinned} if self.pinned else {}),
            },
            "tensorflow": {"version": self.tensorflow_version, "keras_version": self.keras_version},
            "artifacts": [a.to_json() for a in self.artifacts],
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
        )


@cache
def schema() -> dict[str, Any]:
    text = resources.files("exporter").joinpath("schema/manifest.schema.json").read_text()
    return json.loads(text)


def validate(data: dict[str, Any], where: str = MANIFEST_NAME) -> None:
    try:
        jsonschema.validate(data, schema())
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ModelError(
            f"{where}: does not match the manifest schema at {path}: {exc.message}"
        ) from exc


def read(export_dir: Path) -> tuple[Manifest, str]:
    """Reads and validates OUT/manifest.json; returns it with its sha256."""
    path = export_dir / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"{export_dir}: no {MANIFEST_NAME}; create it with `tf2java export`")
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from exc
    validate(data, str(path))
    return Manifest.from_json(data), hashlib.sha256(raw).hexdigest()


def file_entries(root: Path, rel: str) -> list[dict[str, Any]]:
    """sha256 and size of every file of an artifact (a file, or a directory's files)."""
    target = root / rel
    files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
    return [
        {"path": p.relative_to(root).as_posix(), "sha256": sha256_file(p), "size": p.stat().st_size}
        for p in files
    ]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(export_dir: Path, manifest: Manifest) -> None:
    """Every model file the manifest lists must be there with its recorded sha256."""
    for art in manifest.artifacts:
        for entry in art.files:
            path = export_dir / entry["path"]
            if not path.is_file():
                raise ModelError(f"{path}: listed in the manifest but missing; export again")
            if sha256_file(path) != entry["sha256"]:
                raise ModelError(
                    f"{path}: sha256 differs from the manifest (changed after export); export again"
                )
