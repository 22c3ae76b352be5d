"""The Java side's environment: the TensorFlow Java classpath, javac, and compiling generated
sources. No TensorFlow import."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from exporter.errors import EnvironmentError_

CLASSPATH_ENV = "TF2JAVA_CLASSPATH"
CLASSPATH_FILE = Path("build/tf2java/classpath.txt")
RELEASE = "11"


def project_root() -> Path | None:
    """The tf2java checkout (holding build.gradle) this package runs from, if any."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here, Path.cwd()):
        if (candidate / "build.gradle").is_file() and (candidate / "java-harness").is_dir():
            return candidate
    return None


@cache
def classpath() -> tuple[str, ...]:
    """TensorFlow Java's jars: from $TF2JAVA_CLASSPATH, else resolved by the checkout's Gradle
    build (once; the result is kept in build/tf2java/classpath.txt)."""
    env = os.environ.get(CLASSPATH_ENV)
    if env:
        return _checked(env, f"${CLASSPATH_ENV}")
    root = project_root()
    if root is None:
        raise EnvironmentError_(
            f"TensorFlow Java's classpath is unknown; set {CLASSPATH_ENV} to its jars "
            "(tensorflow-core-api, tensorflow-core-native with its linux-x86_64 classifier, "
            "ndarray, javacpp, protobuf-java)"
        )
    cp_file = root / CLASSPATH_FILE
    if not cp_file.is_file() or not all(Path(p).exists() for p in _split(cp_file.read_text())):
        gradle = shutil.which("gradle")
        if gradle is None:
            raise EnvironmentError_(
                "gradle is not installed; run `make setup` (or "
                f"apt-get install gradle), or set {CLASSPATH_ENV}"
            )
        proc = subprocess.run(
            [gradle, "-q", "--no-daemon", "tf2javaClasspath"],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise EnvironmentError_("gradle could not resolve TensorFlow Java: " + " | ".join(tail))
    return _checked(cp_file.read_text(), str(cp_file))


def _split(text: str) -> list[str]:
    return [p for p in text.strip().split(os.pathsep) if p]


def _checked(text: str, where: str) -> tuple[str, ...]:
    entries = _split(text)
    missing = [p for p in entries if not Path(p).exists()]
    if missing or not entries:
        raise EnvironmentError_(f"{where} names missing jars: {', '.join(missing) or '(none)'}")
    return tuple(entries)


def java_home() -> Path:
    """The JDK that compiles and runs generated code: $JAVA_HOME, else javac's on the PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "javac").exists():
        return Path(home)
    javac = shutil.which("javac")
    if javac is None:
        raise EnvironmentError_(
            "no JDK found: install one (apt-get install openjdk-17-jdk) or set JAVA_HOME"
        )
    return Path(javac).resolve().parent.parent


def compile_sources(sources: list[Path], classes_dir: Path) -> None:
    """javac --release 11 over generated sources against TensorFlow Java."""
    javac = java_home() / "bin" / "javac"
    cmd = [
        str(javac),
        "--release",
        RELEASE,
        "-encoding",
        "UTF-8",
        "-Xlint:all,-options",
        "-cp",
        os.pathsep.join(classpath()),
        "-d",
        str(classes_dir),
        *[str(s) for s in sources],
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EnvironmentError_(
            "javac failed on the generated code: "
            + " | ".join(proc.stderr.strip().splitlines()[:6])
        )


def jvm_path() -> str:
    home = java_home()
    for candidate in ("lib/server/libjvm.so", "jre/lib/amd64/server/libjvm.so"):
        if (home / candidate).exists():
            return str(home / candidate)
    raise EnvironmentError_(f"{home}: no libjvm.so; set JAVA_HOME to a full JDK")
