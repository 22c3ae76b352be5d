"""How each tensor crosses between a manifest and Java: the one description every generated
class, template, the parity worker and the hand-off read. A `JavaTensor` is one input or output
with its Java type, rank and the forms it is taken in (nested arrays, flat arrays, java.nio
buffers, NdArrays); a `JavaSignature` is one method of a generated class; a `JavaClass` is one
class for one exported artifact; a `JavaInterface` is what every class of one model implements.
Pure Python, no TensorFlow."""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from exporter import targets
from exporter.core import dtypes
from exporter.core.inputs import format_shape
from exporter.core.model import Artifact, Signature, TensorInfo
from exporter.java.naming import bounded, camel, java_string, javadoc, unique

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
# Zero of each Java element type, as a literal.
ZERO = {
    "float": "0f",
    "double": "0.0",
    "int": "0",
    "long": "0L",
    "byte": "(byte) 0",
    "short": "(short) 0",
    "boolean": "false",
}
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
class View:
    """One more getter a result offers for an output it holds as flat data, besides the nested
    array: its name suffix, and for a tensor `t` its Java return type (None: not offered for
    this element type), its Javadoc in the class and in the interface, the expression it
    returns, and the imports it needs. Adding an output form is one View here."""

    suffix: str
    type: Callable[[JavaTensor], str | None]
    doc: str  # str.format'ed with the tensor's doc, getter, ident
    interface_doc: str
    body: str
    imports: Callable[[JavaTensor], set[str]] = lambda t: set()


VIEWS = (
    View(
        "Flat",
        lambda t: f"{t.element}[]",
        "{doc}: its elements in row-major order, as a new array on each call (the Nd and "
        "Buffer views read them without a copy)",
        "{doc}: its elements in row-major order, as a new array",
        "{ident}.clone()",
    ),
    View(
        "Shape",
        lambda t: "long[]",
        "the shape of {{@link #{getter}()}}",
        "the shape of {{@link #{getter}()}}",
        "{ident}$shape.clone()",
    ),
    View(
        "Nd",
        lambda t: t.nd_view_type,
        "{doc}, as a read-only NdArray over this result's own array",
        "{doc}, as a read-only NdArray",
        "NdArrays.wrap(Shape.of({ident}$shape), DataBuffers.of({ident}, true, false))",
        lambda t: {f"org.tensorflow.ndarray.{t.nd_view_type}"},
    ),
    View(
        "Buffer",
        lambda t: NIO.get(t.element),  # booleans have no java.nio buffer
        "{doc}, as a read-only java.nio buffer over this result's own array (no copy)",
        "{doc}, as a read-only java.nio buffer",
        "{nio}.wrap({ident}).asReadOnlyBuffer()",
        lambda t: {f"java.nio.{NIO[t.element]}"},
    ),
)


@dataclass(frozen=True)
class ViewGetter:
    """A `View` of one output, as the templates place it."""

    name: str
    type: str
    doc: str
    interface_doc: str
    body: str


