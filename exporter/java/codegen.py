"""Java source from a manifest alone. Every value the templates place (identifiers, types,
literals, expressions) is computed here; the templates only lay them out. Pure Python: no
TensorFlow import, so the Java worker can use the same plan to call the generated classes."""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2

from exporter import GENERATOR, __version__, targets
from exporter.core import dtypes, javaenv
from exporter.core.fsutil import staged_file
from exporter.core.manifest import Manifest
from exporter.core.model import Artifact, Signature, TensorInfo
from exporter.errors import ModelError, OutputExistsError, UsageError
from exporter.java.naming import (
    MAX_IDENTIFIER,
    OBJECT_METHODS,
    bounded,
    camel,
    is_identifier,
    is_package,
    java_string,
    javadoc,
    pascal,
    unique,
)

DEFAULT_PACKAGE = "com.example.models"
MAX_RANK = 6  # TensorFlow Java's StdArrays copies arrays of rank 1 to 6


@dataclass(frozen=True)
class JavaType:
    element: str  # Java element type
    tensor: str  # TensorFlow Java tensor type
    scalar_getter: str  # reads a rank-0 tensor
    nd_array: str  # the NdArray type for a tensor of unknown rank
    nd_factory: str  # Java expression: a new such NdArray of Shape `shape`


def _java_type(d: dtypes.DType) -> JavaType:
    if d.name == "string":
        return JavaType(
            "String",
            "TString",
            "getObject",
            "NdArray<String>",
            "NdArrays.ofObjects(String.class, shape)",
        )
    cap = d.nd_name
    return JavaType(d.java, d.tensor, f"get{cap}", f"{cap}NdArray", f"NdArrays.of{cap}s(shape)")


JAVA_TYPES: dict[str, JavaType] = {
    d.name: _java_type(d) for d in dtypes.DTYPES.values() if d.in_java
}
# The support class each package of generated classes holds: the runtime check and the
# nested-array checks and copies, once for all its models.
SUPPORT = "Tf2JavaSupport"
SUPPORT_TEMPLATE = "support.java.j2"
BYTES_ND = ("NdArray<byte[]>", "NdArrays.ofObjects(byte[].class, shape)")
ANY_RANK = -1  # JavaTensor.rank of a tensor passed as an NdArray: unknown rank, or above MAX_RANK
# The java.nio buffer of a Java element type (booleans have none).
NIO = {
    "float": "FloatBuffer",
    "double": "DoubleBuffer",
    "int": "IntBuffer",
    "long": "LongBuffer",
    "byte": "ByteBuffer",
    "short": "ShortBuffer",
}


@dataclass(frozen=True)
class Contract:
    """What a template declares in its `{#- tf2java template ... -#}` header, with the
    templates it imports: the members it defines in a generated class (methods, fields,
    helpers), which a signature's method never takes as its name, and the imports the class
    needs besides its tensor and NdArray types (tf2java adds those, sorts, and passes the
    whole list as `imports`). Templates refer to their fields as `this.x`, and their locals
    end in `$`, so that a parameter of any name shadows nothing."""

    members: frozenset[str]
    imports: frozenset[str]


_HEADER = re.compile(r"\{#-?\s*tf2java template\s*\n(.*?)-?#\}", re.S)
_FIELD = re.compile(r"^(\w+):((?:.*\n?)(?:[ \t]+.*\n?)*)", re.M)
_USES = re.compile(r"\{%-?\s*(?:import|include|extends|from)\s+[\"']([^\"']+)[\"']")


def contract(env: jinja2.Environment, name: str) -> Contract:
    """The contract of template `name` and of every template it imports."""
    members: set[str] = set()
    imports: set[str] = set()
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        source, _, _ = env.loader.get_source(env, current)
        header = _HEADER.search(source)
        fields = dict(_FIELD.findall(header.group(1))) if header else {}
        members.update(fields.get("members", "").split())
        imports.update(fields.get("imports", "").split())
        todo.extend(_USES.findall(source))
    return Contract(frozenset(members), frozenset(imports))


