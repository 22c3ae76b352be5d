"""Typed errors and the exit codes the command line maps them to.

Every error carries one line that names the problem and, where there is one, the fix.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_MISMATCH = 1  # parity or export verification found differences
EXIT_USAGE = 2  # bad arguments (click uses 2 as well)
EXIT_MODEL = 3  # the model, manifest or input files cannot be used
EXIT_ENVIRONMENT = 4  # Java, Gradle or TensorFlow Java is missing or failed


class Tf2JavaError(Exception):
    """Base class: a problem the user can act on, reported as one line."""

    exit_code = EXIT_MODEL


class UsageError(Tf2JavaError):
    """Arguments that do not fit together or name something that does not exist."""

    exit_code = EXIT_USAGE


class ModelError(Tf2JavaError):
    """A model, manifest or input file that cannot be read or used."""

    exit_code = EXIT_MODEL


class IncompatibleModelError(ModelError):
    """The model uses ops (or versions) a TensorFlow Java runtime cannot load."""


class OutputExistsError(UsageError):
    """The output is already there and --force was not given."""


class EnvironmentError_(Tf2JavaError):
    """The Java side (JDK, Gradle, TensorFlow Java) is missing or broken."""

    exit_code = EXIT_ENVIRONMENT


class JavaWorkerError(EnvironmentError_):
    """The Java worker crashed, ran out of memory fatally, or did not finish in time."""


class JavaRuntimeError(Tf2JavaError):
    """TensorFlow Java failed while loading or running a model."""

    exit_code = EXIT_MISMATCH


class VerificationError(Tf2JavaError):
    """Outputs differ between two runtimes or between an export and its source."""

    exit_code = EXIT_MISMATCH


def first_line(exc: BaseException) -> str:
    """The line of an exception's message that says what went wrong (library errors often
    run to pages). TensorFlow's runtime errors open with "Graph execution error:" and a Python
    stack; the reason comes after it, with the node: "node 'x': You must feed a value...".
    A line never ends in a bare colon."""
    text = getattr(exc, "message", None)
    raw = [line.rstrip() for line in str(text or exc).strip().splitlines() if line.strip()]
    lines = [line.strip() for line in raw]
    if not lines:
        return type(exc).__name__
    if not lines[0].endswith(":"):
        return lines[0]
    node = None
    in_stack = False  # "Detected at node X defined at": then indented frames and their code
    for i, line in enumerate(lines[1:], 1):
        if line.startswith("Node: "):
            node = line[len("Node: ") :].strip()
            continue
        if line.startswith("Detected at node"):
            in_stack = True
            continue
        if in_stack and raw[i][:1].isspace():
            continue
        if line.startswith(("File ", "[[", "Detected unsupported", "<stack traces")):
            continue
        reason = line.rstrip(":")
        if node:
            return f"node {node}: {reason}"
        if lines[0] == "Graph execution error:":  # says nothing the reason does not
            return reason
        return f"{lines[0]} {reason}"
    return lines[0].rstrip(":")


# What TensorFlow says when a graph's shapes are fixed to one example although its
# signature declares a batch of any size.
_BATCH_BOUND = ("Incompatible shapes", "Input to reshape is a tensor with", "Dimensions must be")


def batch_hint(exc: BaseException, batch: int) -> str:
    """'; ... --batch 1' when a run on generated inputs of `batch` > 1 failed on shapes."""
    if batch > 1 and any(m in str(exc) for m in _BATCH_BOUND):
        return (
            f"; the graph may run at batch 1 only, although its signature declares any: "
            f"try --batch 1 (inputs of batch {batch} were generated)"
        )
    return ""
