"""Protocol buffers' wire format: what `graphfile` streams and `example` encodes without
building messages, and the fields of a message walked in place (how `tfproto` reads a GraphDef
file without its large constants). Pure Python: no TensorFlow import."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import message

LENGTH_DELIMITED = 2  # wire type of bytes, strings, embedded messages and packed numbers


def varint(value: int) -> bytes:
    """A base-128 varint, least significant group first."""
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def key(number: int) -> bytes:
    """The key of a length-delimited field."""
    return varint(number << 3 | LENGTH_DELIMITED)


def field(number: int, payload: bytes) -> bytes:
    """A whole length-delimited field: key, length, payload."""
    return key(number) + varint(len(payload)) + payload


# Walking a GraphDef file's bytes to its constants' contents.
LARGE = 1 << 16  # bytes: a constant at least this large stays in the file when read

# Field numbers on the way from a GraphDef to a constant's bytes.
GRAPH_NODE = 1  # GraphDef.node
NODE_ATTR = 5  # NodeDef.attr (map entries: key 1, value 2)
ENTRY_KEY = 1
ENTRY_VALUE = 2
ATTR_TENSOR = 8  # AttrValue.tensor
TENSOR_CONTENT = 4  # TensorProto.tensor_content
CONTENT_PATH = (NODE_ATTR, ENTRY_VALUE, ATTR_TENSOR, TENSOR_CONTENT)


@dataclass(frozen=True)
class Extent:
    """Where a constant's bytes sit in a file."""

    offset: int
    length: int


class Truncated(Exception):
    """A message that ends before one of its fields does."""


def fields(buf, start: int, end: int):
    """(key, key offset, payload start, payload end) of each field in buf[start:end]."""
    pos = start
    while pos < end:
        at = pos
        key_, pos = _read_varint(buf, pos, end)
        wire_type = key_ & 7
        if wire_type == 0:
            _, stop = _read_varint(buf, pos, end)
            begin = pos
        elif wire_type == 1:
            begin, stop = pos, pos + 8
        elif wire_type == 5:
            begin, stop = pos, pos + 4
        elif wire_type == LENGTH_DELIMITED:
            length, begin = _read_varint(buf, pos, end)
            stop = begin + length
        else:
            raise message.DecodeError(f"unexpected wire type {wire_type} at byte {pos}")
        if stop > end:
            raise Truncated(f"a field at byte {pos} runs past the end of its message")
        yield key_, at, begin, stop
        pos = stop


def strip(buf, start: int, end: int, path: tuple[int, ...]) -> tuple[bytes, Extent | None]:
    """The message buf[start:end] without the first large field reached through `path`."""
    out = []
    kept = start
    for key_, at, begin, stop in fields(buf, start, end):
        if key_ != key_of(path[0]) or stop - begin < LARGE:
            continue
        if len(path) == 1:
            inner, extent = None, Extent(begin, stop - begin)
        else:
            inner, extent = strip(buf, begin, stop, path[1:])
        if extent is None:
            continue
        out.append(buf[kept:at])
        if inner is not None:
            out.append(field(path[0], inner))
        kept = stop
        out.append(buf[kept:end])
        return b"".join(out), extent
    return bytes(buf[start:end]), None


def _read_varint(buf, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end:
            raise Truncated(f"the file ends inside a number at byte {pos}")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise message.DecodeError(f"a number over 64 bits ends at byte {pos}")


def key_of(number: int) -> int:
    return number << 3 | LENGTH_DELIMITED