@dataclass(frozen=True)
class JavaTensor:
    info: TensorInfo
    ident: str  # parameter name, or the field behind a getter
    getter: str
    java_type: str
    tensor_type: str
    rank: int
    doc: str  # Javadoc text: key, dtype, shape
    bytes_strings: bool = False  # a DT_STRING tensor as byte[] elements, not String
    # An output held as flat data: the names of its flat, shape and NdArray getters.
    views: tuple[str, str, str] | None = None
    # A labelled output (--labels): its labels, the constant holding them, its top-k method.
    labels: tuple[str, ...] | None = None
    labels_const: str = ""
    top_k: str = ""
    # How an input is passed: "nested" (a Java array of its rank, or an NdArray where no array
    # type fits), "nd" (an NdArray or a tensor), "flat" (a flat array and a shape), "nio" (a
    # java.nio buffer and a shape); `shape_ident` names the shape parameter of the last two.
    form: str = "nested"
    shape_ident: str = ""
    meaning: str = ""  # what the tensor means, as the user described it (--notes)

    @property
    def nullable(self) -> bool:
        """An array, NdArray or String/byte[] parameter: checked for null and shape on entry."""
        return self.rank != 0 or self.info.dtype == "string"

    @property
    def nd(self) -> bool:
        """Passed as an NdArray, which carries its own shape."""
        return self.rank == ANY_RANK

    @property
    def bulk(self) -> bool:
        """A nested array of numbers or booleans: copied to and from the tensor's buffer one
        innermost row at a time (System.arraycopy), never an element at a time."""
        return self.rank > 0 and self.info.dtype != "string" and not self.bytes_strings

    @property
    def element(self) -> str:
        return self.java_type.split("[")[0]

    @property
    def shaped(self) -> bool:
        """An input whose shape the entry check computes into `shape$i`: a nested array (of
        any element type) or flat data with a shape."""
        return self.rank > 0

    @property
    def params(self) -> list[tuple[str, str, str]]:
        """(Java type, name, Javadoc text) of each parameter this input takes."""
        if self.form in ("flat", "nio"):
            what = "a java.nio buffer of" if self.form == "nio" else "the elements of"
            return [
                (self.java_type, self.ident, f"{what} {self.doc}, in row-major order"),
                ("long[]", self.shape_ident, f"the shape of {self.ident}"),
            ]
        return [(self.java_type, self.ident, self.doc)]

    def entry_at(self, i: int) -> str:
        """A Java statement checking input number `i` on entry (null, rank, dimensions, size,
        ragged rows), naming the input; '' for a primitive scalar, which needs none."""
        expected = self.shape_literal
        if self.form in ("flat", "nio"):
            size = "remaining()" if self.form == "nio" else "length"
            return (
                f"long[] shape${i} = {SUPPORT}.flatShape({self.key_literal}, {self.ident}, "
                f"{self.ident} == null ? 0 : {self.ident}.{size}, {self.shape_ident}, {expected});"
            )
        if self.shaped:
            return (
                f"long[] shape${i} = {SUPPORT}.arrayShape({self.key_literal}, {self.ident}, "
                f"{expected});"
            )
        if self.nullable:
            return (
                f"{SUPPORT}.requireShape({self.key_literal}, {expected}, "
                f"{self.ident} == null ? null : {self.shape_of});"
            )
        return ""

    def to_tensor_at(self, i: int) -> str:
        """Java expression: input number `i` as a new tensor, or null for a tensor the caller
        passed, which is fed as it is (`feed_at`). Data goes in with one bulk copy: a nested
        array through a flat array of the tensor's layout (its shape is `shape$i`, computed on
        entry), flat data and buffers directly."""
        shape = f"Shape.of(shape${i})"
        if self.form in ("flat", "nio"):
            data = f"{self.ident}.slice()" if self.form == "nio" else f"{self.ident}, true, false"
            return f"{self.tensor_type}.tensorOf({shape}, DataBuffers.of({data}))"
        if self.nd and not self.bytes_strings:
            return (
                f"{self.ident} instanceof {self.tensor_type} ? null : "
                f"{self.tensor_type}.tensorOf({self.ident})"
            )
        if not self.shaped:
            return self.to_tensor
        size = f"{SUPPORT}.size({self.key_literal}, shape${i})"
        flat = f"new byte[{size}][]" if self.bytes_strings else f"new {self.element}[{size}]"
        data = f"{SUPPORT}.flatten({self.key_literal}, {self.ident}, shape${i}, {flat})"
        if self.bulk:
            return f"{self.tensor_type}.tensorOf({shape}, DataBuffers.of({data}, true, false))"
        strings = f"DataBuffers.of({SUPPORT}.noNulls({self.key_literal}, {data}), true, false)"
        of = "tensorOfBytes" if self.bytes_strings else "tensorOf"
        return f"TString.{of}(NdArrays.wrap({shape}, {strings}))"

    def feed_at(self, i: int) -> str:
        """Java expression: the tensor fed for input number `i`."""
        if self.nd and not self.bytes_strings:
            return f"input${i} != null ? input${i} : ({self.tensor_type}) {self.ident}"
        return f"input${i}"

    def batch_of(self, i: int) -> str:
        return f"shape${i}[0]"

    def as_form(self, form: str) -> JavaTensor:
        """This input as the overload of `form` takes it: "nd" takes every input as an NdArray
        (a tensor among them); "flat" and "nio" take arrays of numbers and booleans as flat
        data or a java.nio buffer (booleans, which have none, as flat data) with a shape, and
        the other inputs as the nested form does."""
        if form == "nd":
            nd_type = BYTES_ND[0] if self.bytes_strings else JAVA_TYPES[self.info.dtype].nd_array
            return replace(self, java_type=nd_type, rank=ANY_RANK, form="nd")
        if not self.bulk:
            return self
        if form == "nio" and self.element in NIO:
            return replace(self, java_type=NIO[self.element], form="nio")
        return replace(self, java_type=self.element + "[]", form="flat")

    @property
    def shape_of(self) -> str:
        """Java expression: the shape of this (non-null) parameter."""
        if self.nd:
            return f"{self.ident}.shape()"
        if self.rank == 0:
            return "Shape.scalar()"
        if self.bytes_strings:
            return f"Shape.of({self.ident}.length)"
        return f"StdArrays.shapeOf({self.ident})"

    @property
    def key_literal(self) -> str:
        return java_string(self.info.key)

    @property
    def name_literal(self) -> str:
        return java_string(self.info.name)

    @property
    def shape_literal(self) -> str:
        if self.info.shape is None:
            return "null"
        return "new long[] {" + ", ".join(f"{d}L" for d in self.info.shape) + "}"

    @property
    def to_tensor(self) -> str:
        """Java expression: this parameter as a new tensor (one bulk copy)."""
        if self.nd:
            if self.bytes_strings:
                return f"TString.tensorOfBytes({self.ident})"
            return f"{self.tensor_type}.tensorOf({self.ident})"
        if self.bytes_strings:
            wrap = "scalarOfObject" if self.rank == 0 else "vectorOfObjects"
            return f"TString.tensorOfBytes(NdArrays.{wrap}({self.ident}))"
        if self.rank == 0:
            return f"{self.tensor_type}.scalarOf({self.ident})"
        if self.info.dtype == "string":
            return f"TString.tensorOf(StdArrays.ndCopyOf({self.ident}))"
        return (
            f"{self.tensor_type}.tensorOf(StdArrays.shapeOf({self.ident}), "
            f"t$ -> StdArrays.copyTo({self.ident}, t$))"
        )

    @property
    def names(self) -> tuple[str, ...]:
        """What `--labels` may call this output: its key, or the name its getter comes from."""
        return (self.info.key, self.getter.removeprefix("get"), camel(self.getter[3:]))

    @property
    def nd_view_type(self) -> str:
        """The NdArray type of an output's view (FloatNdArray for float, ...)."""
        return JAVA_TYPES[self.info.dtype].nd_array

    def result_args(self, tensor: str) -> list[str]:
        """Java expressions: what the result keeps of the fetched tensor. A nested-array
        output keeps its flat data and its shape (one bulk copy); its getters build the
        nested array, or give the flat data and an NdArray view over it."""
        if self.bulk:
            return [f"flatOf(({self.tensor_type}) {tensor})", f"{tensor}.shape().asArray()"]
        return [self.from_tensor(tensor)]

    @property
    def one_type(self) -> str:
        """The Java type of one example of this batched input: one rank less."""
        return self.java_type[:-2]

    @property
    def one_wrap(self) -> str:
        """Java expression: one example of this input as a batch of one (null stays null, for
        the entry check to name)."""
        batch = f"new {self.java_type} {{{self.ident}}}"
        if self.one_type.endswith("]") or self.one_type == "String":
            return f"{self.ident} == null ? null : {batch}"
        return batch

    def result_params(self) -> list[str]:
        """The result constructor's parameters for this output (see `result_args`)."""
        if self.bulk:
            return [f"{self.element}[] {self.ident}", f"long[] {self.ident}$shape"]
        return [f"{self.java_type} {self.ident}"]

    def from_tensor(self, tensor: str) -> str:
        """Java expression: the fetched tensor as a Java array (one bulk copy)."""
        cast = f"({self.tensor_type}) {tensor}"
        if self.nd:
            return f"{'ndCopyOfBytes' if self.bytes_strings else 'ndCopyOf'}({cast})"
        if self.bytes_strings:
            if self.rank == 0:
                return f"(({cast}).asBytes().getObject())"
            return f"StdArrays.array1dCopyOf((({cast}).asBytes()), byte[].class)"
        if self.rank == 0:
            return f"({cast}).{JAVA_TYPES[self.info.dtype].scalar_getter}()"
        if self.bulk:
            return (
                f"({self.java_type}) {SUPPORT}.nested(flatOf({cast}), {tensor}.shape().asArray(), "
                f"{self.element}.class)"
            )
        extra = ", String.class" if self.info.dtype == "string" else ""
        return f"StdArrays.array{self.rank}dCopyOf({cast}{extra})"


