"""Parity as a test assertion:

    from tf2java.testing import assert_parity

    def test_the_model_runs_the_same_on_the_jvm(tmp_path):
        assert_parity("model.keras", workdir=tmp_path, atol=1e-4)

`assert_parity` takes an export folder (`tf2java export` output) or any model tf2java reads
(exported first, into `workdir`), runs every signature through Python TensorFlow and
TensorFlow Java, and raises AssertionError whose message is the parity report when any
output differs or Java fails.

With tf2java installed, pytest has the `tf2java_jvm` fixture (the `tf2java` pytest plugin):
one JVM for the session, which `assert_parity(..., jvm=tf2java_jvm)` uses instead of starting
one of its own. `JVM()` is the same outside pytest (a context manager)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from exporter.core.compare import DEFAULT_ATOL, DEFAULT_RTOL
from exporter.core.manifest import MANIFEST_NAME

__all__ = ["JVM", "assert_parity"]


def assert_parity(
    export_or_source,
    *,
    inputs=None,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    seed: int = 0,
    batch: int = 2,
    workdir=None,
    jvm=None,
):
    """Raises AssertionError (the report's lines) unless every output of every Java-run
    signature agrees within `atol` + `rtol` x |expected|. `inputs`: an .npz keyed by input
    keys (default: inputs generated with `seed` and `batch`). `workdir`: where a source is
    exported (default: a temporary folder, removed after). `jvm`: a running `JVM` (the
    `tf2java_jvm` fixture) to run the Java side in, else one started for this call and
    stopped after. Returns the ParityReport."""
    from exporter.commands.export import export
    from exporter.commands.parity import parity

    path = Path(export_or_source)
    checks = {"seed": seed, "batch": batch, "atol": atol, "rtol": rtol}
    npz = None if inputs is None else Path(inputs)

    def check(out: Path):
        java = None if jvm is None else jvm.side(out, inputs=npz, batch=batch, seed=seed)
        return parity(out, inputs=npz, java=java, **checks)

    if (path / MANIFEST_NAME).is_file():
        report = check(path)
    else:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            out = Path(tmp) / "export"
            export(path, out, inputs=npz, **checks)
            report = check(out)
    if not report.ok:
        raise AssertionError("\n".join(report.lines()))
    return report


def JVM(op_libraries=(), jvm_options=()):
    """A JVM with TensorFlow Java for many `assert_parity` calls (`jvm=`), started now and
    stopped by `close()` or at the end of a `with` block; `op_libraries` (paths of custom op
    libraries) load in it, `jvm_options` (`-Xmx2g`) start it."""
    from exporter.commands.parity import JVM as _JVM

    return _JVM([Path(p) for p in op_libraries], list(jvm_options))
