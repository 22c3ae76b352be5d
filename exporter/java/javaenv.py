"""The Java side's environment: the TensorFlow Java classpath, javac, compiling generated
sources, and starting the jpype worker process. No TensorFlow import."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from exporter.core.fsutil import project_root, remove_dead
from exporter.errors import EnvironmentError_, JavaWorkerError
from exporter.java import worker as worker_module
from exporter.java.binding import WorkerJob

CLASSPATH_ENV = "TF2JAVA_CLASSPATH"
CLASSPATH_FILE = Path("build/tf2java/classpath.txt")
RELEASE = "11"


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


def runtime_version(jars: tuple[str, ...] | None = None) -> str:
    """The TensorFlow Java version on the classpath, read from its tensorflow-core-api jar."""
    for jar in jars or classpath():
        match = re.fullmatch(r"tensorflow-core-api-(\d+\.\d+\.\d+)\.jar", Path(jar).name)
        if match:
            return match.group(1)
    raise EnvironmentError_("no tensorflow-core-api jar on the TensorFlow Java classpath")


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
        raise CompileError(proc.stderr)


def cache_dir() -> Path:
    """tf2java's cache: $TF2JAVA_CACHE, else $XDG_CACHE_HOME/tf2java or ~/.cache/tf2java."""
    if os.environ.get("TF2JAVA_CACHE"):
        return Path(os.environ["TF2JAVA_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tf2java"


def compile_cached(sources: list[Path]) -> Path:
    """The classes javac makes of `sources`, compiled once per distinct set of sources (and
    classpath and JDK): a parity run over the same export reuses them."""
    digest = hashlib.sha256()
    for source in sorted(sources):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return compile_keyed(digest.hexdigest(), lambda: sources)


def compile_keyed(
    key: str,
    render: Callable[[], list[Path]],
    compiling: Callable[[int], contextlib.AbstractContextManager] = (
        lambda files: contextlib.nullcontext()
    ),
) -> Path:
    """The classes javac makes of the sources `render` writes, compiled once per `key` (and
    classpath and JDK); `render` runs only when they are not compiled yet, and javac inside
    `compiling(number of files)` (a phase to show)."""
    digest = hashlib.sha256()
    for part in [str(java_home()), *classpath(), key]:
        digest.update(part.encode() + b"\0")
    target = cache_dir() / "classes" / digest.hexdigest()[:32]
    if (target / ".complete").is_file():
        return target
    sources = render()
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_dead(target.parent, ".tmp-")  # left by a compile that was killed
    stage = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".tmp-{os.getpid()}-"))
    try:
        with compiling(len(sources)):
            compile_sources(sources, stage)
        (stage / ".complete").write_text("")
        try:
            os.replace(stage, target)
        except OSError:  # another run put it there first
            pass
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return target


class CompileError(EnvironmentError_):
    """javac refused generated code; `errors` holds (file, line, message) of each error."""

    exit_code = 1

    def __init__(self, output: str):
        self.errors = [
            (Path(m.group(1)), int(m.group(2)), m.group(3))
            for m in re.finditer(r"^(.+\.java):(\d+): error: (.*)$", output, re.M)
        ]
        lines = output.strip().splitlines()[:6]
        super().__init__("javac failed on the generated code: " + " | ".join(lines))


_CRASH_MARKS = (
    "Aborting due to",
    "OutOfMemoryError",
    "SIGSEGV",
    "SIGBUS",
    "fatal error",
    "Fatal Python error",
    "Killed",
)


def crash_cause(log: str, proc: subprocess.Popen) -> str:
    """The line of a dead worker's output that says why, else its last lines."""
    lines = [line.strip("# ").strip() for line in log.splitlines() if line.strip("# ").strip()]
    marked = [line for line in lines if any(mark in line for mark in _CRASH_MARKS)]
    if marked:
        return marked[0]
    if proc.returncode and proc.returncode < 0:
        return f"killed by signal {-proc.returncode}"
    return " | ".join(lines[-3:]) or f"exit code {proc.returncode}"


def jvm_path() -> str:
    home = java_home()
    for candidate in ("lib/server/libjvm.so", "jre/lib/amd64/server/libjvm.so"):
        if (home / candidate).exists():
            return str(home / candidate)
    raise EnvironmentError_(f"{home}: no libjvm.so; set JAVA_HOME to a full JDK")


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_worker(work: Path, timeout: float, **request) -> dict:
    """Runs one worker process (one JVM, `worker.py`) on a request written into
    `work` and returns its response; kills it and its children on timeout."""
    with start_worker(work, **request) as worker:
        return worker.wait(timeout)


