"""`tf2java demo`: the whole path on the built-in example, as a user would walk it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from exporter.commands import demo_model
from exporter.commands.export import export
from exporter.commands.parity import ParityReport, parity, write_junit, write_report
from exporter.core import manifest
from exporter.core.fsutil import staged_dir
from exporter.java import javaenv, writing

CLASS_NAME = "BertClassifier"
PACKAGE = "com.example.models"


def run_demo(out: Path, force: bool = False, echo: Callable[[str], None] = print) -> ParityReport:
    """Writes OUT/source (a TF2 SavedModel), OUT/inputs.npz, OUT/export (saved_model/,
    frozen.pb, manifest.json, java/), OUT/classes and OUT/parity.{json,xml}."""
    started = time.monotonic()
    with staged_dir(out, force) as stage:
        step(echo, "1/5 building the example model (BERT-style classifier)")
        demo_model.save(stage / "source")
        feed = demo_model.example_inputs()
        np.savez(stage / "inputs.npz", **feed)

        step(echo, "2/5 exporting as a SavedModel and a frozen graph")
        export(stage / "source", stage / "export", name="bert_classifier", echo=echo)

        step(echo, "3/5 generating Java")
        data, sha = manifest.read(stage / "export")
        classes = writing.generate(
            data, sha, stage / "export" / "java", package=PACKAGE, class_name=CLASS_NAME
        )
        sources = [stage / "export" / "java" / rel for rel in writing.generated_paths(classes)]
        for path in sources:
            echo(f"  {path.relative_to(stage)}")

        step(echo, "4/5 compiling it against TensorFlow Java")
        javaenv.compile_sources(sources, stage / "classes")

        step(echo, "5/5 checking Python/Java parity on both formats")
        report = parity(stage / "export", inputs=stage / "inputs.npz", echo=echo)
        report.export_dir = str(out / "export")  # where they are once the demo ends
        report.inputs = report.inputs.replace(str(stage), str(out))
        write_report(report, stage / "parity.json")
        write_junit(report, stage / "parity.xml")
    for line in report.lines():
        echo(line)
    echo(f"demo finished in {time.monotonic() - started:.1f} s; everything is in {out}/")
    return report


def step(echo: Callable[[str], None], text: str) -> None:
    """Says one step of the demo, numbered, with `echo`."""
    echo(f"== {text}")