@dataclass(frozen=True)
class JavaTensor:
    """One input or output as the generated Java takes or returns it: its parameter or getter
    name, Java and tensor types, the rank of its nested array (ANY_RANK: an NdArray), and
    the Java expressions that check it, copy it into a tensor and read it back."""

    info: TensorInfo
    ident: str  # parameter name, or the field behind a getter
    getter: str
    java_type: str
    tensor_type: str
    rank: int
    doc: str  # Javadoc text: key, dtype, shape
    bytes_strings: bool = False  # a DT_STRING tensor as byte[] elements, not String
    # An output held as flat data: the names of its VIEWS' getters, in order.
    views: tuple[str, ...] | None = None
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
        if self.nd and self.info.shape:  # of known rank: its batch is checked with the rest
            return (
                f"long[] shape${i} = {SUPPORT}.ndShape({self.key_literal}, {expected}, "
                f"{self.ident} == null ? null : {self.shape_of});"
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
    def view_getters(self) -> list[ViewGetter]:
        """The getters of the VIEWS this output offers (none unless it is held as flat data)."""
        names = {"doc": self.doc, "getter": self.getter, "ident": self.ident}
        names["nio"] = NIO.get(self.element, "")
        return [
            ViewGetter(
                name,
                view.type(self),
                view.doc.format(**names),
                view.interface_doc.format(**names),
                view.body.format(**names),
            )
            for view, name in zip(VIEWS, self.views or ())
            if view.type(self) is not None
        ]

    def view_imports(self) -> set[str]:
        """The imports the getters of this output's views need."""
        if not self.views:
            return set()
        return {i for view in VIEWS if view.type(self) is not None for i in view.imports(self)}

    def view_name(self, suffix: str) -> str | None:
        """The getter of this output's view of `suffix` ('Flat', 'Shape'...), if it has one."""
        names = dict(zip((v.suffix for v in VIEWS), self.views or ()))
        return names.get(suffix)

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

    @property
    def batched_output(self) -> bool:
        """An output of known rank whose first dimension is the batch."""
        return self.rank >= 1 and self.info.shape[0] < 0

    @property
    def one_output(self) -> JavaTensor:
        """This output as a one-example method returns it: without its batch dimension, a
        scalar where only the batch was (an output of unknown rank or without a batch stays
        as it is)."""
        if not self.batched_output:
            return self
        rank = self.rank - 1
        shape = self.info.shape[1:]
        head = f"'{self.info.key}'" + (f" ({self.meaning})" if self.meaning else "")
        what = "string as bytes" if self.bytes_strings else self.info.dtype
        text = format_shape(shape) if shape else "scalar"
        kept = self.bulk and rank > 0  # still flat data: its views and labels stay
        return replace(
            self,
            java_type=self.java_type[:-2],
            rank=rank,
            doc=javadoc(f"{head}, {what} {text}, of one example"),
            views=self.views if kept else None,
            labels=self.labels if kept else None,
            labels_const=self.labels_const if kept else "",
            top_k=self.top_k if kept else "",
        )

    def one_args(self, result: str) -> list[str]:
        """Java expressions: what the one-example result keeps of this output of `result`,
        the result of a batch of one (see `one_output`)."""
        field = f"{result}.{self.ident}"
        if not self.batched_output:
            return [field, f"{field}$shape"] if self.bulk else [field]
        if self.bulk and self.rank > 1:  # a batch of one's flat data is the example's
            return [field, f"{SUPPORT}.exampleShape({field}$shape)"]
        return [f"{field}[0]"]

    def result_params(self) -> list[str]:
        """The result constructor's parameters for this output (see `result_args`)."""
        if self.bulk:
            return [f"{self.element}[] {self.ident}", f"long[] {self.ident}$shape"]
        return [f"{self.java_type} {self.ident}"]

    @property
    def golden(self) -> bool:
        """Carried by the hand-off's golden vectors (read by GoldenNpy): a number or bool,
        a string of a rank a Java array has."""
        dtype = dtypes.DTYPES.get(self.info.dtype)
        return dtype is not None and dtype.in_java and not (self.nd and dtype.kind == "string")

    def from_golden(self, resource: str) -> str:
        """Java expression: this input read from a golden .npy on the classpath (strings: the
        bytes in it, their lengths beside it)."""
        if self.info.dtype == "string":
            element = "byte[]" if self.bytes_strings else "String"
            return f"({self.java_type}) GoldenNpy.strings({java_string(resource)}, {element}.class)"
        read = f"GoldenNpy.read({java_string(resource)})"
        reader = f"{dtypes.get(self.info.dtype).java}s"  # GoldenNpy.floats(), .ints()...
        if self.nd:  # an NdArray of the array's own shape, whatever its rank
            return f"{read}.{reader}()"
        if self.rank == 0:
            if self.java_type == "boolean":
                return f"{read}.values()[0] != 0"
            return f"({self.java_type}) {read}.values()[0]"
        return f"StdArrays.array{self.rank}dCopyOf({read}.{reader}())"

    @property
    def zeros(self) -> str:
        """Java expression: a value of this input's type and shape (unknown dimensions 1),
        all zeros."""
        if self.rank == 0:
            return ZERO[self.java_type]
        dims = "".join(f"[{1 if d < 0 else d}]" for d in self.info.shape)
        return f"new {self.element}{dims}"

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
    """One signature as a method of a generated class: its name, its result type, its inputs
    and outputs as `JavaTensor`s, and the overloads it is offered in."""

    sig: Signature
    method: str
    result_class: str
    inputs: tuple[JavaTensor, ...]
    outputs: tuple[JavaTensor, ...]
    shared: bool = False  # declared by the model's interface, which every class implements
    one: str = ""  # the method that runs one example, where every input is batched
    one_class: str = ""  # what it returns: the outputs of one example
    also: tuple[str, ...] = ()  # keys of the signatures that compute the same (`same_as` it)
    # The interface's request type of named setters, where two inputs share a Java type
    request: str = ""

    @property
    def also_text(self) -> str:
        """Javadoc text: the signatures this method serves too."""
        keys = ", ".join(f"'{javadoc(k)}'" for k in self.also)
        many = len(self.also) > 1
        return (
            f"Signature{'s' if many else ''} {keys} of the model run{'' if many else 's'} the "
            f"same function on the same inputs: this method serves {'them' if many else 'it'} too."
        )

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
            self.one_class,
            self.one_api,
        )

    @property
    def result_api(self) -> tuple:
        """What a caller sees of this signature's result: signatures of one class with equal
        ones share one result type."""
        return _api_of(self.outputs)

    @property
    def one_outputs(self) -> tuple[JavaTensor, ...]:
        """The outputs as the one-example method returns them."""
        return tuple(t.one_output for t in self.outputs)

    @property
    def one_api(self) -> tuple:
        """What a caller sees of the one-example method's result."""
        return _api_of(self.one_outputs) if self.one else ()

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
            if (t.shaped or t.nd) and t.info.shape and t.info.shape[0] < 0
        ]


def _api_of(outputs) -> tuple:
    """What a caller sees of a result holding `outputs`: getters, types, views, labels, docs."""
    return tuple((t.getter, t.java_type, t.views, t.top_k, t.labels, t.doc) for t in outputs)


