"""`tf2java handoff OUT DEST`: an export as a Java module a backend team builds and tests
without Python: pom.xml and build.gradle pinned to the TensorFlow Java parity used, the
generated classes, the model files as resources, a JUnit test over golden vectors Python
TensorFlow computed, and a README for the Java team."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporter import GENERATOR, __version__, targets
from exporter.commands.parity import parity
from exporter.core import dtypes
from exporter.core import inputs as inputs_mod
from exporter.core import manifest as manifest_mod
from exporter.core.compare import DEFAULT_ATOL, DEFAULT_RTOL
from exporter.core.fsutil import check_target, refuse_overlap, staged_dir
from exporter.core.inputs import format_shape
from exporter.errors import UsageError, VerificationError
from exporter.java import binding, javaenv, planning, rendering, writing
from exporter.java.naming import is_package, java_string, pascal

JUNIT_VERSION = "4.13.2"  # tested equal to gradle.properties' junitVersion
_ZERO = {
    "float": "0f",
    "double": "0.0",
    "int": "0",
    "long": "0L",
    "byte": "(byte) 0",
    "short": "(short) 0",
    "boolean": "false",
}


@dataclass(frozen=True)
class Runtime:
    group: str
    version: str
    classifier: str
    core: str

    def to_json(self) -> dict:
        return {
            "group": self.group,
            "artifacts": ["tensorflow-core-api", "tensorflow-core-native"],
            "version": self.version,
            "classifier": self.classifier,
            "tensorflow_core": self.core,
        }


def _top_labels(value: np.ndarray, t: binding.JavaTensor) -> list[str]:
    """The label of the best class of each example of a labelled output, as Python
    TensorFlow computed it."""
    if not t.labels:
        return []
    scores = np.asarray(value, dtype=np.float64).reshape(-1, len(t.labels))
    return [t.labels[i] for i in np.argmax(scores, axis=1)]


# A notes line that gives a tensor its meaning: "- `input_ids`: WordPiece ids" (a list item or
# a line of its own, the key in backticks, a colon).
_MEANING = re.compile(r"^\s*(?:[-*+]\s+)?`([^`]+)`\s*:\s*(\S.*?)\s*$", re.M)


def notes_meanings(text: str) -> dict[str, str]:
    """Tensor key (or output name) -> its meaning, from the --notes lines that give one."""
    return {key: meaning for key, meaning in _MEANING.findall(text)}


def java_runtime(jars: tuple[str, ...], core: str) -> Runtime:
    """The TensorFlow Java that parity ran, read from its jars' names."""
    version = javaenv.runtime_version(jars)
    for jar in jars:
        match = re.fullmatch(
            rf"tensorflow-core-native-{re.escape(version)}-(.+)\.jar", Path(jar).name
        )
        if match:
            return Runtime("org.tensorflow", version, match.group(1), core)
    raise UsageError("no tensorflow-core-native jar with a platform classifier on the classpath")


