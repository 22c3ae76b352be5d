"""Planning and naming: from a manifest to the `JavaClass`es of its artifacts, each signature,
input and output given its Java name, type and forms, the result types shared where outputs
agree, labels attached, and the interface every class of the model implements."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from exporter import targets
from exporter.core.manifest import Manifest
from exporter.core.model import Signature, TensorInfo
from exporter.errors import ModelError, UsageError
from exporter.java.binding import (
    ANY_RANK,
    BYTES_ND,
    DEFAULT_PACKAGE,
    JAVA_TYPES,
    MAX_RANK,
    VIEWS,
    JavaClass,
    JavaSignature,
    JavaTensor,
)
from exporter.java.naming import (
    MAX_IDENTIFIER,
    OBJECT_METHODS,
    bounded,
    camel,
    is_identifier,
    is_package,
    javadoc,
    pascal,
    unique,
)
from exporter.java.rendering import contract, environment, type_names


def _share_results(classes: list[JavaClass]) -> list[JavaClass]:
    """Signatures whose results a caller sees alike (same getters, types, shapes, labels)
    return one result type, in every class of the model alike. It is named after
    `serving_default` if that is among them, else after the word their keys begin with
    (`regress_x_to_y`, `regress_x2_to_y3` -> RegressResult), else after the first of them."""
    groups: dict[tuple, list[JavaSignature]] = {}
    for c in classes:
        for s in c.signatures:
            groups.setdefault(s.result_api, []).append(s)
    own = {s.result_class for group in groups.values() for s in group}
    own |= {c.name for c in classes}
    named: dict[tuple, str] = {}
    for api, group in groups.items():
        keys = sorted({s.sig.key for s in group})
        first = {s.sig.key: s.result_class for s in group}
        name = first[keys[0]]
        verbs = {re.split(r"[^0-9A-Za-z]+", key)[0] for key in keys}
        if "serving_default" in first:
            name = first["serving_default"]
        elif len(keys) > 1 and len(verbs) == 1 and verbs != {""}:
            candidate = bounded(pascal(verbs.pop()) + "Result")
            if candidate not in own:
                name = candidate
                own.add(candidate)
        named[api] = name
    ones: dict[str, str] = {}  # result type -> the type of one example's outputs
    for name in dict.fromkeys(named.values()):
        stem = name.removesuffix("Result")
        ones[name] = unique([bounded(stem + "OneResult")], own | set(ones.values()))[0]
    return [
        replace(
            c,
            signatures=tuple(
                replace(
                    s,
                    result_class=named[s.result_api],
                    one_class=ones[named[s.result_api]] if s.one else "",
                )
                for s in c.signatures
            ),
        )
        for c in classes
    ]


def plan(
    manifest: Manifest,
    package: str = DEFAULT_PACKAGE,
    class_name: str | None = None,
    formats: tuple[str, ...] | None = None,
    strings: str = "text",
    output_names: dict[str, str] | None = None,
    templates: Path | None = None,
    labels: dict[str, list[str]] | None = None,
    meanings: dict[str, str] | None = None,
) -> list[JavaClass]:
    """The Java classes for a manifest. `strings` maps DT_STRING tensors to `String` (text,
    UTF-8) or, for scalars and vectors, to `byte[]` (bytes: any binary data, such as serialized
    tf.Example protos). `output_names` renames outputs (key -> name) for their getters.
    `templates`: a folder whose templates replace the shipped ones (their contracts count).
    `labels`: output key or name -> its class labels (`read_labels`); the result gets a top-k
    method for it. `meanings`: tensor key (or an output's name) -> what it means, for the
    Javadoc. Raises UsageError for a bad package, class or output name, or labels that do not
    fit their output."""
    output_names = dict(output_names or {})
    keys = {t.key for a in manifest.artifacts for s in a.signatures for t in s.outputs}
    unknown = sorted(set(output_names) - keys)
    if unknown:
        raise UsageError(
            f"--output-name {unknown[0]}: no output has that key; keys: {', '.join(sorted(keys))}"
        )
    if not is_package(package):
        raise UsageError(
            f"--package '{package}' is not a Java package name "
            "(dot-separated identifiers, no keywords)"
        )
    if class_name is not None and not is_identifier(class_name):
        raise UsageError(f"--class '{class_name}' is not a Java class name")
    base = class_name or bounded(pascal(manifest.name), MAX_IDENTIFIER - len("SavedModel"))
    env = environment(templates)
    classes = []
    for art in manifest.artifacts:
        target = targets.get(art.format)
        if not target.runs_in_java or (formats and art.format not in formats):
            continue  # TensorFlow Java does not run TFLite
        name = base + target.java_suffix
        members = contract(env, target.template).members
        own = served(art.signatures)
        methods = unique([camel(s.key) for s in own], members | OBJECT_METHODS)
        results = unique([bounded(pascal(s.key) + "Result") for s in own], {name})
        sigs = tuple(
            replace(
                _labelled(_signature(s, m, r, strings, output_names, meanings or {}), labels or {}),
                also=tuple(o.key for o in art.signatures if o.same_as == s.key),
            )
            for s, m, r in zip(own, methods, results)
        )
        batched = [s for s in sigs if s.batched]
        ones = unique(
            [bounded(s.method + "One") for s in batched],
            members | OBJECT_METHODS | set(methods),
        )
        named = dict(zip([s.method for s in batched], ones))
        sigs = tuple(replace(s, one=named[s.method]) if s.batched else s for s in sigs)
        classes.append(JavaClass(package, name, art, target.template, sigs))
    if not classes:
        raise UsageError(f"the manifest has no artifact of format {', '.join(formats or ())}")
    iface = base if base not in type_names(env, classes) else bounded(base + "Model")
    classes = _with_interface(_share_results(classes), iface)
    used = {
        n for c in classes for s in c.signatures for t in s.outputs if t.labels for n in t.names
    }
    unused = sorted(set(labels or {}) - used)
    if unused:
        outputs = [t for c in classes for s in c.signatures for t in s.outputs]
        names = sorted({t.info.key for t in outputs} | {t.names[2] for t in outputs})
        raise UsageError(
            f"--labels {unused[0]}: no output has that key or name; outputs: {', '.join(names)}"
        )
    return classes


def served(signatures) -> list[Signature]:
    """The signatures that get a method: not one that computes what another of the artifact
    does (`same_as`), which that one's method serves (Keras's `serve`, served by
    `servingDefault`)."""
    keys = {s.key for s in signatures}
    return [s for s in signatures if not (s.same_as and s.same_as in keys)]


# Types the model's interface declares besides its results and requests.
INTERFACE_TYPES = ("LoadException", "ClosedException", "CallException", "TopClass")


def _with_interface(classes: list[JavaClass], name: str) -> list[JavaClass]:
    """The classes, each implementing interface `name`, with their shared signatures marked."""
    common = set.intersection(*[{s.api for s in c.signatures} for c in classes])
    taken = {name, *(c.name for c in classes), *INTERFACE_TYPES}
    taken |= {r.name for c in classes for r in c.results}
    asked = [s for s in classes[0].signatures if s.api in common and _needs_request(s)]
    requests = dict(
        zip(
            [s.api for s in asked],
            unique([bounded(pascal(s.method) + "Request") for s in asked], taken),
        )
    )
    return [
        replace(
            c,
            interface=name,
            signatures=tuple(
                replace(s, shared=s.api in common, request=requests.get(s.api, ""))
                for s in c.signatures
            ),
        )
        for c in classes
    ]


def _needs_request(jsig: JavaSignature) -> bool:
    """Two inputs of one Java type, which a caller could swap without the compiler noticing:
    the interface offers a request with a named setter for each."""
    types = [t.java_type for t in jsig.inputs]
    return len(set(types)) < len(types)


def read_labels(path: Path, flag: str = "--labels") -> list[str]:
    """The labels of a labels file: one per line (UTF-8), trailing empty lines dropped.
    Raises UsageError for a file that cannot be read or holds none."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{flag} {path}: cannot read it as UTF-8 text ({exc})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise UsageError(f"{flag} {path}: holds no labels; give one label per line")
    return lines


