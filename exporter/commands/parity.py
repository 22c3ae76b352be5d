"""Python/Java parity: the same inputs through Python TensorFlow and through the generated Java
classes on TensorFlow Java, every output compared.

The Java side runs in a worker process (exporter.java.worker) that never imports Python
TensorFlow; this process runs the Python side. The start-up order lives here: importing this
module imports no TensorFlow, `parity` starts the worker's JVM first and imports TensorFlow
(and the checks that read graphs with it) while the JVM starts."""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from exporter import targets
from exporter.commands import javaside
from exporter.commands.javaside import JavaSide
from exporter.core import dtypes, streams
from exporter.core import inputs as inputs_mod
from exporter.core import manifest as manifest_mod
from exporter.core.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison, Tally, by_hand, compare
from exporter.core.console import Console, note, phase
from exporter.core.fsutil import check_target, refuse_overlap, scratch, staged_dir, staged_file
from exporter.core.inputs import DEFAULT_BATCH, check_input
from exporter.errors import (
    EXIT_ENVIRONMENT,
    EXIT_MISMATCH,
    EXIT_MODEL,
    EXIT_OK,
    JavaWorkerError,
    ModelError,
    OutputExistsError,
    Tf2JavaError,
    UsageError,
    VerificationError,
    batch_hint,
    first_line,
)
from exporter.java import javaenv
from exporter.java.worker import load_arrays, save_arrays

DEFAULT_TIMEOUT = 600.0


@dataclass
class CaseResult:
    format: str
    signature: str
    java_class: str
    comparison: Comparison | None = None
    error: str | None = None
    # Each side against outputs computed elsewhere (--expected) or by the source (--against)
    expected: list[Comparison] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.comparison is not None
            and self.comparison.ok
            and all(c.ok for c in self.expected)
        )

    def to_json(self) -> dict:
        data = {
            "format": self.format,
            "signature": self.signature,
            "java_class": self.java_class,
            "ok": self.ok,
        }
        if self.comparison is not None:
            data["outputs"] = self.comparison.to_json()["outputs"]
        if self.expected:
            data["against_expected"] = [c.to_json() for c in self.expected]
        if self.error:
            data["error"] = self.error
        return data


