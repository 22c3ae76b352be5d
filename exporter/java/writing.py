"""Writing: the generated sources written into a source folder beside the user's files (a stamp
records what tf2java wrote, so that regenerating replaces and removes only those), and the
compile check that proves they compile."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from exporter.core.fsutil import scratch, staged_file
from exporter.core.manifest import Manifest
from exporter.errors import ModelError, OutputExistsError
from exporter.java import javaenv
from exporter.java.binding import DEFAULT_PACKAGE, JavaClass, interface_of
from exporter.java.naming import pascal
from exporter.java.planning import plan
from exporter.java.rendering import sources


def generated_paths(classes: list[JavaClass]) -> list[Path]:
    """Every file the classes need, relative to their source folder: each class, the model's
    interface and the package's support class."""
    iface = interface_of(classes)
    return [c.relative_path for c in classes] + [iface.relative_path, iface.support_path]


def write_sources(
    classes: list[JavaClass], manifest: Manifest, manifest_sha256: str, root: Path
) -> list[Path]:
    """Writes `sources` under the source folder `root`; returns the paths written."""
    paths = []
    for rel, text in sources(classes, manifest, manifest_sha256).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


STAMP = ".tf2java-generated.json"  # in a source folder: the files tf2java wrote there


def generate(
    manifest: Manifest,
    manifest_sha256: str,
    out_dir: Path,
    *,
    package: str = DEFAULT_PACKAGE,
    class_name: str | None = None,
    formats: tuple[str, ...] | None = None,
    force: bool = False,
    templates: Path | None = None,
    strings: str = "text",
    output_names: dict[str, str] | None = None,
    labels: dict[str, list[str]] | None = None,
) -> list[JavaClass]:
    """Writes one Java file per artifact under `out_dir`, a source folder that may hold other
    code (`src/main/java`). Only tf2java's own files are written and replaced: they are
    recorded in `out_dir/.tf2java-generated.json` with the sha256 of what was written, per
    model and package, and a file counts as tf2java's only while its content still is that;
    any other file of the same name (edited by hand, or claimed by an edited stamp) is
    replaced only with `force`, and every other file is left alone. Files this model had
    before and no longer has are removed when they are still as written. Each file is
    replaced atomically.

    Raises UsageError (bad package or class name, a foreign file without force)."""
    classes = plan(manifest, package, class_name, formats, strings, output_names, templates, labels)
    rendered = sources(classes, manifest, manifest_sha256, templates)
    stamp = _read_stamp(out_dir)
    own = {
        rel for files in stamp.values() for rel, sha in files.items() if _ours(out_dir, rel, sha)
    }
    for rel in rendered:
        if (out_dir / rel).exists() and rel not in own and not force:
            raise OutputExistsError(
                f"{out_dir / rel}: already exists and tf2java did not generate it; pass "
                "--force to replace it"
            )
    key = f"{package}.{class_name or pascal(manifest.name)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, text in rendered.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with staged_file(target, True) as stage:
            stage.write_text(text, encoding="utf-8")
    for rel in set(stamp.get(key, {})) - set(rendered):
        if rel in own:  # this model's class of a format it lost, as tf2java wrote it
            (out_dir / rel).unlink(missing_ok=True)
    stamp[key] = {rel: _sha256(text.encode("utf-8")) for rel, text in sorted(rendered.items())}
    with staged_file(out_dir / STAMP, True) as stage:
        stage.write_text(json.dumps({"generated": stamp}, indent=2, sort_keys=True) + "\n")
    return classes


def _read_stamp(out_dir: Path) -> dict[str, dict[str, str | None]]:
    """model key -> relative path -> the sha256 tf2java wrote (None in a stamp from before
    hashes were kept); paths that would leave the folder are not ours."""
    path = out_dir / STAMP
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())["generated"]
        stamp = {}
        for key, files in data.items():
            if isinstance(files, list):
                files = dict.fromkeys(files)
            stamp[str(key)] = {
                rel: sha if isinstance(sha, str) else None
                for rel, sha in files.items()
                if isinstance(rel, str) and _inside(rel)
            }
        return stamp
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ModelError(
            f"{path}: not a tf2java stamp file; remove it, or generate into another folder"
        ) from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ours(out_dir: Path, rel: str, sha: str | None) -> bool:
    """Whether the file still is what tf2java wrote there (absent counts too). A stamp
    without hashes vouches only for files that still carry the generated header."""
    path = out_dir / rel
    if not path.is_file() or path.is_symlink():
        return not path.exists() and not path.is_symlink()
    data = path.read_bytes()
    if sha is None:
        return data.startswith(b"// Generated by ")
    return _sha256(data) == sha


def _inside(rel: str) -> bool:
    parts = Path(rel).parts
    return (
        bool(parts) and not Path(rel).is_absolute() and ".." not in parts and rel.endswith(".java")
    )


def compile_check(classes: list[JavaClass], out_dir: Path) -> str | None:
    """Compiles the generated files with javac against TensorFlow Java, into a temporary
    folder. Returns why it could not try (no JDK, no TensorFlow Java jars), else None; raises
    CompileError naming the class and the signature whose code javac refused."""
    try:
        javaenv.java_home()
        javaenv.classpath()
    except javaenv.EnvironmentError_ as exc:
        return str(exc)
    with scratch("javac") as tmp:
        try:
            files = [out_dir / rel for rel in generated_paths(classes)]
            javaenv.compile_sources(files, Path(tmp))
        except javaenv.CompileError as exc:
            raise javaenv.CompileError(_explain(exc, classes, out_dir)) from None
    return None


def _explain(exc, classes: list[JavaClass], out_dir: Path) -> str:
    """'Class.java:LINE (signature 'KEY' of the frozen artifact): message' for the first
    error; the signature is the one whose method holds the line."""
    if not exc.errors:
        return str(exc)
    path, line, message = exc.errors[0]
    for cls in classes:
        if (out_dir / cls.relative_path).resolve() != path.resolve():
            continue
        text = path.read_text(encoding="utf-8").splitlines()[:line]
        where = f"the {cls.artifact.format} artifact"
        for jsig in cls.signatures:
            marker = f" {jsig.method}("
            if any(marker in row and "public " in row for row in text):
                where = f"signature '{jsig.sig.key}' of the {cls.artifact.format} artifact"
        return (
            f"the generated {cls.name}.java does not compile at line {line} ({where} in the "
            f"manifest): {message}"
        )
    return f"{path.name}:{line}: {message}"