@dataclass(frozen=True)
class Overload:
    """One method of a signature: the inputs in one form, and how it takes them (Javadoc
    text; '' for the nested arrays)."""

    inputs: tuple[JavaTensor, ...]
    how: str = ""
    note: str = ""  # a paragraph of Javadoc, as HTML text

    @property
    def note_lines(self) -> list[str]:
        """The note, wrapped for a Javadoc comment."""
        return textwrap.wrap("<p>" + self.note, 92) if self.note else []

    @property
    def params(self) -> list[tuple[str, str, str]]:
        """(Java type, name, Javadoc text) of each parameter."""
        return [p for t in self.inputs for p in t.params]

    @property
    def params_text(self) -> str:
        """The parameter list, as Java declares it."""
        return ", ".join(f"{java_type} {name}" for java_type, name, _ in self.params)


ND_HOW = ", with inputs as NdArrays or tensors"
ND_NOTE = (
    "A tensor is fed as it is, without a copy, and stays the caller's to close; any other "
    "NdArray (flat data wrapped with {@code NdArrays.wrap}, for one) is copied in bulk."
)
FLAT_HOW = ", with each array of numbers flat and its shape"
FLAT_NOTE = "Flat arrays hold their elements in row-major order; they are copied in bulk."
NIO_HOW = ", with each array of numbers as a java.nio buffer and its shape"
NIO_NOTE = (
    "A buffer's remaining elements (from its position to its limit) are read in row-major "
    "order, from a heap or a direct buffer, in bulk; its position does not change."
)