@dataclass
class ParityReport:
    export_dir: str
    manifest_sha256: str
    atol: float
    rtol: float
    tensorflow_python: str
    tensorflow_java: str | None = None
    cases: list[CaseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Why nothing was compared: a pre-check refused the export (exit code of that error)
    refused: str | None = None
    refused_exit: int | None = None
    worker_failed: bool = False  # the Java worker crashed or timed out
    inputs: str = ""  # what went in: how many examples, in how many batches, from where

    @property
    def ok(self) -> bool:
        return not self.refused and bool(self.cases) and all(c.ok for c in self.cases)

    @property
    def exit_code(self) -> int:
        """The README's table: 0 all matched, 1 outputs differ or Java failed on the model,
        4 the worker crashed or timed out, else the refusing error's own code."""
        if self.refused_exit is not None:
            return self.refused_exit
        if self.worker_failed:
            return EXIT_ENVIRONMENT
        return EXIT_OK if self.ok else EXIT_MISMATCH

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "export_dir": self.export_dir,
            "manifest_sha256": self.manifest_sha256,
            "atol": self.atol,
            "rtol": self.rtol,
            "tensorflow_python": self.tensorflow_python,
            "tensorflow_java": self.tensorflow_java,
            "seconds": round(self.seconds, 2),
            "inputs": self.inputs,
            "cases": [c.to_json() for c in self.cases],
            "notes": self.notes,
            **({"refused": self.refused} if self.refused else {}),
        }

    def lines(self) -> list[str]:
        out = [
            f"parity: Python TensorFlow {self.tensorflow_python} vs TensorFlow Java "
            f"{self.tensorflow_java or '(not started)'}, atol {self.atol:g}, rtol {self.rtol:g}"
        ]
        for case in self.cases:
            out.append(f"{case.format} '{case.signature}' ({case.java_class}):")
            if case.error:
                out.append(f"  [x]  Java failed: {case.error}")
            for line in case.comparison.lines() if case.comparison else []:
                out.append("  " + line)
            for other in case.expected:
                out.append(f"  {other.label}:")
                out.extend("    " + line for line in other.lines())
        out.extend(f"note: {n}" for n in self.notes)
        if self.inputs:
            out.append(f"inputs: {self.inputs}")
        if self.refused:
            out.append(f"parity REFUSED: {self.refused}")
            return out
        passed = sum(c.ok for c in self.cases)
        out.append(
            f"parity {'OK' if self.ok else 'FAILED'}: {passed} of {len(self.cases)} "
            f"signature checks passed in {self.seconds:.1f} s"
        )
        return out

    def junit_xml(self) -> str:
        suite = self.junit_suite("tf2java.parity")
        return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"

    def junit_suite(self, name: str) -> ET.Element:
        """The report as one JUnit test suite called `name`."""
        suite = ET.Element(
            "testsuite",
            name=name,
            timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"),
            time=f"{self.seconds:.2f}",
        )
        failures = errors = 0
        if self.refused:  # one error case naming the cause, for the CI job to show
            errors += 1
            tc = ET.SubElement(suite, "testcase", classname="tf2java.parity", name="pre-check")
            ET.SubElement(tc, "error", message=self.refused).text = self.refused
        for case in self.cases:
            checks = [(c, c.key) for c in (case.comparison.checks if case.comparison else [])]
            checks += [(c, f"{o.label}: {c.key}") for o in case.expected for c in o.checks]
            classname = f"{case.format}.{case.signature}"
            if case.error:
                failures += 1
                tc = ET.SubElement(suite, "testcase", classname=classname, name="java run")
                ET.SubElement(tc, "failure", message=case.error).text = case.error
            for check, name in checks:
                tc = ET.SubElement(suite, "testcase", classname=classname, name=name)
                if not check.ok:
                    failures += 1
                    message = "; ".join(check.problems)
                    ET.SubElement(tc, "failure", message=message).text = message
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        return suite


