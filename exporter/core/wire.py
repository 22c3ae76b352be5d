"""Protocol buffers' wire format, the writing half: what `graphfile` streams and `example`
encodes without building messages. Pure Python: no TensorFlow import."""

from __future__ import annotations

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