@dataclass(frozen=True)
class JavaSignature:
    sig: Signature
    method: str
    result_class: str
    inputs: tuple[JavaTensor, ...]
    outputs: tuple[JavaTensor, ...]
    shared: bool = False  # declared by the model's interface, which every class implements
    one: str = ""  # the method that runs one example, where every input is batched

    @property
    def runner(self) -> str:
        """The private method every overload of this signature calls with its tensors (`$`
        never appears in a name tf2java derives, so it takes none)."""
        return f"{self.method}$run"

    @property
    def inputs_text(self) -> str:
        """A Java string literal: the input keys, for messages."""
        return java_string(", ".join(t.info.key for t in self.inputs) or "(none)")

    @property
    def api(self) -> tuple:
        """What a caller sees of this signature: equal in two classes, one interface serves
        both."""
        return (
            self.method,
            self.result_class,
            tuple(tuple(o.params) for o in self.overloads),
            self.result_api,
            self.one,
        )

    @property
    def result_api(self) -> tuple:
        """What a caller sees of this signature's result: signatures of one class with equal
        ones share one result type."""
        return tuple(
            (t.getter, t.java_type, t.views, t.top_k, t.labels, t.doc) for t in self.outputs
        )

    @property
    def batched(self) -> bool:
        """Every input an array whose first dimension is the batch (-1): one example is an
        array of one rank less."""
        return bool(self.inputs) and all(
            t.rank >= 1 and t.info.shape[0] < 0 and (t.bulk or t.info.dtype == "string")
            for t in self.inputs
        )

    @property
    def key_literal(self) -> str:
        return java_string(self.sig.key)

    @property
    def labelled(self) -> list[JavaTensor]:
        return [t for t in self.outputs if t.labels]

    @property
    def doc(self) -> str:
        return javadoc(self.sig.key)

    @property
    def nd_inputs(self) -> tuple[JavaTensor, ...]:
        """The inputs of the overload that takes NdArrays (TensorFlow Java's own arrays, flat
        data wrapped with NdArrays.wrap, or tensors): there is one where an input is an array
        of numbers or booleans."""
        if not any(t.bulk for t in self.inputs):
            return ()
        return tuple(t.as_form("nd") for t in self.inputs)

    @property
    def overloads(self) -> tuple[Overload, ...]:
        """The methods of this signature: nested arrays; where an input is an array of numbers
        or booleans, also NdArrays, flat arrays with shapes, and java.nio buffers with shapes
        (not where every such input is boolean: java.nio has no boolean buffer)."""
        found = [Overload(self.inputs)]
        if not self.nd_inputs:
            return tuple(found)
        found.append(Overload(self.nd_inputs, ND_HOW, ND_NOTE))
        idents = [t.ident for t in self.inputs]
        bulk = [t for t in self.inputs if t.bulk]
        shapes = unique(idents + [bounded(t.ident + "Shape") for t in bulk])[len(idents) :]
        shape_of = {t.ident: name for t, name in zip(bulk, shapes)}
        forms = [("flat", FLAT_HOW, FLAT_NOTE)]
        if any(t.element in NIO for t in bulk):
            forms.append(("nio", NIO_HOW, NIO_NOTE))
        for form, how, note in forms:
            inputs = tuple(
                replace(t.as_form(form), shape_ident=shape_of.get(t.ident, "")) for t in self.inputs
            )
            found.append(Overload(inputs, how, note))
        return tuple(found)

    @staticmethod
    def batch_checked(inputs) -> list[tuple[int, JavaTensor]]:
        """Inputs whose shape the entry computes and whose first dimension is the batch: they
        must agree."""
        return [
            (i, t)
            for i, t in enumerate(inputs)
            if t.shaped and t.info.shape and t.info.shape[0] < 0
        ]