def parity(
    export_dir: Path,
    *,
    inputs: Path | None = None,
    batch: int | None = None,
    seed: int = 0,
    atol: float | None = None,
    rtol: float | None = None,
    atol_of: dict[str, float] | None = None,
    rtol_of: dict[str, float] | None = None,
    formats: tuple[str, ...] | None = None,
    signatures: tuple[str, ...] = (),
    timeout: float = DEFAULT_TIMEOUT,
    op_libraries: list[Path] = (),
    jvm_options: list[str] = (),
    allow_side_effects: bool = False,
    echo: Callable[[str], None] = lambda s: None,
    java: JavaSide | None = None,
    against: Path | None = None,
    skip: tuple[str, ...] = (),
    shape_only: tuple[str, ...] = (),
    save_outputs: Path | None = None,
    force: bool = False,
    expected_npz: Path | None = None,
) -> ParityReport:
    """Runs every signature of every Java-run artifact in `export_dir` through Python TensorFlow
    and, through its generated class, TensorFlow Java, on the same inputs, and compares every
    output within `atol`/`rtol` (`atol_of`/`rtol_of`: output key -> its own, as `--atol KEY=V`
    gives them). `inputs`: an .npz keyed by input key, a folder of them (a batch each) or a
    TFRecord file of tf.Example records (`batch` a batch), read batch by batch; else inputs
    generated with `batch` and `seed`. `formats` limits the artifacts, `signatures` the
    signatures (keys; default: every one); `op_libraries` are
    loaded on both sides; `jvm_options` go to the worker's JVM, which gets `timeout` seconds
    a batch. `java`: the Java side prepared with those same arguments (`javaside.prepare`),
    started before TensorFlow was imported; made here when None. Returns the ParityReport
    (not ok on any mismatch or Java failure). Raises ModelError (manifest, files, inputs),
    IncompatibleModelError (ops the runtime lacks), UsageError (side effects not allowed),
    EnvironmentError_ (no JDK or TensorFlow Java)."""
    started = time.monotonic()
    source = java.inputs if java is not None else inputs_for(export_dir, inputs, batch, seed)
    if save_outputs is not None:  # before anything runs
        refuse_overlap(save_outputs, export_dir, "export", "--save-outputs")
        check_target(save_outputs, force, "--force")
    if expected_npz is not None and source.kind != "npz":
        raise UsageError(
            f"--expected {expected_npz}: outputs computed elsewhere fit the inputs they were "
            "computed from; give those with --inputs FILE.npz"
        )
    unchanged = require_source(export_dir, against) if against is not None else None
    if java is None:
        java = javaside.prepare(
            export_dir,
            inputs=source,
            formats=formats,
            signatures=tuple(signatures),
            op_libraries=op_libraries,
            jvm_options=jvm_options,
            echo=echo,
        )
    with java:
        # TensorFlow loads while the JVM starts; the two never share a process.
        import tensorflow as tf

        from exporter.checks import opcheck
        from exporter.checks.opcheck import artifact_graphs, library_ops
        from exporter.checks.scan import artifact_side_effects, require_consent

        manifest = java.manifest
        # The export's own checks, unless told otherwise: its tolerances, and its outputs not
        # compared by value (unseeded random ops, --skip, --shape-only), with this run's.
        atol = manifest.checked("atol", atol, DEFAULT_ATOL)
        rtol = manifest.checked("rtol", rtol, DEFAULT_RTOL)
        keys = {o.key for a in manifest.artifacts for sig in a.signatures for o in sig.outputs}
        outputs = by_hand(
            manifest.checks.get("outputs", {}), keys, skip, shape_only, atol_of, rtol_of
        )
        reference = None
        if expected_npz is not None:
            of = _expected_outputs(expected_npz, manifest)
            given = {j.sig.key: of(j.sig.key) for c in java.classes for j in c.signatures}
            reference = Reference("--expected", lambda signature, feed: given[signature])
        # Nothing runs on either side before these checks pass: the worker waits.
        arts = artifact_graphs(export_dir, manifest.artifacts)
        _require_tensors(export_dir, arts)
        graphs = [(f"{a.format} ({a.path})", g) for a, g in arts]
        opcheck.require(
            graphs, javaenv.runtime_version(), echo=echo, extra_ops=library_ops(list(op_libraries))
        )
        consent = artifact_side_effects(export_dir, manifest)
        require_consent(consent, allow_side_effects, echo, "parity")
        report = ParityReport(str(export_dir), java.sha, atol, rtol, tf.__version__)
        report.notes = [
            f"{a.path}: no Java check, TensorFlow Java does not run TFLite (it was checked in "
            "Python against the source at export)"
            for a in manifest.artifacts
            if not targets.get(a.format).runs_in_java
        ]
        if unchanged:
            report.notes.append(unchanged)
        if java.strings == "bytes":
            report.notes.append(
                "string tensors went to Java as byte[] (the inputs hold strings that are not "
                "UTF-8 text); `tf2java java --strings bytes` generates that API"
            )
        for _, cls, jsig in java.runs:
            report.cases.append(CaseResult(cls.artifact.format, jsig.sig.key, cls.name))
            report.notes.extend(
                f"{cls.artifact.format} '{key}' runs the same function as '{jsig.sig.key}': "
                f"checked as it (one Java method, {jsig.method}, serves both)"
                for key in jsig.also
                if not signatures or key in signatures or jsig.sig.key in signatures
            )
        wanted = {case.signature for case in report.cases}
        compared_with = (  # --against: the source runs too, on every batch both sides run
            source_reference(against, manifest, wanted, allow_side_effects, echo)
            if against is not None
            else contextlib.nullcontext(reference)
        )
        running = (
            f"running {len(java.jobs)} signature(s) on TensorFlow Java and in Python TensorFlow"
        )
        with compared_with as reference, phase(echo, running):
            ran = _run_batches(java, report, (atol, rtol, outputs), reference, timeout, echo)
        if ran is not None and save_outputs is not None:
            number, kept = ran
            write_outputs(save_outputs, force, kept)
            which = f" (batch {number}: the first that failed, else the first)" if number else ""
            report.notes.append(f"inputs and both sides' outputs saved in {save_outputs}{which}")
    report.seconds = time.monotonic() - started
    return report