@dataclass(frozen=True)
class ResultType:
    """A result type and the signatures that return it."""

    signatures: tuple[JavaSignature, ...]
    one: bool = False  # the outputs of one example, as the signatures' one-example methods return

    @property
    def name(self) -> str:
        first = self.signatures[0]
        return first.one_class if self.one else first.result_class

    @property
    def outputs(self) -> tuple[JavaTensor, ...]:
        first = self.signatures[0]
        return first.one_outputs if self.one else first.outputs

    @property
    def labelled(self) -> list[JavaTensor]:
        return [t for t in self.outputs if t.labels]

    @property
    def shared(self) -> bool:
        """Declared by the model's interface."""
        return any(s.shared for s in self.signatures)

    @property
    def doc(self) -> str:
        """Javadoc text: 'Outputs of signature 'a'' or 'Outputs of signatures 'a', 'b''."""
        keys = ", ".join(f"'{s.doc}'" for s in self.signatures)
        what = "One example's outputs" if self.one else "Outputs"
        return f"{what} of signature{'s' if len(self.signatures) > 1 else ''} {keys}."


def results_of(signatures) -> list[ResultType]:
    """The result types of `signatures` in order of first use, each with its signatures:
    those of whole batches, then those of one example."""
    grouped: dict[tuple[str, bool], list[JavaSignature]] = {}
    for s in signatures:
        grouped.setdefault((s.result_class, False), []).append(s)
    for s in signatures:
        if s.one:
            grouped.setdefault((s.one_class, True), []).append(s)
    return [ResultType(tuple(group), one) for (_, one), group in grouped.items()]


@dataclass(frozen=True)
class JavaClass:
    """One generated class: one exported artifact (a SavedModel, a frozen graph) with a method
    per signature, rendered from its target's template."""

    package: str
    name: str
    artifact: Artifact
    template: str
    signatures: tuple[JavaSignature, ...]
    interface: str = ""  # the model's interface, which this class implements
    bundled: str = ""  # the classpath resource of the model file a hand-off ships: load()

    @property
    def graph_bytes(self) -> int:
        return sum(f["size"] for f in self.artifact.files)

    @property
    def grappler(self) -> bool:
        """Whether sessions run Grappler by default: not on an artifact of its target's
        `grappler_limit` or more, whose constants its rewrites would copy several times over."""
        limit = targets.get(self.artifact.format).grappler_limit
        return limit is None or self.graph_bytes < limit

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
        return [t for r in self.results if not r.one for t in r.labelled]

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


@dataclass(frozen=True)
class Crossing:
    """How one input or output crosses between numpy and a generated method in the parity
    worker: the Java form the method takes or returns it in."""

    key: str
    dtype: str
    rank: int  # of the nested Java array; ANY_RANK: an NdArray
    bytes: bool = False  # a string tensor as byte[] elements
    getter: str | None = None  # an output's getter on the result
    flat: tuple[str, str] | None = None  # an output's flat-data and shape getters

    @classmethod
    def of(cls, t: JavaTensor, output: bool = False) -> Crossing:
        flat = (t.view_name("Flat"), t.view_name("Shape")) if t.views else None
        extra = {"getter": t.getter, "flat": flat} if output else {}
        return cls(t.info.key, t.info.dtype, t.rank, t.bytes_strings, **extra)


@dataclass(frozen=True)
class WorkerJob:
    """The parity worker's request for one signature of one generated class: the class, the
    model file it loads, the method, where the inputs are and the outputs go, and how each
    tensor crosses. `nd`: the NdArray overload, which takes inputs straight from numpy's
    memory; `fresh`: a stateful signature, run on a model loaded for it alone; `classes`:
    the folder of the compiled class, loaded by a class loader of its own (a worker serves
    exports it did not start with), or "" for the worker's classpath."""

    id: int
    java_class: str
    model: str
    method: str
    inputs: str
    result: str
    params: tuple[Crossing, ...]
    outputs: tuple[Crossing, ...]
    nd: bool
    fresh: bool
    classes: str = ""

    @classmethod
    def of(
        cls,
        job_id: int,
        jcls: JavaClass,
        jsig: JavaSignature,
        model: Path,
        inputs: Path,
        result: Path,
        classes: Path | None = None,
    ) -> WorkerJob:
        return cls(
            id=job_id,
            java_class=jcls.qualified_name,
            model=str(model),
            method=jsig.method,
            inputs=str(inputs),
            result=str(result),
            params=tuple(Crossing.of(t) for t in jsig.inputs),
            outputs=tuple(Crossing.of(t, output=True) for t in jsig.outputs),
            nd=bool(jsig.nd_inputs),
            fresh=jsig.sig.stateful,
            classes=str(classes or ""),
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> WorkerJob:
        def crossing(d: dict) -> Crossing:
            return Crossing(**{**d, "flat": tuple(d["flat"]) if d.get("flat") else None})

        return cls(
            **{
                **data,
                "params": tuple(crossing(d) for d in data["params"]),
                "outputs": tuple(crossing(d) for d in data["outputs"]),
            }
        )