class Worker:
    """A running Java worker: `wait` for its response; leaving the `with` block stops it if
    it still runs (an error or Ctrl-C on this side), with everything it started."""

    def __init__(
        self,
        proc: subprocess.Popen,
        work: Path,
        watch_write: int,
        started: float,
        reply: int | None = None,
    ):
        self.proc, self.work, self._watch, self.started = proc, work, watch_write, started
        self._reply, self._rounds = reply, 0
        self._answers, self._sent = work / "round0.answers.json", started

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()  # a worker of rounds reads end-of-file: it ends
        if self.proc.poll() is None:
            _stop(self.proc)
        for fd in (self._watch, self._reply):
            if fd is not None:
                os.close(fd)
        self._watch = self._reply = None

    @property
    def rounds(self) -> int:
        """How many rounds it was sent."""
        return self._rounds

    def send(self, jobs: list[WorkerJob]) -> None:
        """Sends `jobs` to a worker started with `rounds`, which runs them with the models it
        loaded for earlier rounds while this process goes on; `receive` waits for them."""
        order = self.work / f"round{self._rounds}.json"
        self._answers = self.work / f"round{self._rounds}.answers.json"
        order.write_text(
            json.dumps({"jobs": [j.to_json() for j in jobs], "response": str(self._answers)})
        )
        self._sent = self.started if self._rounds == 0 else time.monotonic()
        self._rounds += 1
        try:
            self.proc.stdin.write(f"{order}\n".encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):  # it died already: `receive` says why
            pass

    def receive(self, timeout: float) -> dict:
        """The answers of the round `send` sent ({"jobs": [...], "tensorflow_java"}).
        `timeout` counts from the worker's start for the first round (its JVM starting is
        part of it), from the sending for the others. Raises JavaWorkerError (timeout,
        crash), EnvironmentError_ (TensorFlow Java did not start)."""
        try:
            left = max(0.1, timeout - (time.monotonic() - self._sent))
            if not select.select([self._reply], [], [], left)[0]:
                _stop(self.proc)
                raise JavaWorkerError(
                    f"the Java worker did not finish within {timeout:g} s and was stopped "
                    "(raise --timeout)"
                )
            if os.read(self._reply, 1):
                found = json.loads(self._answers.read_text())
                self._answers.unlink()
                return found
            self.proc.wait()  # end-of-file: it ended without answering
        except BaseException:  # Ctrl-C, SIGTERM: the worker goes with this process
            _stop(self.proc)
            raise
        self._answer()  # raises: it died, or TensorFlow Java did not start
        raise JavaWorkerError(f"the Java worker ended without answering ({self.proc.returncode})")

    def wait(self, timeout: float) -> dict:
        left = max(0.1, timeout - (time.monotonic() - self.started))
        try:
            self.proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            _stop(self.proc)
            raise JavaWorkerError(
                f"the Java worker did not finish within {timeout:g} s and was stopped "
                "(raise --timeout)"
            ) from None
        except BaseException:  # Ctrl-C, SIGTERM: the worker goes with this process
            _stop(self.proc)
            raise
        return self._answer()

    def _answer(self) -> dict:
        """The response of a worker that ended; raises JavaWorkerError when it died without
        one, EnvironmentError_ when TensorFlow Java did not start."""
        response_file = self.work / "response.json"
        if not response_file.is_file():
            log = (self.work / "worker.log").read_text(errors="replace")
            raise JavaWorkerError(
                f"the Java worker died before answering: {crash_cause(log, self.proc)}"
            )
        response = json.loads(response_file.read_text())
        if "error" in response:
            raise EnvironmentError_(f"TensorFlow Java did not start: {response['error']}")
        return response


def start_worker(
    work: Path,
    *,
    jobs: list[WorkerJob] | None = None,
    jars: list[str] | None = None,
    jvm_options: list[str] = (),
    rounds: bool = False,
    **extra,
) -> Worker:
    """Starts one worker process (one JVM, `worker.py`) on a request written into
    `work`, and returns at once: the JVM starts and runs its jobs while this process goes on.
    With `rounds`, it starts the JVM and TensorFlow Java and runs no jobs of its own but each
    round `Worker.send` sends, until the `with` block ends. Its output goes to
    `work/worker.log`."""
    request_file, response_file = work / "request.json", work / "response.json"
    request = {
        "jvm": jvm_path(),
        "classpath": list(jars or classpath()),
        "jvm_options": ["-Xss4m", f"-XX:ErrorFile={work}/hs_err_pid%p.log", *jvm_options],
        "jobs": [job.to_json() for job in jobs or []],
        **extra,
    }
    # Its own process group, so that a stop takes the JVM and everything it started; it holds
    # the read end of a pipe whose write end only this process has: when this process ends,
    # however it ends (SIGKILL too), the worker reads end-of-file and exits. With rounds, a
    # second pipe carries its replies, whose end-of-file here says that it ended.
    watch_read, watch_write = os.pipe()
    reply_read, reply_write = os.pipe() if rounds else (None, None)
    if rounds:
        request.update(rounds=True, reply_fd=reply_write)
    request_file.write_text(json.dumps(request, indent=2))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    try:
        with (work / "worker.log").open("w") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    worker_module.__name__,
                    str(request_file),
                    str(response_file),
                    str(watch_read),
                ],
                stdin=subprocess.PIPE if rounds else subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=work,
                start_new_session=True,
                pass_fds=(watch_read,) + ((reply_write,) if rounds else ()),
            )
    except BaseException:
        os.close(watch_write)
        if rounds:
            os.close(reply_read)
        raise
    finally:
        os.close(watch_read)
        if rounds:
            os.close(reply_write)  # the worker's alone: its end is end-of-file here
    return Worker(proc, work, watch_write, time.monotonic(), reply_read)