# The records of a TFRecord batch, unless --batch says, or the export was checked at batch 1
STREAM_BATCH = 64


def inputs_for(export_dir: Path, inputs: Path | None, batch: int | None, seed: int):
    """The inputs of a parity run (streams.Inputs): `inputs` or generated, in batches of
    `batch`, else of the batch the export was checked at (a graph may run at 1 only), else
    STREAM_BATCH records of a TFRecord."""
    if batch is None:
        batch = manifest_mod.read(export_dir)[0].checked("batch", None, DEFAULT_BATCH)
        streamed = inputs is not None and not (inputs.is_file() and zipfile.is_zipfile(inputs))
        if streamed and batch >= DEFAULT_BATCH:
            batch = STREAM_BATCH
    return streams.open_inputs(inputs, batch, seed)


class JVM:
    """One Java worker (one JVM with TensorFlow Java, and `op_libraries` loaded) that parity
    runs share, for the exports of one `tf2java parity` run or the tests of a pytest session:
    each export's classes load in a class loader of their own and each export takes its turn,
    the models of the one before closed first. Started at once (its start overlaps what comes
    next); `close` (or leaving the `with` block) stops it."""

    def __init__(self, op_libraries: list[Path] = (), jvm_options: list[str] = ()):
        self.op_libraries = list(op_libraries)
        self._work = scratch("parity-jvm")
        try:
            self.worker = javaside.start(Path(self._work.name), op_libraries, jvm_options)
        except BaseException:
            self._work.cleanup()
            raise

    def side(
        self,
        export_dir: Path,
        *,
        inputs: Path | None = None,
        batch: int | None = None,
        seed: int = 0,
        formats: tuple[str, ...] | None = None,
        signatures: tuple[str, ...] = (),
        echo: Callable[[str], None] = lambda s: None,
    ) -> JavaSide:
        """The Java side of `export_dir` (for `parity`'s `java`), served by this JVM."""
        side = javaside.plan(
            export_dir,
            inputs=inputs_for(export_dir, inputs, batch, seed),
            formats=formats,
            signatures=signatures,
            echo=echo,
        )
        side.worker, side.owns_worker = self.worker, False
        return side

    def close(self) -> None:
        self.worker.__exit__(None, None, None)
        self._work.cleanup()

    def __enter__(self) -> JVM:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def shared_java(
    outs: list[Path],
    *,
    batch: int | None,
    seed: int,
    formats: tuple[str, ...] | None = None,
    signatures: tuple[str, ...] = (),
    op_libraries: list[Path] = (),
    jvm_options: list[str] = (),
    echo: Callable[[str], None] = lambda s: None,
):
    """The Java sides of several exports' parity runs with one JVM for all, started before
    TensorFlow is imported: yields export -> its JavaSide (for `parity`'s `java`), or the
    Tf2JavaError that refused it before anything ran. The JVM stops when the block ends."""
    sides: dict[Path, JavaSide | Tf2JavaError] = {}
    with JVM(op_libraries, jvm_options) as jvm:
        try:
            for out in outs:
                try:
                    sides[out] = jvm.side(
                        out,
                        batch=batch,
                        seed=seed,
                        formats=formats,
                        signatures=signatures,
                        echo=echo,
                    )
                except Tf2JavaError as exc:
                    sides[out] = exc
            yield sides
        finally:
            for side in sides.values():
                if isinstance(side, JavaSide):
                    side.scratch.cleanup()


