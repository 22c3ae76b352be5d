"""Serialized `tf.train.Example` protos, written directly in protobuf's wire format so that
inputs for tf.Example signatures are made without importing TensorFlow.

Example { Features features = 1; }  Features { map<string, Feature> feature = 1; }
Feature { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
Int64List int64_list = 3; } }, each list a `repeated value = 1` (packed for numbers)."""

from __future__ import annotations

import numpy as np

from exporter.core.wire import field, varint

_KIND = {"string": 1, "float32": 2, "int64": 3}


def encode(features: dict[str, tuple[str, np.ndarray | list[bytes]]]) -> bytes:
    """One Example from feature key -> (dtype: string|float32|int64, values)."""
    entries = b""
    for key, (dtype, values) in features.items():
        entry = field(1, key.encode()) + field(2, _feature(dtype, values))
        entries += field(1, entry)
    return field(1, entries)


def _feature(dtype: str, values) -> bytes:
    if dtype == "string":
        payload = b"".join(field(1, bytes(v)) for v in values)
    elif dtype == "float32":
        payload = field(1, np.asarray(values, "<f4").tobytes())
    elif dtype == "int64":
        payload = field(1, b"".join(varint(int(v) & (2**64 - 1)) for v in values))
    else:
        raise ValueError(f"tf.train.Example has no {dtype} features")
    return field(_KIND[dtype], payload)


def generate(spec: dict, count: int, rng: np.random.Generator, int_high: int) -> list[bytes]:
    """`count` Examples holding every dense feature of the spec, at its shape, and one value
    of every sparse feature (TFX's transform reads a sparse feature as one value per example,
    as `[batch, 0]` or a reshape to `[batch]`)."""
    records = []
    for _ in range(count):
        features = {}
        for dense in spec["dense"]:
            size = int(np.prod([d if d >= 0 else 1 for d in dense["shape"]], dtype=np.int64))
            features[dense["key"]] = (dense["dtype"], _values(dense["dtype"], size, rng, int_high))
        for sparse in spec["sparse"]:
            features[sparse["key"]] = (sparse["dtype"], _values(sparse["dtype"], 1, rng, int_high))
        records.append(encode(features))
    return records


def _values(dtype: str, size: int, rng: np.random.Generator, int_high: int):
    if dtype == "string":
        words = rng.integers(0, 26, size=(size, 5)) + ord("a")
        return [bytes(w.astype(np.uint8)) for w in words]
    if dtype == "int64":
        return rng.integers(0, int_high, size=size)
    return rng.standard_normal(size).astype(np.float32)
