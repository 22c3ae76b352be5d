"""`tf2java handoff`: a Java module that builds and tests itself without Python, with Maven
and with Gradle, and whose jar runs from anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from exporter.cli import main
from exporter.commands import handoff
from exporter.errors import EXIT_USAGE
from tests import models

pytestmark = pytest.mark.jvm


def _no_python_path(root: Path) -> str:
    """A PATH with the system's tools but no Python: what a Java team's machine may be."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/bin", "/bin"):
        for tool in Path(folder).iterdir():
            name = tool.name
            if name.startswith(("python", "pip", "pydoc")) or os.path.lexists(bin_dir / name):
                continue
            (bin_dir / name).symlink_to(tool)
    for tool in ("java", "javac", "mvn", "gradle"):  # scripts that find their home via $0
        real = shutil.which(tool)
        (bin_dir / tool).unlink(missing_ok=True)
        (bin_dir / tool).write_text(f'#!/bin/sh\nexec {real} "$@"\n')
        (bin_dir / tool).chmod(0o755)
    return str(bin_dir)


def test_junit_is_pinned_where_the_build_pins_it():
    props = (Path(__file__).parent.parent / "gradle.properties").read_text()
    assert f"junitVersion={handoff.JUNIT_VERSION}" in props


def test_dest_is_checked_before_any_work(demo_export, tmp_path):
    inside = CliRunner().invoke(main, ["handoff", str(demo_export), str(demo_export / "java")])
    assert inside.exit_code == EXIT_USAGE and "choose an output outside it" in inside.output
    (tmp_path / "taken").mkdir()
    taken = CliRunner().invoke(main, ["handoff", str(demo_export), str(tmp_path / "taken")])
    assert taken.exit_code == EXIT_USAGE and "--force" in taken.output
    assert "checking parity" not in taken.output  # refused before parity ran


