"""Regenerates the golden files: `make golden` (or `python tools/update_golden.py`; with
`--java-only`, the Java alone, from the committed manifests).

For each golden model it exports the model, keeps its manifest under tests/golden/NAME/ and
renders its Java into tests/golden/java/; it renders the harness's .npy reader from the
hand-off's template (one reader on the Java side). Review the diff before committing it."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.commands import demo_model  # noqa: E402
from exporter.commands.export import export  # noqa: E402
from exporter.core import manifest  # noqa: E402
from exporter.java import binding, planning, rendering  # noqa: E402
from tests import models  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
HARNESS_NPY = ROOT / "java-harness/src/main/java/org/tf2java/harness/GoldenNpy.java"
JAVA = GOLDEN / "java"
# name -> (build the source into a path, Java class base name)
CASES = {
    "bert_classifier": (demo_model.save, "BertClassifier"),
    "multi_dtype": (lambda p: models.save_module(models.MultiDtype(), p), "MultiDtype"),
}


def render_golden(name: str) -> dict[Path, str]:
    """Java file (relative to tests/golden/java) -> source, from the committed manifest."""
    data, sha = manifest.read(GOLDEN / name)
    classes = planning.plan(data, binding.DEFAULT_PACKAGE, CASES[name][1])
    return {Path(rel): text for rel, text in rendering.sources(classes, data, sha).items()}


def render_harness_npy() -> str:
    """The harness's .npy reader: the hand-off's GoldenNpy, in the harness's package."""
    from exporter import GENERATOR, __version__
    from exporter.commands.handoff import environment

    template = environment().get_template("handoff/GoldenNpy.java.j2")
    return template.render(generator=GENERATOR, version=__version__, package="org.tf2java.harness")


def main(export_again: bool = True) -> None:
    """Exports the golden models again (their manifests change with the frozen file's bytes),
    unless `export_again` is False: then the Java is rendered from the committed manifests."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, (build, _) in CASES.items():
            if not export_again:
                break
            src = build(Path(tmp) / f"{name}_src")
            out = Path(tmp) / name
            export(src, out, name=name)
            (GOLDEN / name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / manifest.MANIFEST_NAME, GOLDEN / name / manifest.MANIFEST_NAME)
    shutil.rmtree(JAVA, ignore_errors=True)
    for name in CASES:
        for rel, text in render_golden(name).items():
            (JAVA / rel).parent.mkdir(parents=True, exist_ok=True)
            (JAVA / rel).write_text(text, encoding="utf-8")
            print(f"wrote {(JAVA / rel).relative_to(ROOT)}")
    HARNESS_NPY.write_text(render_harness_npy(), encoding="utf-8")
    print(f"wrote {HARNESS_NPY.relative_to(ROOT)}")


if __name__ == "__main__":
    main(export_again="--java-only" not in sys.argv[1:])