def handoff(
    export_dir: Path,
    dest: Path,
    *,
    group: str = "com.example",
    artifact: str | None = None,
    project_version: str = "1.0.0",
    package: str | None = None,
    class_name: str | None = None,
    notes: Path | None = None,
    output_names: dict[str, str] | None = None,
    labels: dict[str, Path] | None = None,
    force: bool = False,
    seed: int = 0,
    batch: int = inputs_mod.DEFAULT_BATCH,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    echo: Callable[[str], None] = lambda s: None,
) -> Path:
    """Writes DEST (replaced as a whole, atomically, only with `force`): a Maven and Gradle
    module for the export in `export_dir`. Runs parity first and refuses a model that fails
    it. `labels`: output key or name -> a labels file (one per line), shipped as a resource
    and compiled into a top-k method. Raises UsageError (names, labels, DEST), ModelError (the
    export), VerificationError."""

    data, _ = manifest_mod.read(export_dir)
    manifest_mod.verify_files(export_dir, data)
    refuse_overlap(dest, export_dir, "export", "DEST")
    check_target(dest, force)  # before parity runs; staged_dir checks again when it writes
    artifact = artifact or re.sub(r"[^a-z0-9]+", "-", data.name.lower()).strip("-") or "model"
    package = package or f"{group}.{re.sub(r'[^a-z0-9]', '', data.name.lower()) or 'model'}"
    if not is_package(package):
        raise UsageError(f"--package '{package}' is not a Java package name")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", group) or not re.fullmatch(
        r"[A-Za-z0-9_.-]+", artifact
    ):
        raise UsageError("--group and --artifact take letters, digits, '.', '-' and '_'")
    notes_text = notes.read_text(encoding="utf-8") if notes else ""
    meanings = notes_meanings(notes_text)
    labels = dict(labels or {})
    label_lists = {key: planning.read_labels(path) for key, path in labels.items()}
    planning.plan(data, package, class_name, output_names=output_names, labels=label_lists)

    echo("checking parity before the hand-off")
    report = parity(export_dir, seed=seed, batch=batch, atol=atol, rtol=rtol, echo=echo)
    if not report.ok:
        raise VerificationError(
            "parity failed, so nothing was handed off:\n" + "\n".join(report.lines())
        )
    runtime = java_runtime(javaenv.classpath(), report.tensorflow_java or "")
    handed = json.loads(data.dumps())
    handed["java_runtime"] = runtime.to_json()
    text = json.dumps(handed, indent=2) + "\n"
    manifest_mod.validate(handed)
    handed_manifest = manifest_mod.Manifest.from_json(handed)
    sha = hashlib.sha256(text.encode()).hexdigest()

    package_path = package.replace(".", "/")
    model_root = f"/{package_path}/model"
    classes = planning.plan(
        handed_manifest,
        package,
        class_name,
        output_names=output_names,
        labels=label_lists,
        meanings=meanings,
    )
    base = classes[0].name.removesuffix(targets.get(classes[0].artifact.format).java_suffix)
    test_class, check_class = f"{base}GoldenTest", f"{base}Check"
    with staged_dir(dest, force) as stage:
        resources = stage / "src/main/resources" / package_path / "model"
        resources.mkdir(parents=True)
        for art in data.artifacts:
            if targets.get(art.format).runs_in_java:
                source = export_dir / art.path
                if source.is_dir():
                    shutil.copytree(source, resources / art.path)
                else:
                    shutil.copy2(source, resources / art.path)
        (resources / manifest_mod.MANIFEST_NAME).write_text(text)
        label_files = []
        for key, path in labels.items():
            shipped = stage / "src/main/resources" / package_path / "labels" / f"{key}.txt"
            shipped.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, shipped)
            label_files.append(f"src/main/resources/{package_path}/labels/{key}.txt")
        java_root = stage / "src/main/java"
        writing.write_sources(classes, handed_manifest, sha, java_root)

        cases, smoke, left_out = [], [], []
        test_root = stage / "src/test/resources"
        golden = test_root / package_path / "golden"
        for cls in classes:
            model_resource = f"{model_root}/{cls.artifact.path}"
            run = targets.get(cls.artifact.format).runner(export_dir, cls.artifact)
            calls = []
            for jsig in cls.signatures:
                label = f"{cls.artifact.format} {jsig.sig.key}"
                if not all(_golden(t) for t in jsig.inputs + jsig.outputs):
                    left_out.append(label)
                    continue
                feed = inputs_mod.generate(jsig.sig, batch=batch, seed=seed)
                outputs = run(jsig.sig.key, feed)
                where = golden / cls.artifact.format / jsig.method
                where.mkdir(parents=True, exist_ok=True)
                args = []
                for t in jsig.inputs:
                    np.save(where / f"in_{t.ident}.npy", _golden_array(feed[t.info.key], t))
                    args.append(
                        _input_expression(t, _resource(test_root, where / f"in_{t.ident}.npy"))
                    )
                outs = []
                for t in jsig.outputs:
                    np.save(where / f"out_{t.ident}.npy", _golden_array(outputs[t.info.key], t))
                    outs.append(
                        {
                            "key": t.info.key,
                            "getter": t.getter,
                            "resource": _resource(test_root, where / f"out_{t.ident}.npy"),
                            "top_k": t.top_k,
                            "top_labels": _top_labels(outputs[t.info.key], t),
                        }
                    )
                test = f"{cls.artifact.format}{pascal(jsig.method)}"
                cases.append(
                    {
                        "test": test,
                        "check": f"check{pascal(test)}",
                        "cls": cls.name,
                        "model_resource": model_resource,
                        "method": jsig.method,
                        "result": jsig.result_class,
                        "args": args,
                        "outputs": outs,
                    }
                )
                calls.append(
                    {
                        "method": jsig.method,
                        "args": [_zeros(t) for t in jsig.inputs],
                        "label": f"{label}: ok",
                    }
                )
            smoke.append({"cls": cls.name, "model_resource": model_resource, "calls": calls})

        env = rendering.environment()
        env.filters["e"] = _xml
        env.filters["cell"] = _cell
        context = {
            "generator": GENERATOR,
            "version": __version__,
            "package": package,
            "package_path": package_path,
            "group": group,
            "artifact": artifact,
            "project_version": project_version,
            "model_name": data.name,
            "manifest": data,
            "runtime": runtime,
            "junit_version": JUNIT_VERSION,
            "test_class": test_class,
            "check_class": check_class,
            "cases": cases,
            "smoke": smoke,
            "atol": repr(float(atol)),
            "rtol": repr(float(rtol)),
            "tensorflow_version": data.tensorflow_version,
            "notes": notes_text.strip(),
            "label_files": label_files,
            "interface": classes[0].interface,
            "classes": [
                {
                    "name": c.name,
                    "format": c.artifact.format,
                    "resource": f"{model_root}/{c.artifact.path}",
                    "signatures": c.signatures,
                }
                for c in classes
            ],
            "shape": format_shape,
            "parity": report,
            "parity_lines": [
                f"{c.format} `{c.signature}`: "
                + ("ok" if c.ok else "FAILED")
                + (f", max abs diff {_max_diff(c):.2e}" if c.comparison else "")
                for c in report.cases
            ],
            "left_out": left_out,
            "files": [
                f for a in data.artifacts if targets.get(a.format).runs_in_java for f in a.files
            ],
        }
        test_java = stage / "src/test/java" / package_path
        test_java.mkdir(parents=True)
        for template, target in (
            ("handoff/GoldenTest.java.j2", test_java / f"{test_class}.java"),
            ("handoff/GoldenNpy.java.j2", test_java / "GoldenNpy.java"),
            ("handoff/Check.java.j2", java_root / package_path / f"{check_class}.java"),
            ("handoff/pom.xml.j2", stage / "pom.xml"),
            ("handoff/build.gradle.j2", stage / "build.gradle"),
            ("handoff/README.md.j2", stage / "README.md"),
        ):
            target.write_text(env.get_template(template).render(**context), encoding="utf-8")
        (stage / "settings.gradle").write_text(f"rootProject.name = '{artifact}'\n")
    return dest