@dataclass(frozen=True)
class ResultType:
    """A result type and the signatures that return it."""

    signatures: tuple[JavaSignature, ...]

    @property
    def name(self) -> str:
        return self.signatures[0].result_class

    @property
    def outputs(self) -> tuple[JavaTensor, ...]:
        return self.signatures[0].outputs

    @property
    def labelled(self) -> list[JavaTensor]:
        return self.signatures[0].labelled

    @property
    def shared(self) -> bool:
        """Declared by the model's interface."""
        return any(s.shared for s in self.signatures)

    @property
    def doc(self) -> str:
        """Javadoc text: 'Outputs of signature 'a'' or 'Outputs of signatures 'a', 'b''."""
        keys = ", ".join(f"'{s.doc}'" for s in self.signatures)
        return f"Outputs of signature{'s' if len(self.signatures) > 1 else ''} {keys}."


def results_of(signatures) -> list[ResultType]:
    """The result types of `signatures` in order of first use, each with its signatures."""
    grouped: dict[str, list[JavaSignature]] = {}
    for s in signatures:
        grouped.setdefault(s.result_class, []).append(s)
    return [ResultType(tuple(group)) for group in grouped.values()]


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
    return [
        replace(
            c,
            signatures=tuple(replace(s, result_class=named[s.result_api]) for s in c.signatures),
        )
        for c in classes
    ]


@dataclass(frozen=True)
class JavaClass:
    package: str
    name: str
    artifact: Artifact
    template: str
    signatures: tuple[JavaSignature, ...]
    interface: str = ""  # the model's interface, which this class implements

    @property
    def graph_bytes(self) -> int:
        return sum(f["size"] for f in self.artifact.files)

    @property
    def grappler(self) -> bool:
        """Whether sessions run Grappler by default: not on a frozen graph of GRAPPLER_LIMIT
        bytes or more, whose constants its rewrites would copy several times over."""
        return self.artifact.format != "frozen" or self.graph_bytes < GRAPPLER_LIMIT

    @property
    def graph_size(self) -> str:
        return f"{self.graph_bytes / 2**30:.2f} GiB"

    @property
    def model_sha256(self) -> str:
        """One digest of the artifact's files: sha256 over their "path sha256" lines."""
        lines = "".join(
            f"{f['path']} {f['sha256']}\n"
            for f in sorted(self.artifact.files, key=lambda f: f["path"])
        )
        return hashlib.sha256(lines.encode()).hexdigest()

    @property
    def results(self) -> list[ResultType]:
        """The result types of the class's signatures, each once."""
        return results_of(self.signatures)

    @property
    def bulk_outputs(self) -> bool:
        return any(t.bulk for s in self.signatures for t in s.outputs)

    @property
    def labelled(self) -> list[JavaTensor]:
        """The outputs with labels, each with the constant of its labels (once per result
        type)."""
        return [t for r in self.results for t in r.labelled]

    @property
    def label_elements(self) -> list[str]:
        """The Java element types of the labelled outputs' scores: one topClasses each."""
        return sorted({t.element for t in self.labelled})

    @property
    def file_digests(self) -> list[tuple[str, str]]:
        """(path relative to what `load` takes, sha256) of each model file: '' for a model
        that is one file."""
        prefix = self.artifact.path + "/"
        return [
            ("" if f["path"] == self.artifact.path else f["path"].removeprefix(prefix), f["sha256"])
            for f in sorted(self.artifact.files, key=lambda f: f["path"])
        ]

    @property
    def flat_readers(self) -> list[dict[str, str]]:
        """flatOf overloads: one per NdArray type an output is read from."""
        found = {
            (t.element, JAVA_TYPES[t.info.dtype].nd_array)
            for s in self.signatures
            for t in s.outputs
            if t.bulk
        }
        return [{"element": e, "nd": nd} for e, nd in sorted(found)]

    @property
    def qualified_name(self) -> str:
        return f"{self.package}.{self.name}"

    @property
    def relative_path(self) -> Path:
        return Path(*self.package.split("."), f"{self.name}.java")


