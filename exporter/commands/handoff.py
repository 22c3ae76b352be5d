"""`tf2java handoff OUT DEST`: an export as a Java module a backend team builds and tests
without Python: pom.xml and build.gradle pinned to the TensorFlow Java parity used, the
generated classes, the model files as resources, a JUnit test over golden vectors Python
TensorFlow computed, and a README for the Java team."""

from __future__ import annotations

import datetime
import hashlib
import html
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from exporter import GENERATOR, __version__, targets
from exporter.commands.parity import parity
from exporter.core import dtypes
from exporter.core import inputs as inputs_mod
from exporter.core import manifest as manifest_mod
from exporter.core.compare import DEFAULT_ATOL, DEFAULT_RTOL, by_hand
from exporter.core.console import phase
from exporter.core.fsutil import check_target, refuse_overlap, scratch
from exporter.core.inputs import format_shape
from exporter.errors import UsageError, VerificationError
from exporter.java import binding, javaenv, module_files, planning, rendering, writing
from exporter.java import changes as changes_mod
from exporter.java.naming import is_package, pascal
from exporter.java.worker import string_bytes

JUNIT_VERSION = "4.13.2"  # tested equal to gradle.properties' junitVersion
# The platforms TensorFlow Java publishes native libraries for (tensorflow-core-native's
# classifiers), each with the <os> a Maven profile is activated on.
NATIVE_PLATFORMS = (
    ("linux-x86_64", "<name>Linux</name><arch>amd64</arch>"),
    ("linux-arm64", "<name>Linux</name><arch>aarch64</arch>"),
    ("macosx-arm64", "<family>mac</family><arch>aarch64</arch>"),
    ("windows-x86_64", "<family>windows</family><arch>amd64</arch>"),
)


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
    classes = np.shape(value)[-1] if np.ndim(value) else 0
    if classes != len(t.labels):
        raise UsageError(
            f"--labels {t.info.key}: the file has {len(t.labels)} labels, but the model gives "
            f"{classes} classes for output '{t.info.key}'"
        )
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


@dataclass(frozen=True)
class Module:
    """The Maven coordinates and Java package of a handed-off module."""

    group: str
    artifact: str
    version: str
    package: str

    @property
    def package_path(self) -> str:
        return self.package.replace(".", "/")

    @property
    def model_root(self) -> str:
        """Where the model files sit on the classpath."""
        return f"/{self.package_path}/model"