def _run_batches(
    java: JavaSide, report: ParityReport, tolerances: tuple, reference, timeout: float, echo
) -> tuple[int, list] | None:
    """Runs each batch of the inputs on both sides at once (the JVM, up since before
    TensorFlow was imported, runs the Java side while this process runs Python's; they share
    nothing but files) and folds each signature's comparison into `report`. Returns the batch
    kept for --save-outputs (its number, 0 for a single batch; its cases), None when the
    worker failed (every case then holds why)."""
    atol, rtol, outputs = tolerances
    tallies = {id(case): Tally(f"{case.format} {case.signature}") for case in report.cases}
    sides = ("python", "java")
    against = {
        (id(case), side): Tally(f"{side} vs {reference.what}")
        for case in report.cases
        for side in sides
        if reference is not None
    }
    wanted: dict = {}  # the reference's outputs of this batch, by signature and feed
    progress = Progress(java.inputs, echo)
    runners: dict = {}
    kept: tuple[int, list] = (0, [])
    examples = batches = 0
    feeds_of = streams.batches(java.inputs, java.sigs, parse_examples)
    for feeds, where in (
        [(java.first, 1.0)] if java.first is not None and not java.inputs.streamed else feeds_of
    ):
        batches += 1
        examples += streams.examples_in(feeds)
        java.send(feeds)
        expected = python_side(java, feeds, runners)
        try:
            response = java.worker.receive(timeout)
        except JavaWorkerError as exc:  # a crash or a hang fails every case, exit 4
            for case in report.cases:
                case.error = str(exc)
            report.worker_failed = True
            return None
        report.tensorflow_java = response.get("tensorflow_java")
        batch_cases, failed = [], False
        for (job, _, _), case, answer in zip(java.runs, report.cases, response["jobs"]):
            if case.error:
                continue
            if not answer["ok"]:
                case.error = answer["error"] + (f" (batch {batches})" if batches > 1 else "")
                continue
            data = load_arrays(job.result)
            actual = {o.key: data[f"o{i}"] for i, o in enumerate(job.outputs)}
            feed = feeds[(case.format, case.signature)]
            batch_cases.append((case.format, case.signature, feed, expected[job.id], actual))
            label = f"{case.format} {case.signature}"
            compared = compare(
                expected[job.id], actual, atol=atol, rtol=rtol, label=label, outputs=outputs
            )
            failed |= not compared.ok
            tallies[id(case)].add(compared, batches)
            case.comparison = tallies[id(case)].result()
            if reference is not None:
                key = (case.signature, id(feed))  # formats fed the same arrays: one run
                if key not in wanted:
                    wanted[key] = (feed, reference.outputs(case.signature, feed))
                for side, got in zip(sides, (expected[job.id], actual)):
                    tally = against[(id(case), side)]
                    tally.add(
                        compare(
                            wanted[key][1],
                            got,
                            atol=atol,
                            rtol=rtol,
                            label=tally.label,
                            outputs=outputs,
                        ),
                        batches,
                    )
                case.expected = [against[(id(case), side)].result() for side in sides]
        wanted.clear()
        if batches == 1 or (failed and not kept[0]):
            kept = (batches if java.inputs.streamed else 0, batch_cases)
        progress.update(where, examples)
    report.inputs = java.inputs.describe(examples, batches)
    return kept


@dataclass
class Reference:
    """Outputs both sides are compared with besides each other: `what` names them in the
    report ("--expected", "the source"); `outputs(signature, feed)` gives them for a batch."""

    what: str
    outputs: Callable[[str, dict], dict]


@contextlib.contextmanager
def source_reference(src: Path, manifest, signatures: set[str], allow_side_effects: bool, echo):
    """`--against SRC`, unchanged since the export: the source loaded in this process to run
    every batch beside both sides (with the export's --set pins), let go of at the end."""
    import tempfile

    from exporter.checks.scan import require_consent, source_side_effects
    from exporter.sources import LoadOptions, load_source

    pins = {name: str(value) for name, value in manifest.pinned.items()}
    with tempfile.TemporaryDirectory(prefix="tf2java-against-") as work:
        with phase(echo, "loading the source to run it beside both sides"):
            source = load_source(src, LoadOptions(pins=pins, stage=False), Path(work))
        missing = sorted(signatures - {s.key for s in source.signatures})
        if missing:
            raise VerificationError(
                f"--against {src}: the source has no signature {', '.join(missing)}, which the "
                "export has; give the source the export was made from"
            )
        sigs = [s for s in source.signatures if s.key in signatures]
        require_consent(source_side_effects(source, sigs), allow_side_effects, echo, "parity")
        try:
            yield Reference("the source", source.run)
        finally:
            source.release()


