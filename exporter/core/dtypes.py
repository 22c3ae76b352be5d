"""The one dtype table: each TensorFlow dtype a signature may carry, with its numpy dtype in
Python and, where TensorFlow Java 1.1.0 has a tensor type for it, the Java element type of the
generated API and the TensorFlow Java tensor class. The manifest schema's enum, the generated
inputs, the generated Java and the worker's crossing between numpy and Java all read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Java element type -> (numpy dtype of the same bits, jpype type, java.nio view of a ByteBuffer)
JAVA_ELEMENTS: dict[str, tuple[Any, str, str | None]] = {
    "float": (np.float32, "JFloat", "asFloatBuffer"),
    "double": (np.float64, "JDouble", "asDoubleBuffer"),
    "int": (np.int32, "JInt", "asIntBuffer"),
    "long": (np.int64, "JLong", "asLongBuffer"),
    "short": (np.int16, "JShort", "asShortBuffer"),
    "byte": (np.int8, "JByte", None),  # the ByteBuffer itself
    "boolean": (np.bool_, "JBoolean", None),  # java.nio has no boolean view
    "String": (np.object_, "JString", None),
}


@dataclass(frozen=True)
class DType:
    name: str  # as TensorFlow spells it: the manifest's vocabulary
    numpy_type: Any  # the numpy dtype of its values in Python, or its name in ml_dtypes
    java: str | None = None  # element type of the generated Java API; None: no TF Java type
    tensor: str | None = None  # the TensorFlow Java tensor class
    enum: int = 0  # its number in TensorFlow's DataType (types.proto)

    @property
    def numpy(self) -> Any:
        """The numpy dtype of its values in Python. One of ml_dtypes (bfloat16) is looked up
        when asked for: importing ml_dtypes costs a second, ten times numpy's."""
        if isinstance(self.numpy_type, str):
            import ml_dtypes

            return getattr(ml_dtypes, self.numpy_type)
        return self.numpy_type

    @property
    def in_java(self) -> bool:
        return self.tensor is not None

    @property
    def kind(self) -> str:
        """How inputs are generated: float, int, bool, string or complex."""
        if self.name == "string":
            return "string"
        if self.name == "bool":
            return "bool"
        if np.issubdtype(self.numpy, np.integer):
            return "int"
        if np.issubdtype(self.numpy, np.complexfloating):
            return "complex"
        return "float"

    @property
    def java_numpy(self) -> Any:
        """The numpy dtype of the Java array's elements (float16 travels as float, uint8 as
        Java's signed byte)."""
        return JAVA_ELEMENTS[self.java][0]

    @property
    def jpype(self) -> str:
        return JAVA_ELEMENTS[self.java][1]

    @property
    def nio_view(self) -> str | None:
        return JAVA_ELEMENTS[self.java][2]

    @property
    def nd_name(self) -> str:
        """TensorFlow Java's NdArray naming: Float -> FloatNdArray, NdArrays.ofFloats."""
        return self.java[0].upper() + self.java[1:]

    def to_java(self, value: np.ndarray) -> np.ndarray:
        """`value` as the Java elements hold it: the same bits for an unsigned integer (Java's
        byte and short are signed), a widening cast for half floats."""
        return self._as(value, self.java_numpy)

    def from_java(self, value: np.ndarray) -> np.ndarray:
        """The inverse of `to_java`."""
        return self._as(value, self.numpy)

    def _as(self, value: np.ndarray, dtype: Any) -> np.ndarray:
        target = np.dtype(dtype)
        if value.dtype == target:
            return value
        if self.kind == "int" and value.dtype.itemsize == target.itemsize:
            return value.view(target)
        return value.astype(target)


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("float16", np.float16, "float", "TFloat16", enum=19),
        DType("bfloat16", "bfloat16", "float", "TBfloat16", enum=14),
        DType("float32", np.float32, "float", "TFloat32", enum=1),
        DType("float64", np.float64, "double", "TFloat64", enum=2),
        DType("int8", np.int8, enum=6),
        DType("int16", np.int16, enum=5),
        DType("int32", np.int32, "int", "TInt32", enum=3),
        DType("int64", np.int64, "long", "TInt64", enum=9),
        DType("uint8", np.uint8, "byte", "TUint8", enum=4),
        DType("uint16", np.uint16, "short", "TUint16", enum=17),
        DType("uint32", np.uint32, enum=22),
        DType("uint64", np.uint64, enum=23),
        DType("bool", np.bool_, "boolean", "TBool", enum=10),
        DType("string", np.object_, "String", "TString", enum=7),
        DType("complex64", np.complex64, enum=8),
        DType("complex128", np.complex128, enum=18),
    )
}


def get(name: str) -> DType:
    return DTYPES[name]


_BY_ENUM = {d.enum: d for d in DTYPES.values()}


def by_enum(number: int) -> DType | None:
    """The dtype of a DataType number (a TensorProto's or an OpDef arg's); None for one the
    table lacks (quantized types, resources, variants)."""
    return _BY_ENUM.get(number)


def java_names() -> list[str]:
    """The dtypes TensorFlow Java carries."""
    return [d.name for d in DTYPES.values() if d.in_java]