def _labelled(jsig: JavaSignature, labels: dict[str, list[str]]) -> JavaSignature:
    """`jsig` with its labelled outputs' labels and top-k methods."""
    outputs = []
    for t in jsig.outputs:
        given = [labels[n] for n in t.names if n in labels]
        if given:
            t = _with_labels(t, tuple(given[0]), jsig)
        outputs.append(t)
    taken = [o.getter for o in outputs] + [v for o in outputs if o.views for v in o.views]
    tops = unique(
        taken
        + [bounded(camel(o.getter.removeprefix("get")) + "TopK") for o in outputs if o.labels],
        OBJECT_METHODS | {"topK"},
    )[len(taken) :]
    named = iter(tops)
    outputs = [replace(o, top_k=next(named)) if o.labels else o for o in outputs]
    return replace(jsig, outputs=tuple(outputs))


def _with_labels(t: JavaTensor, labels: tuple[str, ...], jsig: JavaSignature) -> JavaTensor:
    where = f"--labels {t.info.key}"
    if not t.bulk or t.element not in ("float", "double"):
        raise UsageError(
            f"{where}: output '{t.info.key}' is {t.info.dtype} of shape "
            f"{t.info.shape}; labels go with float scores of rank 1 or more"
        )
    classes = t.info.shape[-1]
    if classes >= 0 and classes != len(labels):
        raise UsageError(
            f"{where}: the file has {len(labels)} labels, but output '{t.info.key}' has "
            f"{classes} classes"
        )
    return replace(t, labels=labels, labels_const=f"LABELS${jsig.method}${t.ident}")


