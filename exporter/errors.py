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
    """The first line of an exception's message (library errors often run to pages)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