STRING_TYPES = ("text", "bytes")
# A frozen graph this large gets sessions without Grappler by default: with 1 GiB of constants
# its rewrites took 7 GiB more and 100 s on the first run (TensorFlow Java 1.1.0, 2 cores).
GRAPPLER_LIMIT = 256 * 2**20


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
        methods = unique([camel(s.key) for s in art.signatures], members | OBJECT_METHODS)
        results = unique([bounded(pascal(s.key) + "Result") for s in art.signatures], {name})
        sigs = tuple(
            _labelled(_signature(s, m, r, strings, output_names, meanings or {}), labels or {})
            for s, m, r in zip(art.signatures, methods, results)
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
    iface = base if base not in _type_names(env, classes) else bounded(base + "Model")
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


# java.lang types the generated code names (it imports no java.lang type)
JAVA_LANG = frozenset(
    "AutoCloseable Boolean Byte Class Double Exception Float IllegalArgumentException "
    "IllegalStateException Integer Long Math Object Override RuntimeException Short String "
    "System Throwable Void".split()
)


def _type_names(env: jinja2.Environment, classes: list[JavaClass]) -> set[str]:
    """Simple names of the types the generated files use: the model's interface cannot take
    one (a model called `graph` gets the interface GraphModel, not Graph, which the frozen
    class imports from org.tensorflow)."""
    templates = [c.template for c in classes] + ["interface.java.j2", SUPPORT_TEMPLATE]
    names = {i for t in templates for i in contract(env, t).imports}
    names |= {f"org.tensorflow.types.{j.tensor}" for j in JAVA_TYPES.values()}
    names |= {f"org.tensorflow.ndarray.{j.nd_array.split('<')[0]}" for j in JAVA_TYPES.values()}
    names |= {f"java.nio.{n}" for n in NIO.values()}
    return {n.rsplit(".", 1)[-1] for n in names} | JAVA_LANG | {SUPPORT}


@dataclass(frozen=True)
class JavaInterface:
    """The model's interface: the signatures every class serves with the same types."""

    package: str
    name: str
    classes: tuple[str, ...]
    signatures: tuple[JavaSignature, ...]
    labelled: bool = False  # a class has a labelled output: the interface declares TopClass
    template: str = "interface.java.j2"

    @property
    def results(self) -> list[ResultType]:
        return results_of(self.signatures)

    @property
    def relative_path(self) -> Path:
        return Path(*self.package.split("."), f"{self.name}.java")

    @property
    def support_path(self) -> Path:
        """The package's support class, beside the interface."""
        return Path(*self.package.split("."), f"{SUPPORT}.java")


def _with_interface(classes: list[JavaClass], name: str) -> list[JavaClass]:
    """The classes, each implementing interface `name`, with their shared signatures marked."""
    common = set.intersection(*[{s.api for s in c.signatures} for c in classes])
    return [
        replace(
            c,
            interface=name,
            signatures=tuple(replace(s, shared=s.api in common) for s in c.signatures),
        )
        for c in classes
    ]


def interface_of(classes: list[JavaClass]) -> JavaInterface:
    """The interface the classes of one model implement."""
    first = classes[0]
    return JavaInterface(
        first.package,
        first.interface,
        tuple(c.name for c in classes),
        tuple(s for s in first.signatures if s.shared),
        labelled=any(c.labelled for c in classes),
    )


def render_interface(
    iface: JavaInterface, manifest: Manifest, manifest_sha256: str, templates: Path | None = None
) -> str:
    """The Java source of the model's interface."""
    env = environment(templates)
    declared = contract(env, iface.template)
    return _render(
        env,
        iface.template,
        manifest,
        manifest_sha256,
        iface=iface,
        imports=sorted(declared.imports | _api_imports(iface.signatures)),
    )


def sources(
    classes: list[JavaClass],
    manifest: Manifest,
    manifest_sha256: str,
    templates: Path | None = None,
) -> dict[str, str]:
    """Relative path -> Java source of every file the classes need: each class, the model's
    interface and the package's support class (the same for every model of a package)."""
    files = {
        c.relative_path.as_posix(): render(c, manifest, manifest_sha256, templates) for c in classes
    }
    iface = interface_of(classes)
    files[iface.relative_path.as_posix()] = render_interface(
        iface, manifest, manifest_sha256, templates
    )
    env = environment(templates)
    files[iface.support_path.as_posix()] = _render(
        env,
        SUPPORT_TEMPLATE,
        manifest,
        manifest_sha256,
        package=iface.package,
        imports=sorted(contract(env, SUPPORT_TEMPLATE).imports),
    )
    return files


def generated_paths(classes: list[JavaClass]) -> list[Path]:
    """Every file the classes need, relative to their source folder: each class, the model's
    interface and the package's support class."""
    iface = interface_of(classes)
    return [c.relative_path for c in classes] + [iface.relative_path, iface.support_path]


def write_sources(
    classes: list[JavaClass], manifest: Manifest, manifest_sha256: str, root: Path
) -> list[Path]:
    """Writes `sources` under the source folder `root`; returns the paths written."""
    paths = []
    for rel, text in sources(classes, manifest, manifest_sha256).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


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
        getters + [bounded(t.getter + s) for t in bulk for s in ("Flat", "Shape", "Nd")],
        OBJECT_METHODS,
    )[len(getters) :]
    views_of = {id(t): tuple(views[3 * i : 3 * i + 3]) for i, t in enumerate(bulk)}
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