class Progress:
    """How far a run through streamed inputs is: on a terminal, the running phase's line
    rewritten in place; elsewhere (a CI log), a line each tenth of the way; nothing with
    --quiet, nor for one batch."""

    def __init__(self, inputs: streams.Inputs, echo: Callable[[str], None]):
        self.inputs, self.echo = inputs, echo
        self.started, self.tenths = time.monotonic(), 0
        self.live = inputs.streamed and isinstance(echo, Console) and echo.live

    def update(self, where: float, examples: int) -> None:
        if not self.inputs.streamed:
            return
        line = (
            f"{where:4.0%} of {self.inputs.path.name}: {examples} example(s) in "
            f"{time.monotonic() - self.started:.1f} s"
        )
        if self.live:
            self.echo.status(line.strip())
        elif int(where * 10) > self.tenths:
            self.tenths = int(where * 10)
            note(self.echo, line.strip())


def parse_examples(records: np.ndarray, sig, where: str) -> dict[str, np.ndarray]:
    """Each input of `sig` from the Example feature of its key, with TensorFlow's parser."""
    import tensorflow as tf

    spec = {}
    for t in sig.inputs:
        kind = dtypes.get(t.dtype).kind
        dtype = tf.string if kind == "string" else tf.float32 if kind == "float" else tf.int64
        spec[t.key] = tf.io.FixedLenFeature(t.shape[1:], dtype)
    try:
        parsed = tf.io.parse_example(records.tolist(), spec)
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        raise ModelError(
            f"{where}: not Examples with the model's features ({first_line(exc)})"
        ) from None
    feed = {}
    for t in sig.inputs:
        value = parsed[t.key].numpy()
        if t.dtype != "string":
            value = value.astype(dtypes.get(t.dtype).numpy)
        feed[t.key] = check_input(t, value, where)
    return feed


def _expected_outputs(path: Path, manifest) -> Callable[[str], dict]:
    """`--expected FILE.npz`: outputs keyed by output key (or SIGNATURE/KEY where signatures
    share a key), never unpickled. Returns signature key -> its expected outputs; an array
    that names no output is an error naming it."""
    arrays = inputs_mod.read_arrays(path)
    if isinstance(arrays, np.ndarray):
        raise ModelError(f"--expected {path}: one array (.npy); give an .npz keyed by output keys")
    sigs = {s.key: s for a in manifest.artifacts for s in a.signatures}
    names = {o.key for s in sigs.values() for o in s.outputs}
    names |= {f"{k}/{o.key}" for k, s in sigs.items() for o in s.outputs}
    unknown = sorted(set(arrays) - names)
    if unknown:
        raise ModelError(
            f"--expected {path}: array(s) {', '.join(unknown)} name no output of the model; its "
            f"outputs: {', '.join(sorted(o.key for s in sigs.values() for o in s.outputs))}"
        )

    def of(signature: str) -> dict:
        keys = [o.key for o in sigs[signature].outputs]
        found = {k: arrays[f"{signature}/{k}"] for k in keys if f"{signature}/{k}" in arrays}
        found |= {k: arrays[k] for k in keys if k in arrays and k not in found}
        missing = [k for k in keys if k not in found]
        if missing:
            raise ModelError(
                f"--expected {path}: no array for output(s) {', '.join(missing)} of signature "
                f"'{signature}'"
            )
        return found

    return of