@pytest.mark.slow
def test_a_module_that_maven_and_gradle_build_and_test_without_python(
    demo_export, keras_export, image_export, multi_export, tmp_path
):
    notes = tmp_path / "notes.md"
    notes.write_text(
        "A toy classifier; `loss/pred_prob` sums to 1 per row.\n\n"
        "- `input_ids`: WordPiece ids | [CLS] first\n- `loss/pred_prob`: class probabilities\n"
        "- `input_idz`: a typo\n"
    )
    dest = tmp_path / "bert"
    result = CliRunner().invoke(
        main,
        ["handoff", str(demo_export), str(dest), "--group", "org.acme", "--notes", str(notes)],
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [  # its phases, a line each outside a terminal
        "checking parity before the hand-off",
        "writing the module: model files, classes, golden vectors, build",
        "compiling the module's classes with javac",
    ]
    assert "warning: --notes gives a meaning to `input_idz`, which the model has no input or " in (
        result.output
    )
    readme = (dest / "README.md").read_text()
    assert (
        "<version>1.1.0</version>" in readme and "<classifier>linux-x86_64</classifier>" in readme
    )
    assert "sums to 1 per row" in readme and "savedmodel `serving_default`: ok" in readme
    assert "interface `BertClassifier`" in readme and "BertClassifier.LoadException" in readme
    assert "Call `servingDefault`: signature `serving_default` is the model's default" in readme
    # the values an input may take, where the graph implies them (an embedding's rows)
    assert "| (?, 128) | WordPiece ids \\| [CLS] first; 0 to 999: rows of `word_embeddings` |" in (
        readme
    )
    assert "| (?, 7) | class probabilities |" in readme and "| (?, 128) |  |" in readme
    frozen = next((dest / "src/main/java").rglob("*Frozen.java")).read_text()
    assert "@param inputIds 'input_ids' (WordPiece ids | [CLS] first), int32 (?, 128)," in frozen
    assert "`int[] ids, long[] idsShape`" in readme  # the overloads without nested arrays
    handed = json.loads(
        (dest / "src/main/resources/org/acme/bertclassifier/model/manifest.json").read_text()
    )
    assert handed["java_runtime"]["version"] == "1.1.0"
    assert handed["java_runtime"]["classifier"] == "linux-x86_64"
    golden = dest / "src/main/resources/org/acme/bertclassifier/golden"  # in the jar too
    assert len(list(golden.rglob("*.npy"))) == 8  # 2 x (3 in, 1 out)

    lean = tmp_path / "lean"  # one format shipped: the jar holds frozen.pb alone
    result = CliRunner().invoke(
        main, ["handoff", str(demo_export), str(lean), "--format", "frozen"]
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in (lean / "src/main/resources").rglob("frozen.pb")] == ["frozen.pb"]
    assert not list(lean.rglob("saved_model.pb")) and not list(lean.rglob("*SavedModel.java"))
    frozen_class = next(lean.rglob("*Frozen.java")).read_text()
    assert "public static BertClassifierFrozen load() throws LoadException {" in frozen_class

    keras_dest = tmp_path / "heads"
    assert CliRunner().invoke(main, ["handoff", str(keras_export), str(keras_dest)]).exit_code == 0
    java = next((keras_dest / "src/main/java").rglob("*SavedModel.java")).read_text()
    assert "getProbs()" in java and "getScore()" in java  # Keras layers, not output_0/1

    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(models.IMAGE_LABELS) + "\n")
    image_dest = tmp_path / "classifier"
    result = CliRunner().invoke(
        main, ["handoff", str(image_export), str(image_dest), "--labels", f"predictions={labels}"]
    )
    assert result.exit_code == 0, result.output
    image_readme = (image_dest / "README.md").read_text()
    assert "`predictionsTopK(k)` (or `topK(k)`)" in image_readme and "4 labels" in image_readme
    # Keras' serve is serving_default: one method, which the README says serves both
    method = "`servingDefault(...)` returns `ServingDefaultResult`: signature `serving_default` ("
    assert method in image_readme
    assert "and `serve`, which runs the same function" in image_readme
    # the README's code, one variable per call, is the jar main's usingIt: javac checks it
    snippet = image_readme.split("## Using it\n\n```java\n")[1].split("```")[0]
    assert "model.serve(" not in snippet and "servingDefaultResult = " in snippet
    check = next(image_dest.rglob("*Check.java")).read_text()
    assert all(line.strip() in check for line in snippet.splitlines())
    shipped = image_dest / "src/main/resources/com/example/classifier/labels/predictions.txt"
    assert shipped.read_text() == labels.read_text()
    golden_test = next((image_dest / "src/test/java").rglob("*GoldenTest.java")).read_text()
    assert "assertBest(" in golden_test
    # servingDefaultOne on the first golden example: its row, and the batch's best label
    assert "ServingDefaultOneResult one = model.servingDefaultOne(" in golden_test
    assert "one.predictionsTopK(1).get(0).label.equals(" in golden_test

    # strings in and out (words -> greeting), a scalar, bools: golden vectors all the same
    strings_dest = tmp_path / "strings"
    result = CliRunner().invoke(main, ["handoff", str(multi_export), str(strings_dest)])
    assert result.exit_code == 0, result.output
    words = next(strings_dest.rglob("in_words.lengths.npy"))
    assert np.load(words).shape == (2,) and np.load(words.with_name("in_words.npy")).dtype == "u1"
    assert np.load(next(strings_dest.rglob("out_nextCount.npy"))).shape == ()

    env = dict(os.environ, PATH=_no_python_path(tmp_path))
    # each signature of each format, from the classpath and from a path (verified), a changed
    # frozen.pb refused, and every model file loaded and verified (one test)
    # and one that every signature of every class has its check
    for module, cases in ((dest, 7), (image_dest, 7), (strings_dest, 7)):
        for command in (["mvn", "-q", "test"], ["gradle", "test", "--no-daemon", "-q"]):
            proc = subprocess.run(command, cwd=module, env=env, capture_output=True, text=True)
            assert proc.returncode == 0, (command, proc.stdout[-3000:], proc.stderr[-3000:])
        reports = list((module / "target/surefire-reports").glob("*.xml"))
        assert reports and 'failures="0"' in reports[0].read_text()
        assert f'tests="{cases}"' in reports[0].read_text()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    calls = ["savedmodel serving_default: ok", "frozen serving_default: ok"]
    for module, jar, lines in (
        (dest, "bert-classifier", calls),
        (image_dest, "classifier", calls),
        (strings_dest, "multi-dtype", calls),
    ):
        proc = subprocess.run(
            ["mvn", "-q", "package"], cwd=module, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
        proc = subprocess.run(
            ["java", "-jar", str(module / f"target/{jar}-1.0.0.jar")],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.splitlines() == lines