def templates_dir() -> Path:
    """The shipped templates: inside the installed package (a wheel maps the top-level
    templates/ folder to exporter/templates), or templates/ beside it in a checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "templates", package.parent / "templates"):
        if all((candidate / t.template).is_file() for t in targets.java_targets()):
            return candidate
    raise FileNotFoundError("tf2java's Java templates are missing from the installation")


def environment(override: Path | None = None) -> jinja2.Environment:
    """Templates in `override` (a user's folder) win over the shipped ones of the same name."""
    dirs = ([override] if override else []) + [templates_dir()]
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in dirs])
    env = jinja2.Environment(
        loader=loader,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["java_string"] = java_string
    env.filters["javadoc"] = javadoc
    return env


def render(
    cls: JavaClass, manifest: Manifest, manifest_sha256: str, templates: Path | None = None
) -> str:
    """The Java source of `cls`, rendered from its template (one of `templates`' if it has one of
    that name) with the values its contract promises."""
    env = environment(templates)
    files = [f["path"] for f in cls.artifact.files]
    prefix = cls.artifact.path + "/"
    return _render(
        env,
        cls.template,
        manifest,
        manifest_sha256,
        cls=cls,
        artifact_files=[p[len(prefix) :] for p in files if p.startswith(prefix)],
        nd_copies=nd_copies(cls),
        imports=imports(cls, contract(env, cls.template)),
    )


def _render(
    env: jinja2.Environment, template: str, manifest: Manifest, manifest_sha256: str, **values
) -> str:
    """Renders `template` with what every template receives, and `values`."""
    return env.get_template(template).render(
        manifest=manifest,
        manifest_sha256=manifest_sha256,
        generator=GENERATOR,
        version=__version__,
        template_name=template,
        **values,
    )


def imports(cls: JavaClass, declared: Contract) -> list[str]:
    """The class's imports, sorted: what its template declares, its tensor types and the
    NdArray types of its tensors."""
    tensors = [t for s in cls.signatures for o in s.overloads for t in o.inputs]
    tensors += [t for s in cls.signatures for t in s.outputs]
    return sorted(
        declared.imports
        | _api_imports(cls.signatures)
        | {f"org.tensorflow.types.{t.tensor_type}" for t in tensors}
        | {f"org.tensorflow.ndarray.{f['nd']}" for f in cls.flat_readers}
    )


def _api_imports(signatures) -> set[str]:
    """The types the signatures' methods and results name, besides tensors: NdArray
    parameters and outputs, outputs' NdArray views, java.nio buffers."""
    params = [t for s in signatures for o in s.overloads for t in o.inputs]
    outputs = [t for s in signatures for t in s.outputs]
    nd = {t.java_type.split("<")[0] for t in params + outputs if t.nd}
    nd |= {t.nd_view_type for t in outputs if t.views}
    return {f"org.tensorflow.ndarray.{n}" for n in nd} | {
        f"java.nio.{t.java_type}" for t in params if t.form == "nio"
    }


def nd_copies(cls: JavaClass) -> list[dict[str, str]]:
    """The ndCopyOf helpers a class needs: one per output tensor type it returns as an
    NdArray (copied out of the tensor, which is closed after the call)."""
    helpers = {}
    for sig in cls.signatures:
        for t in sig.outputs:
            if t.nd:
                name = "ndCopyOfBytes" if t.bytes_strings else "ndCopyOf"
                nd_type, factory = (
                    BYTES_ND
                    if t.bytes_strings
                    else (t.java_type, JAVA_TYPES[t.info.dtype].nd_factory)
                )
                source = "tensor.asBytes()" if t.bytes_strings else "tensor"
                helpers[(name, t.tensor_type)] = {
                    "name": name,
                    "tensor": t.tensor_type,
                    "nd_type": nd_type,
                    "factory": factory,
                    "source": source,
                }
    return [helpers[k] for k in sorted(helpers)]


STAMP = ".tf2java-generated.json"  # in a source folder: the files tf2java wrote there


def generate(
    manifest: Manifest,
    manifest_sha256: str,
    out_dir: Path,
    *,
    package: str = DEFAULT_PACKAGE,
    class_name: str | None = None,
    formats: tuple[str, ...] | None = None,
    force: bool = False,
    templates: Path | None = None,
    strings: str = "text",
    output_names: dict[str, str] | None = None,
    labels: dict[str, list[str]] | None = None,
) -> list[JavaClass]:
    """Writes one Java file per artifact under `out_dir`, a source folder that may hold other
    code (`src/main/java`). Only tf2java's own files are written and replaced: they are
    recorded in `out_dir/.tf2java-generated.json`, per model and package; a file of the same
    name that tf2java did not write is replaced only with `force`, and every other file is
    left alone. Files this model had before and no longer has are removed. Each file is
    replaced atomically.

    Raises UsageError (bad package or class name, a foreign file without force)."""
    classes = plan(manifest, package, class_name, formats, strings, output_names, templates, labels)
    rendered = sources(classes, manifest, manifest_sha256, templates)
    stamp = _read_stamp(out_dir)
    own = {path for paths in stamp.values() for path in paths}
    for rel in rendered:
        if (out_dir / rel).exists() and rel not in own and not force:
            raise OutputExistsError(
                f"{out_dir / rel}: already exists and tf2java did not generate it; pass "
                "--force to replace it"
            )
    key = f"{package}.{class_name or pascal(manifest.name)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, text in rendered.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with staged_file(target, True) as stage:
            stage.write_text(text, encoding="utf-8")
    for rel in set(stamp.get(key, [])) - set(rendered):
        (out_dir / rel).unlink(missing_ok=True)  # this model's class of a format it lost
    stamp[key] = sorted(rendered)
    with staged_file(out_dir / STAMP, True) as stage:
        stage.write_text(json.dumps({"generated": stamp}, indent=2, sort_keys=True) + "\n")
    return classes


def _read_stamp(out_dir: Path) -> dict[str, list[str]]:
    """model key -> relative paths; paths that would leave the folder are not ours."""
    path = out_dir / STAMP
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())["generated"]
        return {
            str(k): [p for p in v if isinstance(p, str) and _inside(p)]
            for k, v in data.items()
            if isinstance(v, list)
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ModelError(
            f"{path}: not a tf2java stamp file; remove it, or generate into another folder"
        ) from None


def _inside(rel: str) -> bool:
    parts = Path(rel).parts
    return (
        bool(parts) and not Path(rel).is_absolute() and ".." not in parts and rel.endswith(".java")
    )


def compile_check(classes: list[JavaClass], out_dir: Path) -> str | None:
    """Compiles the generated files with javac against TensorFlow Java, into a temporary
    folder. Returns why it could not try (no JDK, no TensorFlow Java jars), else None; raises
    CompileError naming the class and the signature whose code javac refused."""
    import tempfile

    try:
        javaenv.java_home()
        javaenv.classpath()
    except javaenv.EnvironmentError_ as exc:
        return str(exc)
    with tempfile.TemporaryDirectory(prefix="tf2java-javac-") as tmp:
        try:
            files = [out_dir / rel for rel in generated_paths(classes)]
            javaenv.compile_sources(files, Path(tmp))
        except javaenv.CompileError as exc:
            raise javaenv.CompileError(_explain(exc, classes, out_dir)) from None
    return None


def _explain(exc, classes: list[JavaClass], out_dir: Path) -> str:
    """'Class.java:LINE (signature 'KEY' of the frozen artifact): message' for the first
    error; the signature is the one whose method holds the line."""
    if not exc.errors:
        return str(exc)
    path, line, message = exc.errors[0]
    for cls in classes:
        if (out_dir / cls.relative_path).resolve() != path.resolve():
            continue
        text = path.read_text(encoding="utf-8").splitlines()[:line]
        where = f"the {cls.artifact.format} artifact"
        for jsig in cls.signatures:
            marker = f" {jsig.method}("
            if any(marker in row and "public " in row for row in text):
                where = f"signature '{jsig.sig.key}' of the {cls.artifact.format} artifact"
        return (
            f"the generated {cls.name}.java does not compile at line {line} ({where} in the "
            f"manifest): {message}"
        )
    return f"{path.name}:{line}: {message}"
