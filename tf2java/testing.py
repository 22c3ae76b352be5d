"""Parity as a test assertion:

    from tf2java.testing import assert_parity

    def test_the_model_runs_the_same_on_the_jvm(tmp_path):
        assert_parity("model.keras", workdir=tmp_path, atol=1e-4)

`assert_parity` takes an export folder (`tf2java export` output) or any model tf2java reads
(exported first, into `workdir`), runs every signature through Python TensorFlow and
TensorFlow Java, and raises AssertionError whose message is the parity report when any
output differs or Java fails."""

from __future__ import annotations

import tempfile
from pathlib import Path

from exporter.core.compare import DEFAULT_ATOL, DEFAULT_RTOL
from exporter.core.manifest import MANIFEST_NAME

__all__ = ["assert_parity"]


def assert_parity(
    export_or_source,
    *,
    inputs=None,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    seed: int = 0,
    batch: int = 2,
    workdir=None,
):
    """Raises AssertionError (the report's lines) unless every output of every Java-run
    signature agrees within `atol` + `rtol` x |expected|. `inputs`: an .npz keyed by input
    keys (default: inputs generated with `seed` and `batch`). `workdir`: where a source is
    exported (default: a temporary folder, removed after). Returns the ParityReport."""
    from exporter.commands.export import export
    from exporter.commands.parity import parity

    path = Path(export_or_source)
    checks = {"seed": seed, "batch": batch, "atol": atol, "rtol": rtol}
    npz = None if inputs is None else Path(inputs)
    if (path / MANIFEST_NAME).is_file():
        report = parity(path, inputs=npz, **checks)
    else:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            out = Path(tmp) / "export"
            export(path, out, inputs=npz, **checks)
            report = parity(out, inputs=npz, **checks)
    if not report.ok:
        raise AssertionError("\n".join(report.lines()))
    return report