def _cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, one line."""
    return " ".join(text.replace("|", "\\|").split())


def _resource(root: Path, path: Path) -> str:
    """The classpath name of a file under a resources root."""
    return "/" + path.relative_to(root).as_posix()


def _golden(t: binding.JavaTensor) -> bool:
    """A tensor the golden test carries: a number or bool of a rank a Java array has."""
    dtype = dtypes.DTYPES.get(t.info.dtype)
    golden = dtype is not None and dtype.in_java and dtype.kind != "string"
    return golden and not t.nd and not t.bytes_strings


def _golden_array(value, t: binding.JavaTensor) -> np.ndarray:
    """The values as the Java array of the generated API holds them (GoldenNpy reads them
    into that array): the same bits for unsigned integers, half floats widened."""
    return np.ascontiguousarray(dtypes.get(t.info.dtype).to_java(np.asarray(value)))


def _input_expression(t: binding.JavaTensor, resource: str) -> str:
    read = f"GoldenNpy.read({java_string(resource)})"
    reader = f"{dtypes.get(t.info.dtype).java}s"  # GoldenNpy.floats(), .ints(), .booleans()...
    if t.rank == 0:
        element = t.java_type
        if element == "boolean":
            return f"{read}.values()[0] != 0"
        return f"({element}) {read}.values()[0]"
    return f"StdArrays.array{t.rank}dCopyOf({read}.{reader}())"


def _zeros(t: binding.JavaTensor) -> str:
    if t.rank == 0:
        return _ZERO[t.java_type]
    element = t.java_type.split("[")[0]
    dims = "".join(f"[{1 if d < 0 else d}]" for d in t.info.shape)
    return f"new {element}{dims}"


def _max_diff(case) -> float:
    diffs = [c.max_abs_diff for c in case.comparison.checks if c.max_abs_diff is not None]
    return max(diffs, default=0.0)


def _xml(value) -> str:
    """Text safe in XML content, attributes and comments."""
    return html.escape(str(value)).replace("--", "- -")
