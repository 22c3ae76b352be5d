r"""How model names, signature keys and tensor keys become Java identifiers and literals.

The rules (also in the README):
- A name is cut into words at every character that is not an ASCII letter or digit; a
  non-ASCII character becomes a word of its own, `uXXXX` (its code point in hex).
- Methods, parameters and getters are camelCase (`loss/pred_prob` -> `lossPredProb`,
  getter `getLossPredProb`); classes are PascalCase (`serving_default` -> `ServingDefault`).
- An empty name becomes `value` (`Value`); a name that starts with a digit gets a leading `_`;
  a Java keyword or literal gets a trailing `_` (`class` -> `class_`).
- Names that map to the same identifier in one scope are numbered in order of their sorted
  keys: the first keeps the identifier, the next get `2`, `3`, ...
- An identifier longer than 64 characters keeps its first 53 and ends in `_` and a hash of
  the whole; names of members every generated class has (`close`, `load`, `session`, ...)
  and of Object's methods (`toString`, `hashCode`, ...) are numbered like repeats.
- Every string placed in Java source is a Java string literal with every backslash and quote
  escaped, control characters as `\n`-style or octal escapes (never `\u000a`, which Java
  would turn into a line break before reading the literal), and every other character outside
  printable ASCII as `\uXXXX`; Javadoc text is HTML-escaped and carries no backslash, `*/`
  or `@`.
"""

from __future__ import annotations

import hashlib
import html
import re

JAVA_KEYWORDS = frozenset(
    """
abstract assert boolean break byte case catch char class const continue default do double
else enum extends final finally float for goto if implements import instanceof int interface
long native new package private protected public return short static strictfp super switch
synchronized this throw throws transient try void volatile while true false null var record
yield sealed permits non-sealed _
""".split()
)

# Matched whole (fullmatch): a pattern ending in $ would also take a trailing newline.
_PACKAGE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def words(name: str) -> list[str]:
    """The words of a name: split at non-alphanumerics and camel-case humps, non-ASCII letters
    escaped as UXXXX."""
    out: list[str] = []
    current = ""
    for ch in name:
        if ch.isascii() and ch.isalnum():
            current += ch
            continue
        if current:
            out.append(current)
            current = ""
        if not ch.isascii():
            out.append(f"u{ord(ch):04X}")
    if current:
        out.append(current)
    return out


def camel(name: str) -> str:
    """A name as a Java method or variable name: `serving_default` -> `servingDefault`."""
    parts = words(name)
    if not parts:
        return "value"
    ident = parts[0][0].lower() + parts[0][1:] + "".join(p[0].upper() + p[1:] for p in parts[1:])
    return _safe(ident)


def pascal(name: str) -> str:
    """A name as a Java class name: `serving_default` -> `ServingDefault`."""
    parts = words(name)
    if not parts:
        return "Value"
    return _safe("".join(p[0].upper() + p[1:] for p in parts))


# Identifiers (and so class file names) are at most this long: a longer one keeps its start
# and ends in a hash of the whole, so that two long names stay apart.
MAX_IDENTIFIER = 64
# What every Java class has from Object: never a method or getter name of a generated class.
OBJECT_METHODS = frozenset(
    "clone equals finalize getClass hashCode notify notifyAll toString wait".split()
)


def _safe(ident: str, limit: int = MAX_IDENTIFIER) -> str:
    if ident[0].isdigit():
        ident = "_" + ident
    if ident in JAVA_KEYWORDS:
        ident += "_"
    if len(ident) > limit:
        digest = hashlib.sha256(ident.encode()).hexdigest()[:10]
        ident = f"{ident[: limit - 11]}_{digest}"
    return ident


def bounded(ident: str, limit: int = MAX_IDENTIFIER) -> str:
    """An identifier of at most `limit` characters (see `_safe`)."""
    return _safe(ident, limit)


def unique(idents: list[str], taken: set[str] | None = None) -> list[str]:
    """Numbers repeats: ['x', 'x', 'y'] -> ['x', 'x2', 'y']; `taken` names are avoided too."""
    seen = set(taken or ())
    out = []
    for ident in idents:
        candidate, n = ident, 1
        while candidate in seen:
            n += 1
            candidate = f"{ident}{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


_CONTROL = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def java_string(text: str) -> str:
    """A Java string literal for `text`, safe from unicode-escape preprocessing."""
    out = ['"']
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        code = int(unit, 16)
        ch = chr(code) if code < 0xD800 or code > 0xDFFF else ""
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            # never \u000a: Java turns unicode escapes into characters before it reads string
            # literals, and a line break there ends the literal
            out.append(_CONTROL.get(ch, f"\\{code:03o}"))
        else:
            out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


def javadoc(text: str) -> str:
    """Text safe inside a Javadoc comment: no comment end, no unicode escape, no tag."""
    escaped = html.escape(text, quote=False).replace("*/", "*&#47;")
    return "".join(
        f"&#{ord(ch)};" if ch in "\\@" or not (0x20 <= ord(ch) < 0x7F) else ch for ch in escaped
    )


def is_package(name: str) -> bool:
    """Whether `name` is a Java package name: dot-separated identifiers, no keywords."""
    return bool(_PACKAGE.fullmatch(name)) and not any(
        part in JAVA_KEYWORDS for part in name.split(".")
    )


def is_identifier(name: str) -> bool:
    """Whether `name` is a Java identifier that is not a keyword."""
    return bool(_IDENTIFIER.fullmatch(name)) and name not in JAVA_KEYWORDS