@dataclass
class Golden:
    """The golden vectors of a module: one test case per signature (inputs read from .npy
    resources, outputs Python TensorFlow computed), the same cases by class for the jar's
    main, and the signatures they cannot carry."""

    cases: list[dict] = field(default_factory=list)
    smoke: list[dict] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModuleContext:
    """Everything the hand-off templates (pom.xml, build.gradle, README.md, the golden test,
    GoldenNpy and the Check main) are rendered with; each field is one name they use."""

    generator: str
    version: str
    package: str
    package_path: str
    group: str
    artifact: str
    project_version: str
    model_name: str
    manifest: manifest_mod.Manifest
    runtime: Runtime
    junit_version: str
    test_class: str
    check_class: str
    cases: list[dict]
    smoke: list[dict]
    atol: str
    rtol: str
    tensorflow_version: str
    notes: str
    label_files: list[str]
    interface: str
    classes: list[dict]
    shape: Callable
    parity: object
    parity_lines: list[str]
    left_out: list[str]
    files: list[dict]
    native_platforms: tuple = NATIVE_PLATFORMS
    snippet_params: list = field(default_factory=list)  # (ident, Java type) the README's code uses
    changes: list[str] = field(default_factory=list)  # since the previous hand-off
    previous_version: str | None = None

    def names(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


HANDOFF_TEMPLATES = (  # template -> where it goes in the module
    ("handoff/GoldenTest.java.j2", "src/test/java/{package_path}/{test_class}.java"),
    ("handoff/GoldenNpy.java.j2", "src/main/java/{package_path}/GoldenNpy.java"),
    ("handoff/Check.java.j2", "src/main/java/{package_path}/{check_class}.java"),
    ("handoff/pom.xml.j2", "pom.xml"),
    ("handoff/build.gradle.j2", "build.gradle"),
    ("handoff/README.md.j2", "README.md"),
)


def handoff(
    export_dir: Path,
    dest: Path,
    *,
    group: str = "com.example",
    artifact: str | None = None,
    project_version: str | None = None,
    package: str | None = None,
    class_name: str | None = None,
    notes: Path | None = None,
    output_names: dict[str, str] | None = None,
    labels: dict[str, Path] | None = None,
    formats: tuple[str, ...] | None = None,
    force: bool = False,
    seed: int = 0,
    batch: int | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    atol_of: dict[str, float] | None = None,
    rtol_of: dict[str, float] | None = None,
    echo: Callable[[str], None] = lambda s: None,
) -> str:
    """Writes DEST, a Maven and Gradle module for the export in `export_dir`, and returns its
    version. A module already in DEST (only with `force`) is updated in place: tf2java's own
    files only, with a CHANGELOG section on what changed and the version semantic versioning
    gives that change (unless `project_version` says; never a version already handed off for
    another model). Runs parity first and refuses a model that fails it. `labels`: output key
    or name -> a labels file (one per line), shipped as a resource and compiled into a top-k
    method. `atol`/`rtol` (and `atol_of`/`rtol_of`, output key -> its own): the export's
    unless given, for parity and the golden checks. Raises UsageError (names, labels, DEST,
    version), ModelError (the export), VerificationError."""
    data, _ = manifest_mod.read(export_dir)
    manifest_mod.verify_files(export_dir, data)
    atol = data.checked("atol", atol, DEFAULT_ATOL)  # the export's, unless given
    rtol = data.checked("rtol", rtol, DEFAULT_RTOL)
    batch = data.checked("batch", batch, inputs_mod.DEFAULT_BATCH)
    refuse_overlap(dest, export_dir, "export", "DEST")
    check_target(dest, force)  # before parity runs; staged_module checks again when it writes
    previous = module_files.read_stamp(dest) if dest.is_dir() else None
    first = changes_mod.FIRST_VERSION if project_version is None else project_version
    module = _module(data, group, artifact, first, package)
    notes_text = _read_notes(notes) if notes else ""
    labels = dict(labels or {})
    label_lists = {key: planning.read_labels(path) for key, path in labels.items()}
    planned = planning.plan(
        data, module.package, class_name, formats, output_names=output_names, labels=label_lists
    )
    record = {
        "api": changes_mod.api_of(module.package, planned),
        "model_sha256": changes_mod.model_digest(planned),
        "tolerances": [atol, rtol],
        "runtime": javaenv.runtime_version(javaenv.classpath()),
    }
    version, changes = changes_mod.decide(
        previous.handoff if previous else None, record, project_version
    )
    module = replace(module, version=version)
    record.update(version=version, group=module.group, artifact=module.artifact)

    keys = {o.key for a in data.artifacts for s in a.signatures for o in s.outputs}
    how = by_hand(data.checks.get("outputs", {}), keys, atol_of=atol_of, rtol_of=rtol_of)
    report = _parity(export_dir, seed, batch, (atol, rtol, atol_of, rtol_of), echo)
    runtime = java_runtime(javaenv.classpath(), report.tensorflow_java or "")
    handed, text, sha = _handed_manifest(data, runtime)
    classes = [  # each knows the model file it ships with: its load()
        replace(c, bundled=f"{module.model_root}/{c.artifact.path}")
        for c in planning.plan(
            handed,
            module.package,
            class_name,
            formats,
            output_names=output_names,
            labels=label_lists,
            meanings=notes_meanings(notes_text),
        )
    ]
    _refuse_clashes(classes, class_name)
    _warn_unknown_notes(notes_meanings(notes_text), classes, echo)
    history = dest / module_files.CHANGELOG
    existing = history.read_text(encoding="utf-8", errors="replace") if history.is_file() else None
    with module_files.staged_module(dest, force, record, echo) as stage:
        with phase(echo, "writing the module: model files, classes, golden vectors, build"):
            shipped = {c.artifact.format for c in classes}
            label_files = _resources(stage, module, export_dir, data, text, labels, shipped)
            writing.write_sources(classes, handed, sha, stage / "src/main/java")
            golden = _golden_vectors(stage, module, export_dir, classes, batch, seed, how)
            tolerance = (atol, rtol)
            context = _context(
                module, data, runtime, classes, golden, report, notes_text, label_files, tolerance
            )
            context = replace(
                context,
                changes=changes.lines,
                previous_version=previous.handoff.get("version") if previous else None,
            )
            (stage / module_files.CHANGELOG).write_text(
                changes_mod.changelog(
                    existing, version, datetime.date.today().isoformat(), changes, previous is None
                ),
                encoding="utf-8",
            )
            _render_module(stage, context)
        with phase(echo, "compiling the module's classes with javac"):
            _compile_module(stage, context)
    return version


def _warn_unknown_notes(meanings: dict[str, str], classes, echo) -> None:
    """A --notes line giving a meaning to a key that names no input or output (a typo, or a
    tensor renamed since): a warning naming it and the keys there are."""
    tensors = [t for c in classes for s in c.signatures for t in s.inputs + s.outputs]
    known = {t.info.key for t in tensors} | {planning.output_name(t.info) for t in tensors}
    unknown = sorted(set(meanings) - known)
    if unknown:
        echo(
            f"warning: --notes gives a meaning to {', '.join(f'`{k}`' for k in unknown)}, which "
            f"the model has no input or output of; its keys: {', '.join(sorted(known))}"
        )


def _read_notes(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"--notes {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None


# Maven coordinates: what Maven and Gradle accept, and nothing a build file would read as code.
_COORDINATE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def _module(data, group: str, artifact: str | None, version: str, package: str | None) -> Module:
    """The module's coordinates and package, from the flags or the model's name; each checked
    whole against its grammar, and a problem named by the flag the user gave."""
    if not _COORDINATE.fullmatch(group):
        raise UsageError(
            f"--group {group!r} is not a Maven groupId: letters, digits, '.', '-' and '_'"
        )
    if artifact is not None and not _COORDINATE.fullmatch(artifact):
        raise UsageError(
            f"--artifact {artifact!r} is not a Maven artifactId: letters, digits, '.', '-' and '_'"
        )
    if not _VERSION.fullmatch(version):
        raise UsageError(
            f"--module-version {version!r} is not a Maven version: letters, digits, '.', '-', "
            "'+' and '_', starting with a letter or digit (1.0.0, 2.1.0-SNAPSHOT)"
        )
    artifact = artifact or re.sub(r"[^a-z0-9]+", "-", data.name.lower()).strip("-") or "model"
    flag = "--package" if package else "--group"
    package = package or f"{group}.{re.sub(r'[^a-z0-9]', '', data.name.lower()) or 'model'}"
    if not is_package(package):
        raise UsageError(
            f"{flag} {package!r}: not a Java package name (dot-separated identifiers, no "
            "keywords)" + ("" if flag == "--package" else "; give one with --package")
        )
    if package == "java" or package.startswith("java."):
        raise UsageError(
            f"{flag} {package!r}: the JVM prohibits packages under java.; choose another"
        )
    return Module(group, artifact, version, package)


def _parity(export_dir: Path, seed: int, batch: int, tolerances: tuple, echo):
    """Parity on the export, with `tolerances` (atol, rtol, atol_of, rtol_of); a failure
    hands nothing off."""
    atol, rtol, atol_of, rtol_of = tolerances
    with phase(echo, "checking parity before the hand-off"):
        report = parity(
            export_dir,
            seed=seed,
            batch=batch,
            atol=atol,
            rtol=rtol,
            atol_of=atol_of,
            rtol_of=rtol_of,
            echo=echo,
        )
    if not report.ok:
        raise VerificationError(
            "parity failed, so nothing was handed off:\n" + "\n".join(report.lines())
        )
    return report


def _handed_manifest(data, runtime: Runtime) -> tuple[manifest_mod.Manifest, str, str]:
    """The manifest the module ships: the export's, with the TensorFlow Java parity ran on;
    its text and that text's sha256."""
    handed = json.loads(data.dumps())
    handed["java_runtime"] = runtime.to_json()
    text = json.dumps(handed, indent=2) + "\n"
    manifest_mod.validate(handed)
    return manifest_mod.Manifest.from_json(handed), text, hashlib.sha256(text.encode()).hexdigest()


def _resources(
    stage: Path,
    module: Module,
    export_dir: Path,
    data,
    text: str,
    labels: dict[str, Path],
    shipped: set[str],
) -> list[str]:
    """Copies the model files of the `shipped` formats, the manifest and the labels files into
    the module's resources; returns the labels files' paths in the module."""
    resources = stage / "src/main/resources" / module.package_path / "model"
    resources.mkdir(parents=True)
    for art in data.artifacts:
        if art.format in shipped:
            source = export_dir / art.path
            if source.is_dir():
                shutil.copytree(source, resources / art.path)
            else:
                shutil.copy2(source, resources / art.path)
    (resources / manifest_mod.MANIFEST_NAME).write_text(text)
    label_files: list[str] = []
    for key, path in labels.items():
        # a file name of the key's letters alone: an output key is the model's to choose
        # ('../../x', '/etc/y'), and no key may place a file outside the module
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", key).strip("._") or "labels"
        rel = f"src/main/resources/{module.package_path}/labels/{name}.txt"
        while rel in label_files:
            name += "_"
            rel = f"src/main/resources/{module.package_path}/labels/{name}.txt"
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, stage / rel)
        label_files.append(rel)
    return label_files


def _golden_vectors(
    stage: Path,
    module: Module,
    export_dir: Path,
    classes,
    batch: int,
    seed: int,
    how: dict[str, dict] | None = None,
) -> Golden:
    """Runs every signature of every class in Python TensorFlow on generated inputs and
    writes inputs and outputs as .npy resources (in the jar, whose main checks them as the
    golden test does), with the test case of each."""
    golden = Golden()
    resources = stage / "src/main/resources"
    root = resources / module.package_path / "golden"
    for cls in classes:
        model_resource = f"{module.model_root}/{cls.artifact.path}"
        run = targets.get(cls.artifact.format).runner(export_dir, cls.artifact)
        calls = []
        for jsig in cls.signatures:
            label = f"{cls.artifact.format} {jsig.sig.key}"
            if not all(t.golden for t in jsig.inputs + jsig.outputs):
                golden.left_out.append(label)
                continue
            feed = inputs_mod.generate(jsig.sig, batch=batch, seed=seed)
            outputs = run(jsig.sig.key, feed)
            where = root / cls.artifact.format / jsig.method
            where.mkdir(parents=True, exist_ok=True)
            args = []
            for t in jsig.inputs:
                _save_golden(where / f"in_{t.ident}.npy", feed[t.info.key], t)
                args.append(t.from_golden(_resource(resources, where / f"in_{t.ident}.npy")))
            outs = []
            for t in jsig.outputs:
                compared = (how or {}).get(t.info.key, {}).get("compare", "values")
                if compared == "skip":  # the export's --skip
                    continue
                _save_golden(where / f"out_{t.ident}.npy", outputs[t.info.key], t)
                outs.append(
                    {
                        "key": t.info.key,
                        "getter": t.getter,
                        "resource": _resource(resources, where / f"out_{t.ident}.npy"),
                        "top_k": t.top_k if compared == "values" else "",
                        "top_labels": _top_labels(outputs[t.info.key], t),
                        # dtype and shape only (unseeded random ops): any value within
                        "atol": "Double.POSITIVE_INFINITY"
                        if compared == "shape"
                        else _literal(how, t.info.key, "atol"),
                        "rtol": _literal(how, t.info.key, "rtol"),
                    }
                )
            test = f"{cls.artifact.format}{pascal(jsig.method)}"
            case = {
                "test": test,
                "check": f"check{pascal(test)}",
                "label": label,
                "cls": cls.name,
                "model_resource": model_resource,
                "method": jsig.method,
                "result": jsig.result_class,
                "args": args,
                "outputs": outs,
                "one": _one_check(jsig, outs),
            }
            golden.cases.append(case)
            calls.append(case)
        golden.smoke.append({"cls": cls.name, "model_resource": model_resource, "calls": calls})
    return golden


def _one_check(jsig, outs: list[dict]) -> dict | None:
    """How the golden test checks the signature's one-example method, where it has one: on
    the first golden example, each output held as flat data equals the batch's first row (its
    shape without the batch dimension), and labelled outputs give the batch's best label."""
    if not jsig.one:
        return None
    checked = {o["key"]: o for o in outs}
    flat, labelled = [], []
    for t, one in zip(jsig.outputs, jsig.one_outputs):
        out = checked.get(t.info.key)
        if out is None:
            continue
        if t.batched_output and t.views and one.views:
            flat.append(
                {
                    "key": t.info.key,
                    "flat": t.view_name("Flat"),
                    "shape": t.view_name("Shape"),
                    "atol": out["atol"],
                    "rtol": out["rtol"],
                }
            )
        if out["top_k"] and one.top_k and one.rank == 1 and out["top_labels"]:
            labelled.append({"key": t.info.key, "top_k": one.top_k, "best": out["top_labels"][0]})
    return {"method": jsig.one, "result": jsig.one_class, "flat": flat, "labelled": labelled}


def _context(
    module: Module,
    data,
    runtime: Runtime,
    classes,
    golden: Golden,
    report,
    notes: str,
    label_files: list[str],
    tolerances: tuple[float, float],
) -> ModuleContext:
    """The templates' names; `tolerances` (atol, rtol) become the golden test's literals."""
    test_class, check_class = _helper_classes(classes)
    return ModuleContext(
        generator=GENERATOR,
        version=__version__,
        package=module.package,
        package_path=module.package_path,
        group=module.group,
        artifact=module.artifact,
        project_version=module.version,
        model_name=data.name,
        manifest=data,
        runtime=runtime,
        junit_version=JUNIT_VERSION,
        test_class=test_class,
        check_class=check_class,
        cases=golden.cases,
        smoke=golden.smoke,
        atol=repr(float(tolerances[0])),
        rtol=repr(float(tolerances[1])),
        tensorflow_version=data.tensorflow_version,
        notes=notes.strip(),
        label_files=label_files,
        interface=classes[0].interface,
        classes=[
            {
                "name": c.name,
                "format": c.artifact.format,
                "resource": f"{module.model_root}/{c.artifact.path}",
                "signatures": c.signatures,
            }
            for c in classes
        ],
        shape=format_shape,
        parity=report,
        parity_lines=[
            f"{c.format} `{c.signature}`: "
            + ("ok" if c.ok else "FAILED")
            + (f", max abs diff {_max_diff(c):.2e}" if c.comparison else "")
            for c in report.cases
        ],
        left_out=golden.left_out,
        files=[f for c in classes for f in c.artifact.files],
        snippet_params=list(
            {t.ident: t.java_type for c in classes for s in c.signatures for t in s.inputs}.items()
        ),
    )


def environment():
    """The templates' environment, with the hand-off's filters: `e` (XML text) and `cell` (a
    Markdown table cell)."""
    env = rendering.environment()
    env.filters["e"] = _xml
    env.filters["cell"] = _cell
    env.filters["line"] = one_line
    env.filters["groovy"] = _groovy
    return env


def _helper_classes(classes) -> tuple[str, str]:
    """The names of the classes the hand-off adds beside the generated ones, after the
    model's: the golden test and the jar's main (GoldenNpy, the test's reader, besides)."""
    base = classes[0].name.removesuffix(targets.get(classes[0].artifact.format).java_suffix)
    return f"{base}GoldenTest", f"{base}Check"


def _refuse_clashes(classes, class_name: str | None) -> None:
    generated = {c.name for c in classes} | {classes[0].interface, binding.SUPPORT}
    clash = sorted(generated & {*_helper_classes(classes), "GoldenNpy"})
    if clash:
        flag = f"--class {class_name}" if class_name else "the model's name"
        raise UsageError(
            f"{flag} gives a class named {clash[0]}, which the hand-off module has already; "
            "choose another --class"
        )


def _compile_module(stage: Path, context: ModuleContext) -> None:
    """javac over the module's classes and the golden test's reader, so that a module that
    does not compile (a method too large, a name clash) is never handed off."""
    sources = sorted((stage / "src/main/java").rglob("*.java"))
    with scratch("javac") as tmp:
        try:
            javaenv.compile_sources(sources, Path(tmp))
        except javaenv.CompileError as exc:
            where = "; ".join(f"{p.name}:{line}: {msg}" for p, line, msg in exc.errors[:3])
            raise VerificationError(
                f"the module does not compile, so nothing was handed off ({where or exc})"
            ) from None


def _render_module(stage: Path, context: ModuleContext) -> None:
    """Renders the module's build files, README, golden test and Check main into `stage`."""
    env = environment()
    for template, target in HANDOFF_TEMPLATES:
        path = stage / target.format(**context.names())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(**context.names()), encoding="utf-8")
    (stage / "settings.gradle").write_text(f"rootProject.name = '{context.artifact}'\n")