def write_outputs(dest: Path, force: bool, cases: list[tuple]) -> None:
    """`--save-outputs DIR`: per artifact and signature, `inputs.npz`, `python.npz` and
    `java.npz` (strings as bytes and lengths, no pickles) and `worst.json`: per output, where
    the two sides differ most (its index, both values, the difference)."""
    with staged_dir(dest, force) as stage:
        for fmt, key, feed, expected, actual in cases:
            where = stage / fmt / re.sub(r"[^A-Za-z0-9_.-]+", "_", key).strip("._")
            where.mkdir(parents=True)
            save_arrays(where / "inputs.npz", feed)
            save_arrays(where / "python.npz", expected)
            save_arrays(where / "java.npz", actual)
            worst = {k: worst_element(expected[k], actual[k]) for k in expected if k in actual}
            (where / "worst.json").write_text(json.dumps(worst, indent=2) + "\n")


def worst_element(expected: np.ndarray, actual: np.ndarray) -> dict | None:
    """Where two outputs differ most: the index, both values and their difference (numbers:
    the largest absolute difference; anything else: the first element that differs); None
    where they are equal or their shapes differ."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape or expected.size == 0:
        return None
    if expected.dtype.kind in "fc" and actual.dtype.kind in "fc":
        diff = np.abs(expected.astype(np.float64) - actual.astype(np.float64))
        diff = np.where(np.isnan(diff), np.inf, diff)
        flat = int(np.argmax(diff))
        if diff.flat[flat] == 0:
            return None
    else:
        unequal = np.flatnonzero(expected.ravel() != actual.ravel())
        if not unequal.size:
            return None
        flat = int(unequal[0])
    index = [int(i) for i in np.unravel_index(flat, expected.shape)]

    def plain(v):  # JSON: text for bytes, NaN and Inf
        v = v.item() if hasattr(v, "item") else v
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        return str(v) if isinstance(v, float) and not math.isfinite(v) else v

    e, a = expected.flat[flat].item(), actual.flat[flat].item()
    found = {"index": index, "python": plain(e), "java": plain(a)}
    if isinstance(e, int | float) and isinstance(a, int | float):
        found["abs_diff"] = plain(abs(float(e) - float(a)))
    return found


def _require_tensors(export_dir: Path, arts) -> None:
    """Every tensor the manifest names is in its artifact's graph: a manifest that does not
    fit its model is refused before anything runs."""
    for art, graph_def in arts:
        nodes = {n.name for n in graph_def.node}
        for sig in art.signatures:
            for t in (*sig.inputs, *sig.outputs):
                if t.name not in nodes:
                    raise ModelError(
                        f"{export_dir / art.path}: signature '{sig.key}' names tensor "
                        f"{t.tensor_name} that the graph does not have; the manifest does not "
                        "fit the model: export it again"
                    )


def python_side(java: JavaSide, feeds: streams.Feeds, runners: dict) -> dict[int, dict]:
    """Each job's outputs in Python TensorFlow on `feeds`, by job number: every artifact
    loaded once for the run (`runners`, kept across batches), a stateful signature on a fresh
    load."""
    from exporter.sources import LIBRARY_ERRORS

    expected = {}
    given = java.inputs.kind != "generated"
    for job, cls, jsig in java.runs:
        fmt = cls.artifact.format
        if fmt not in runners:
            runners[fmt] = targets.get(fmt).runner(java.export_dir, cls.artifact)
        try:
            expected[job.id] = runners[fmt](jsig.sig.key, feeds[(fmt, jsig.sig.key)])
        except ModelError as exc:  # the runner's guard: TensorFlow refused these inputs
            if not isinstance(exc.__cause__, (*LIBRARY_ERRORS, UnicodeDecodeError)):
                raise
            binary = isinstance(exc.__cause__, UnicodeDecodeError)
            raise ModelError(
                f"{fmt} signature '{jsig.sig.key}' fails in Python TensorFlow on "
                f"{'the given' if given else 'generated'} inputs "
                f"({exc if binary else first_line(exc.__cause__)}); give inputs it accepts "
                "with --inputs FILE.npz"
                + ("" if given else batch_hint(exc.__cause__, java.inputs.batch))
            ) from exc.__cause__
    return expected


def write_report(report: ParityReport, path: Path, force: bool = False) -> None:
    """Writes the JSON report; an existing file is replaced only when tf2java wrote it (a
    previous report) or with `force`."""
    check_report_target(path, force, Path(report.export_dir), "--report")
    with staged_file(path, True) as stage:
        stage.write_text(json.dumps(report.to_json(), indent=2) + "\n")


def write_reports_of_many(
    reports: list[ParityReport], report: Path | None, junit: Path | None, force: bool
) -> None:
    """The reports of a run over several exports: one JSON (`exports`, one report each) and
    one JUnit file (a test suite per export, named after its folder)."""
    for path, flag in ((report, "--report"), (junit, "--junit")):
        for r in reports if path else []:
            check_report_target(path, force, Path(r.export_dir), flag)
    if report:
        data = {"ok": all(r.ok for r in reports), "exports": [r.to_json() for r in reports]}
        with staged_file(report, True) as stage:
            stage.write_text(json.dumps(data, indent=2) + "\n")
    if junit:
        suites = ET.Element("testsuites", name="tf2java.parity")
        for r in reports:
            suites.append(r.junit_suite(f"tf2java.parity.{Path(r.export_dir).name}"))
        with staged_file(junit, True) as stage:
            stage.write_text(ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n")


def write_junit(report: ParityReport, path: Path, force: bool = False) -> None:
    """Writes the JUnit XML report, under the same rule as `write_report`."""
    check_report_target(path, force, Path(report.export_dir), "--junit")
    with staged_file(path, True) as stage:
        stage.write_text(report.junit_xml())


# What a report of each kind holds, to tell it from any other file.
_REPORT_MARK = {"--report": '"manifest_sha256"', "--junit": 'name="tf2java.parity"'}


def require_source(export_dir: Path, src: Path) -> str:
    """`--against SRC`: the source the export was made from, unchanged since. Returns the
    note saying so; raises VerificationError naming the drift (UsageError: no SRC, or an
    export that records no source sha256)."""
    data, _ = manifest_mod.read(export_dir)
    if not (src.exists() or manifest_mod.source_files(src)):
        raise UsageError(f"--against {src}: no such file, folder or checkpoint prefix")
    if not data.source_sha256:
        raise UsageError(
            f"--against {src}: the export records no source sha256 (made by tf2java "
            f"{data.generator_version}); export it again to tie it to its source"
        )
    now = manifest_mod.source_digest(src)
    if now != data.source_sha256:
        raise VerificationError(
            f"--against {src}: the source changed since the export (sha256 {now[:12]}, the export "
            f"was made from {data.source_sha256[:12]}): the export is stale; export it again"
        )
    return f"source {src} unchanged since the export (sha256 {now[:12]})"


def refused_report(export_dir: Path, exc: Exception, atol: float, rtol: float) -> ParityReport:
    """The report of a run that a pre-check refused (a changed model, a tampered file, ops
    the runtime lacks...), so that a CI job has a report to publish whatever happened."""

    try:
        sha = manifest_mod.read(export_dir)[1]
    except Exception:  # the manifest itself may be what was refused
        sha = ""
    tf = sys.modules.get("tensorflow")
    return ParityReport(
        str(export_dir),
        sha,
        atol,
        rtol,
        getattr(tf, "__version__", "(not loaded)"),
        refused=str(exc),
        refused_exit=getattr(exc, "exit_code", EXIT_MODEL),
    )


def check_report_target(path: Path, force: bool, export_dir: Path, flag: str) -> None:
    """A report replaces a previous report of tf2java's (any other file only with `force`),
    and never goes into the export it checks, `force` or not: a file there would be the
    model's own, or one the export's tamper check refuses."""
    export, where = export_dir.resolve(), path.resolve()
    if where == export or export in where.parents:
        raise UsageError(
            f"{flag} {path}: is inside the export {export_dir}; write the report elsewhere"
        )
    if force or not path.exists():
        return
    try:
        head = path.read_text(errors="replace")[:4096] if path.is_file() else ""
    except OSError:
        head = ""
    if _REPORT_MARK[flag] not in head:
        raise OutputExistsError(
            f"{path}: already exists and is not a tf2java report; pass --force to replace it"
        )
