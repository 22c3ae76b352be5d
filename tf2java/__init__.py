"""tf2java's Python API: export a TensorFlow model for the JVM, prove that TensorFlow Java
gives what Python TensorFlow gives, and hand the result to a Java team.

    import tf2java
    tf2java.export("model.keras", "out")           # SavedModel + frozen.pb + manifest.json
    report = tf2java.parity("out")                 # both runtimes, every output compared
    assert report.ok, "\\n".join(report.lines())

For tests, `tf2java.testing.assert_parity`. The `tf2java` command does the same from a shell.
Importing this package does not import TensorFlow; the functions do, when called."""

from __future__ import annotations

from exporter import __version__

__all__ = ["__version__", "export", "handoff", "parity"]


def export(src, out, **options):
    """`tf2java export SRC OUT`: see `exporter.commands.export.export` for the options.
    Returns the ExportResult (its `manifest` and the check lines)."""
    from pathlib import Path

    from exporter.commands.export import export as run

    return run(Path(src), Path(out), **options)


def parity(export_dir, **options):
    """`tf2java parity OUT`: see `exporter.commands.parity.parity` for the options. Returns
    the ParityReport: `ok`, `lines()`, `to_json()`, `exit_code`."""
    from pathlib import Path

    from exporter.commands.parity import parity as run

    return run(Path(export_dir), **options)


def handoff(export_dir, dest, **options):
    """`tf2java handoff OUT DEST`: see `exporter.commands.handoff.handoff`. Returns the
    module's version."""
    from pathlib import Path

    from exporter.commands.handoff import handoff as run

    return run(Path(export_dir), Path(dest), **options)