def one_line(text) -> str:
    """Text on one line: every line terminator (\\r, \\n, U+2028...) and control character a
    space, so that a value inside a comment cannot end it."""
    return "".join(" " if ch.isspace() or not ch.isprintable() else ch for ch in str(text))


def _groovy(text) -> str:
    """Text safe inside a single-quoted Groovy string (and a // comment, with `line`)."""
    return one_line(text).replace("\\", "\\\\").replace("'", "\\'")


def _cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, one line."""
    return " ".join(text.replace("|", "\\|").split())


def _resource(root: Path, path: Path) -> str:
    """The classpath name of a file under a resources root."""
    return "/" + path.relative_to(root).as_posix()


def _save_golden(path: Path, value, t: binding.JavaTensor) -> None:
    """The values as the Java array of the generated API holds them (GoldenNpy reads them
    into that array): the same bits for unsigned integers, half floats widened. Strings: their
    bytes one after another (u1) in `path`, and each one's length (i8, of the tensor's shape)
    in NAME.lengths.npy beside it."""
    value = np.asarray(value)
    if t.info.dtype != "string":
        np.save(path, np.array(dtypes.get(t.info.dtype).to_java(value), order="C"))  # keeps rank 0
        return
    data, lengths = string_bytes(value)
    np.save(path, data)
    np.save(path.with_name(path.name.removesuffix(".npy") + ".lengths.npy"), lengths)


def _literal(how: dict | None, key: str, name: str) -> str:
    """The Java tolerance of one output's golden check: its own (`--atol KEY=V`), else the
    class's constant (ATOL, RTOL)."""
    own = (how or {}).get(key, {}).get(name)
    return name.upper() if own is None else repr(float(own))


def _max_diff(case) -> float:
    diffs = [c.max_abs_diff for c in case.comparison.checks if c.max_abs_diff is not None]
    return max(diffs, default=0.0)


def _xml(value) -> str:
    """Text safe in XML content, attributes and comments."""
    return html.escape(str(value)).replace("--", "- -")