def _signature(
    sig: Signature,
    method: str,
    result_class: str,
    strings: str,
    output_names: dict[str, str],
    meanings: dict[str, str],
) -> JavaSignature:
    where = f"signature '{sig.key}'"

    def tensor(info: TensorInfo, ident: str, getter: str) -> JavaTensor:
        meaning = meanings.get(info.key) or meanings.get(output_name(info)) or ""
        return replace(_tensor(info, ident, getter, where, strings, meaning), meaning=meaning)

    params = unique([camel(t.key) for t in sig.inputs])
    names = [output_names.get(t.key) or output_name(t) for t in sig.outputs]
    fields = unique([camel(n) for n in names])
    getters = unique([bounded("get" + pascal(n).lstrip("_")) for n in names], OBJECT_METHODS)
    outputs = [tensor(t, f, g) for t, f, g in zip(sig.outputs, fields, getters)]
    bulk = [t for t in outputs if t.bulk]
    views = unique(
        getters + [bounded(t.getter + v.suffix) for t in bulk for v in VIEWS], OBJECT_METHODS
    )[len(getters) :]
    n = len(VIEWS)
    views_of = {id(t): tuple(views[n * i : n * i + n]) for i, t in enumerate(bulk)}
    return JavaSignature(
        sig=sig,
        method=method,
        result_class=result_class,
        inputs=tuple(tensor(t, p, "") for t, p in zip(sig.inputs, params)),
        outputs=tuple(replace(t, views=views_of[id(t)]) if t.bulk else t for t in outputs),
    )


def output_name(info: TensorInfo) -> str:
    """The best name known for an output: its key, unless Keras generated it (`output_0`)
    and the manifest knows the layer that produced it (`predictions`)."""
    if info.keras_layer and re.fullmatch(r"output_\d+", info.key):
        return info.keras_layer
    return info.key


def _tensor(
    info: TensorInfo, ident: str, getter: str, where: str, strings: str, meaning: str = ""
) -> JavaTensor:
    """The Java side of one tensor; `meaning` (what it means, from the user) goes into its
    Javadoc after its key."""
    head = f"'{info.key}'" + (f" ({meaning})" if meaning else "")
    if info.example is not None:  # serialized tf.train.Example protos are binary
        strings = "bytes"
    jtype = JAVA_TYPES.get(info.dtype)
    if jtype is None:
        raise ModelError(
            f"{where}: '{info.key}' has dtype {info.dtype}, which TensorFlow Java "
            f"has no tensor type for; supported: {', '.join(JAVA_TYPES)}"
        )
    if info.shape is None or len(info.shape) > MAX_RANK:
        # No Java array type fits: an NdArray, which carries its own shape, does.
        shape = "unknown rank" if info.shape is None else f"rank {len(info.shape)}"
        if info.dtype == "string" and strings == "bytes":
            doc = javadoc(f"{head}, string as bytes, {shape}")
            return JavaTensor(info, ident, getter, BYTES_ND[0], "TString", ANY_RANK, doc, True)
        doc = javadoc(f"{head}, {info.dtype}, {shape}")
        return JavaTensor(info, ident, getter, jtype.nd_array, jtype.tensor, ANY_RANK, doc)
    rank = len(info.shape)
    shape = (
        "scalar"
        if rank == 0
        else "(" + ", ".join("?" if d < 0 else str(d) for d in info.shape) + ")"
    )
    if info.dtype == "string" and strings == "bytes" and rank <= 1:
        # TensorFlow Java copies byte[] elements in bulk only as scalars and vectors; string
        # tensors of higher rank stay String
        doc = javadoc(f"{head}, string as bytes {shape}")
        return JavaTensor(info, ident, getter, "byte[]" + "[]" * rank, "TString", rank, doc, True)
    values = f", {info.values_text}" if info.values_text else ""
    doc = javadoc(f"{head}, {info.dtype} {shape}{values}")
    return JavaTensor(info, ident, getter, jtype.element + "[]" * rank, jtype.tensor, rank, doc)
