"""The tf2java command line: a thin layer over the Python API. Errors become one line on
stderr and an exit code (see the README); --debug shows the traceback instead."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import NoReturn

import click

from exporter import __version__
from exporter.core.compare import DEFAULT_ATOL, DEFAULT_RTOL
from exporter.core.console import Console
from exporter.core.inputs import DEFAULT_BATCH
from exporter.core.report import Report
from exporter.errors import EXIT_MISMATCH, EXIT_MODEL, EXIT_USAGE, Tf2JavaError, first_line
from exporter.targets import TARGETS, default_formats

FORMAT_CHOICES = {
    **{fmt: (fmt,) for fmt in TARGETS},
    "both": default_formats(),
    "all": tuple(TARGETS),
}
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of the output went away


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that staging and workers are cleaned up."""


# The last stop signal this process received: an exception raised inside TensorFlow's C++
# by the signal's handler can come out as another exception, but the exit code still tells.
_STOPPED: list[int] = []


def _on_sigterm(signum, frame) -> None:
    _STOPPED.append(EXIT_TERMINATED)
    raise Terminated()


def _on_sigint(signum, frame) -> None:
    _STOPPED.append(EXIT_INTERRUPTED)
    raise KeyboardInterrupt()


def _raised_where_ignored(unraisable) -> None:
    """A stop signal's exception raised inside a callback Python ignores exceptions of (an
    import lock's weakref callback, a finalizer) would be printed and lost: the signal is
    sent again instead, to come out where the command line catches it."""
    if isinstance(unraisable.exc_value, (KeyboardInterrupt, Terminated)) and _STOPPED:
        again = signal.SIGTERM if _STOPPED[-1] == EXIT_TERMINATED else signal.SIGINT
        # from another thread: the handler then runs once the callback has returned
        threading.Timer(0.01, _send_again, (again,)).start()
        return
    sys.__unraisablehook__(unraisable)


def _send_again(signum: int) -> None:
    """Sends the stop signal again, unless the run has already stopped on it: a second one
    would then meet Python's own handler on the way out and end the process by the signal."""
    if not _SAID:
        os.kill(os.getpid(), signum)


def stopped(code: int) -> NoReturn:
    """Says why the run stopped (once, however many ways the signal came out) and exits."""
    if not _SAID:
        _SAID.append(code)
        word = "interrupted" if code == EXIT_INTERRUPTED else "terminated"
        click.echo(f"error: {word}", err=True)
    sys.exit(code)


_SAID: list[int] = []


def _stopped_exit() -> None:
    """Exits 130 or 143 when a stop signal came, whatever exception it turned into."""
    if _STOPPED:
        stopped(_STOPPED[-1])


def _quiet_tensorflow(ctx: click.Context) -> None:
    """TensorFlow, absl, Keras and TFLite log to stderr from Python and from C++ (some of it
    before any setting is read). Unless --verbose, their lines go nowhere: Python's loggers and
    warnings are turned down, and C++'s file descriptor 2 is pointed at /dev/null while
    tf2java's own stderr keeps the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    for name in ("tensorflow", "absl", "keras", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    try:
        own = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests, notebooks)
        return
    if own != 2:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    previous = sys.stderr
    sys.stderr = os.fdopen(saved, "w", buffering=1, encoding=previous.encoding, errors="replace")

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(saved, 2)
        sys.stderr = previous

    ctx.call_on_close(restore)


# taken before the command name or after it
GLOBAL_FLAGS = ("--debug", "--verbose", "--quiet", "-q")


class Tf2JavaGroup(click.Group):
    """The one error handler of every command: tf2java's errors (and anything unexpected)
    become one line and an exit code; --debug shows the traceback instead. A usage error is
    one line too, and the global flags work after the command name as well."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            head, tail = args[: args.index("--")], args[args.index("--") :]
        else:
            head, tail = args, []
        flags = [a for a in head if a in GLOBAL_FLAGS]
        rest = [a for a in head if a not in GLOBAL_FLAGS]
        return super().parse_args(ctx, [*flags, *rest, *tail])

    def invoke(self, ctx: click.Context):
        debug = ctx.params.get("debug", False)
        try:
            result = super().invoke(ctx)
            _stopped_exit()  # a stop signal whose exception a library swallowed
            return result
        except Tf2JavaError as exc:
            if debug:
                raise
            _stopped_exit()
            click.echo(f"error: {printable(tidy(str(exc)))}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:  # Ctrl-C: nothing half-written (staging is removed)
            stopped(EXIT_INTERRUPTED)
        except Terminated:
            stopped(EXIT_TERMINATED)
        except click.UsageError as exc:  # one line, as every other error
            where = exc.ctx.command_path if exc.ctx else ctx.command_path
            message = printable(exc.format_message().replace("\n", " "))
            click.echo(f"error: {message} (see '{where} --help')", err=True)
            sys.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # the reader went away (`tf2java inspect OUT | head`): stop
            # quietly, as other tools do, and leave nothing for the interpreter to flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except OSError as exc:  # a file that cannot be read or written
            if debug:
                raise
            _stopped_exit()
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_MODEL)
        except Exception as exc:
            if debug:
                raise
            _stopped_exit()
            click.echo(
                f"error: unexpected {type(exc).__name__}: {first_line(exc)} "
                "(run again with --debug for the traceback)",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)


_PATH = re.compile(r"/[^\s:;,'\"()]+")
LONG_PATH = 60


def tidy(message: str) -> str:
    """An error line names each long path once: a later mention of it (or of a file under
    it) becomes '.../rest', and a path past 160 characters keeps its start and its end."""
    seen: list[str] = []

    def shorten(match: re.Match) -> str:
        path = match.group(0)
        if len(path) < LONG_PATH:
            return path
        for earlier in seen:
            if path == earlier:
                return ".../" + path.rsplit("/", 1)[-1]
            if path.startswith(earlier + "/"):
                return ".../" + path[len(earlier) + 1 :]
        seen.append(path)
        return path if len(path) <= 160 else f"{path[:40]}...{path[-100:]}"

    return _PATH.sub(shorten, message)


# Control characters a model's names may hold (an OSC sequence retitles a terminal, ANSI ones
# repaint it): printed as \xNN. Line breaks and tabs are the report's own layout.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(line: str) -> str:
    """`line` with every control character but newline and tab shown as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", line)


_echo = Console(clean=printable)  # report lines on stdout, phases on stderr


def emit(report: Report, as_json: bool = False) -> None:
    """Prints a report, as lines or as JSON; exits 1 when it is not ok."""
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, default=str))
    else:
        for line in report.lines():
            click.echo(printable(line))
    if not report.ok:
        sys.exit(EXIT_MISMATCH)


@click.group(cls=Tf2JavaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tf2java")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--verbose", is_flag=True, help="Let TensorFlow's own log lines through to stderr.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Print the result only: no phases or progress on stderr."
)
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: bool, quiet: bool) -> None:
    """Export TensorFlow models for the JVM, generate typed Java loaders, prove parity."""
    _echo.quiet = quiet
    _SAID.clear()
    if not verbose and ctx.invoked_subcommand is not None:
        _quiet_tensorflow(ctx)
    if threading.current_thread() is threading.main_thread():
        previous_hook, sys.unraisablehook = sys.unraisablehook, _raised_where_ignored
        ctx.call_on_close(lambda: setattr(sys, "unraisablehook", previous_hook))
        previous_term = signal.signal(signal.SIGTERM, _on_sigterm)
        ctx.call_on_close(lambda: signal.signal(signal.SIGTERM, previous_term))
        current = signal.getsignal(signal.SIGINT)
        if current is signal.default_int_handler or getattr(current, "tf2java_startup", False):
            previous_int = signal.signal(signal.SIGINT, _on_sigint)
            ctx.call_on_close(lambda: signal.signal(signal.SIGINT, previous_int))


def _tolerance(ctx, param, values: tuple[str, ...]) -> tuple[float | None, dict[str, float]]:
    """--atol V and --atol OUTPUT=V (repeatable): the tolerance of every float output, and
    the outputs that have their own."""
    flag, every, of = f"--{param.name}", None, {}
    for value in values:
        key, sep, number = value.rpartition("=")
        try:
            tol = float(number)
        except ValueError:
            tol = -1.0
        if not (tol >= 0 and tol != float("inf")) or (sep and not key):
            raise click.BadParameter(
                f"'{value}' is not a tolerance: give a number >= 0 (1e-4), or OUTPUT=NUMBER "
                "for one output",
                param_hint=flag,
            )
        if sep:
            of[key] = tol
        elif every is not None and every != tol:
            raise click.BadParameter(f"given twice ({every:g}, {tol:g})", param_hint=flag)
        else:
            every = tol
    return every, of


tolerances = [
    click.option(
        "--atol",
        multiple=True,
        metavar="[OUTPUT=]TOL",
        callback=_tolerance,
        help="Absolute tolerance of float outputs, or of one (--atol probs=1e-4; repeatable) "
        f"[default: the export's, else {DEFAULT_ATOL:g}].",
    ),
    click.option(
        "--rtol",
        multiple=True,
        metavar="[OUTPUT=]TOL",
        callback=_tolerance,
        help="Relative tolerance of float outputs, or of one (--rtol probs=1e-3; repeatable) "
        f"[default: the export's, else {DEFAULT_RTOL:g}].",
    ),
    click.option(
        "--seed", type=int, default=0, show_default=True, help="Seed of the generated inputs."
    ),
    click.option(
        "--batch",
        type=click.IntRange(min=1),
        help="Size given to unknown (-1) leading dimensions of generated inputs [default: the "
        "export's, else 2].",
    ),
]


output_checks = [
    click.option(
        "--skip",
        multiple=True,
        metavar="OUTPUT",
        help="Do not compare this output (repeatable); export records it for parity.",
    ),
    click.option(
        "--shape-only",
        multiple=True,
        metavar="OUTPUT",
        help="Compare this output's dtype and shape only (repeatable); export records it.",
    ),
]


def with_options(options):
    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _pairs(
    values: tuple[str, ...], flag: str, form: str = "KEY=TENSOR", empty_value: bool = False
) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, tensor = value.partition("=")
        if not sep or not key or not (tensor or empty_value):
            raise click.BadParameter(f"'{value}' is not {form}", param_hint=flag)
        pairs[key] = tensor
    return pairs


trust_option = click.option(
    "--trust-model-code",
    "trust_code",
    is_flag=True,
    help="Run the code a model file carries (Lambda bytecode, pickled arrays, functions its "
    "config imports); only for a file you trust (see `scan`).",
)
side_effects_option = click.option(
    "--allow-side-effects",
    is_flag=True,
    help="Run a model whose graph reaches outside it (files, network, host; see `scan`).",
)
output_name_option = click.option(
    "--output-name",
    "output_names",
    multiple=True,
    metavar="KEY=NAME",
    help="Name an output's getter: --output-name output_0=logits gives getLogits() (repeatable).",
)
labels_option = click.option(
    "--labels",
    "labels",
    multiple=True,
    metavar="OUTPUT=FILE",
    help="Class labels of an output, one per line: its result gets topK(k) with labels "
    "(OUTPUT: its key or getter name; repeatable).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def format_option(help: str, **kwargs):
    """--format: one of the targets, or `both` (savedmodel and frozen) or `all`."""
    return click.option(
        "--format", "fmt", type=click.Choice(list(FORMAT_CHOICES)), help=help, **kwargs
    )


source_options = [
    click.option(
        "--tag",
        "tags",
        multiple=True,
        help="MetaGraph tag (repeat for a tag set) [default: serve].",
    ),
    click.option(
        "--input",
        "inputs",
        multiple=True,
        metavar="KEY=TENSOR",
        help="Checkpoint or frozen graph: a feed, by signature key and tensor name (repeatable).",
    ),
    click.option(
        "--output",
        "outputs",
        multiple=True,
        metavar="KEY=TENSOR",
        help="Checkpoint or frozen graph: a fetch, by signature key and tensor name (repeatable).",
    ),
    click.option("--step", type=int, help="Checkpoint: the step to load [default: the latest]."),
    click.option(
        "--architecture",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Weights-only .h5: the model's architecture (model.json or .keras).",
    ),
    click.option("--by-name", is_flag=True, help="Weights-only .h5: load layers by name."),
    click.option(
        "--serving-version",
        "--version",
        "model_version",
        type=click.IntRange(min=0),
        help="TensorFlow Serving's MODEL/<version>/ folders: the version [default: highest]; "
        "--version is an older spelling.",
    ),
    click.option(
        "--set",
        "pins",
        multiple=True,
        metavar="NAME=VALUE",
        help="Pin a placeholder that is not an input to a constant in every artifact, e.g. "
        "--set keep_prob=1.0 --set is_training=false (repeatable).",
    ),
    click.option(
        "--custom-objects",
        metavar="MODULE",
        help="Keras: import MODULE and let the loader deserialize its classes and functions.",
    ),
    trust_option,
    click.option(
        "--op-library",
        "op_libraries",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A custom op library (.so) to load before the model (repeatable).",
    ),
]


def _labels(values: tuple[str, ...]) -> dict[str, list[str]]:
    """--labels OUTPUT=FILE, each file read as one label per line."""
    from exporter.java.planning import read_labels

    return {
        key: read_labels(Path(path))
        for key, path in _pairs(values, "--labels", "OUTPUT=FILE").items()
    }


def _load_options(
    tags,
    inputs,
    outputs,
    step,
    architecture,
    by_name,
    custom_objects,
    trust_code=False,
    op_libraries=(),
    model_version=None,
    pins=(),
    stage=True,
):
    from exporter.sources import LoadOptions

    return LoadOptions(
        version=model_version,
        pins=_pairs(pins, "--set", "NAME=VALUE", empty_value=True),
        tags=list(tags) or ["serve"],
        inputs=_pairs(inputs, "--input"),
        outputs=_pairs(outputs, "--output"),
        step=step,
        architecture=architecture,
        by_name=by_name,
        custom_objects=custom_objects,
        trust_code=trust_code,
        op_libraries=list(op_libraries),
        stage=stage,
    )


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@format_option("What to write into OUT.", default="both", show_default=True)
@click.option(
    "--signature",
    "signatures",
    multiple=True,
    help="Signature to export and check (repeatable; 'all' for every one) "
    "[default: serving_default, or the only one].",
)
@with_options(source_options)
@click.option(
    "--shape",
    "shapes",
    multiple=True,
    metavar="[SIG/]KEY=DIMS",
    help="Declare the shape of an input the graph does not know, e.g. --shape x=-1,784 "
    "(-1: unknown; empty: a scalar; SIG/KEY: one signature's input only).",
)
@click.option(
    "--inputs",
    "inputs_npz",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Inputs for the export's check, keyed by input key [default: generated].",
)
@click.option("--optimize", is_flag=True, help="Frozen graph: optimize it for inference.")
@click.option("--name", help="Model name in the manifest and generated Java [default: SRC's].")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option(
    "--java-runtime",
    "java_runtimes",
    multiple=True,
    metavar="VERSION",
    help="Refuse the export if this TensorFlow Java cannot load it (repeatable).",
)
@click.option(
    "--allow-incompatible", is_flag=True, help="With --java-runtime: warn instead of refusing."
)
@side_effects_option
@with_options(output_checks)
@with_options(tolerances)
def export(
    src,
    out,
    fmt,
    signatures,
    shapes,
    inputs_npz,
    optimize,
    name,
    force,
    java_runtimes,
    allow_incompatible,
    allow_side_effects,
    skip,
    shape_only,
    atol,
    rtol,
    seed,
    batch,
    **source,
):
    """Export SRC (SavedModel, .keras, .h5, TF1 checkpoint, frozen .pb/.pbtxt) into OUT:
    saved_model/, frozen.pb, model.tflite and manifest.json, as --format asks; each artifact is
    checked against SRC before anything is written."""
    from exporter.commands.export import export as run_export

    started = time.monotonic()
    result = run_export(
        src,
        out,
        formats=FORMAT_CHOICES[fmt],
        signature=list(signatures) or None,
        options=_load_options(**source),
        shapes=_pairs(shapes, "--shape", "KEY=DIMS", empty_value=True),
        inputs=inputs_npz,
        name=name,
        force=force,
        optimize=optimize,
        seed=seed,
        batch=DEFAULT_BATCH if batch is None else batch,
        atol=DEFAULT_ATOL if atol[0] is None else atol[0],
        rtol=DEFAULT_RTOL if rtol[0] is None else rtol[0],
        atol_of=atol[1],
        rtol_of=rtol[1],
        skip=skip,
        shape_only=shape_only,
        java_runtimes=java_runtimes,
        allow_incompatible=allow_incompatible,
        allow_side_effects=allow_side_effects,
        echo=_echo,
    )
    formats = ", ".join(a.format for a in result.manifest.artifacts)
    click.echo(f"exported {src} -> {out} ({formats}) in {time.monotonic() - started:.1f} s")


@main.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--package",
    default="com.example.models",
    show_default=True,
    help="Java package of the generated classes.",
)
@click.option(
    "--class",
    "class_name",
    help="Base class name [default: from the model name]; "
    "the format is appended (SavedModel, Frozen).",
)
@click.option(
    "--out",
    "java_out",
    type=click.Path(path_type=Path),
    help="Source folder to write [default: OUT/java].",
)
@format_option("Generate for one format only [default: every artifact in the manifest].")
@click.option(
    "--templates",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of templates that replace the shipped ones of the same name.",
)
@click.option(
    "--strings",
    type=click.Choice(["text", "bytes"]),
    default="text",
    show_default=True,
    help="DT_STRING tensors as String (UTF-8 text) or as byte[] (binary data; rank 0 and 1).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace files of the same names that tf2java did not generate.",
)
@click.option("--no-compile", is_flag=True, help="Do not check the written classes with javac.")
@output_name_option
@labels_option
def java(
    out,
    package,
    class_name,
    java_out,
    fmt,
    templates,
    strings,
    force,
    no_compile,
    output_names,
    labels,
):
    """Generate typed Java loader classes from OUT/manifest.json, and check that they
    compile (javac, against TensorFlow Java)."""
    from exporter.core import manifest
    from exporter.java import writing

    data, sha = manifest.read(out)
    manifest.verify_files(out, data)
    target = java_out or out / "java"
    classes = writing.generate(
        data,
        sha,
        target,
        package=package,
        class_name=class_name,
        formats=FORMAT_CHOICES[fmt] if fmt else None,
        force=force,
        templates=templates,
        strings=strings,
        output_names=_pairs(output_names, "--output-name", "KEY=NAME"),
        labels=_labels(labels),
    )
    for rel in writing.generated_paths(classes):
        click.echo(f"wrote {target / rel}")
    if not no_compile:
        why_not = writing.compile_check(classes, target)
        if why_not:
            click.echo(f"note: not compiled ({why_not}); --no-compile skips this check")
        else:
            files = len(writing.generated_paths(classes))
            click.echo(f"compiled the {files} file(s) with javac against TensorFlow Java")


@main.command()
@click.argument(
    "outs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--inputs",
    "inputs_npz",
    type=click.Path(exists=True, path_type=Path),
    metavar="FILE.npz|DIR|FILE.tfrecord",
    help="Inputs: an .npz keyed by input key, a folder of them (a batch each) or a TFRecord "
    "of tf.Example records (--batch a batch, default 64) [default: generated].",
)
@format_option("Check one format only [default: every artifact].")
@click.option(
    "--signature",
    "signatures",
    multiple=True,
    help="Signature to check (repeatable) [default: every one the export has].",
)
@click.option(
    "--against",
    type=click.Path(path_type=Path),
    metavar="SRC",
    help="The source OUT was exported from: fail if it changed since (its sha256).",
)
@click.option(
    "--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the report as JSON."
)
@click.option(
    "--expected",
    "expected_npz",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Outputs computed elsewhere for --inputs, keyed by output key: both sides must match.",
)
@click.option(
    "--save-outputs",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Write the inputs, both sides' outputs and each output's worst element into DIR.",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as JUnit XML.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds the Java side may take.",
)
@click.option(
    "--op-library",
    "op_libraries",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Custom op library (.so) to load on both sides before the model.",
)
@click.option(
    "--java-option",
    "jvm_options",
    multiple=True,
    metavar="OPTION",
    help="An option for the JVM of the Java side, e.g. --java-option=-Xmx2g (repeatable).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace --report/--junit files that tf2java did not write, and --save-outputs.",
)
@side_effects_option
@with_options(output_checks)
@with_options(tolerances)
def parity(
    outs,
    inputs_npz,
    fmt,
    signatures,
    against,
    report,
    expected_npz,
    save_outputs,
    junit,
    timeout,
    op_libraries,
    jvm_options,
    force,
    allow_side_effects,
    skip,
    shape_only,
    atol,
    rtol,
    seed,
    batch,
):
    """Run each export OUT's model in Python TensorFlow and, through its generated Java class,
    in TensorFlow Java; compare every output. Exit 0 only when all match."""
    from exporter.commands.parity import check_report_target, refused_report, shared_java
    from exporter.commands.parity import parity as run_parity

    if len(outs) > 1:
        for flag, value in (
            ("--inputs", inputs_npz),
            ("--against", against),
            ("--expected", expected_npz),
            ("--save-outputs", save_outputs),
        ):
            if value:
                raise click.UsageError(f"{flag} is about one export; give one OUT with it")
    for out in outs:
        for path, flag in ((report, "--report"), (junit, "--junit")):
            if path:  # before anything runs
                check_report_target(path, force, out, flag)
    results, codes = [], []
    which = {
        "formats": FORMAT_CHOICES[fmt] if fmt else None,
        "signatures": tuple(s for s in signatures if s != "all"),
        "op_libraries": list(op_libraries),
        "jvm_options": list(jvm_options),
    }
    # Several exports share one JVM, started before TensorFlow is imported
    with (
        shared_java(list(outs), batch=batch, seed=seed, echo=_echo, **which)
        if len(outs) > 1
        else contextlib.nullcontext({}) as sides
    ):
        for out in outs:
            if len(outs) > 1:
                click.echo(f"== {out}")
            try:
                if isinstance(sides.get(out), Tf2JavaError):
                    raise sides[out]
                result = run_parity(
                    out,
                    java=sides.get(out),
                    inputs=inputs_npz,
                    batch=batch,
                    seed=seed,
                    atol=atol[0],
                    rtol=rtol[0],
                    atol_of=atol[1],
                    rtol_of=rtol[1],
                    timeout=timeout,
                    allow_side_effects=allow_side_effects,
                    echo=_echo,
                    against=against,
                    skip=skip,
                    shape_only=shape_only,
                    save_outputs=save_outputs,
                    force=force,
                    expected_npz=expected_npz,
                    **which,
                )
            except Tf2JavaError as exc:  # refused before comparing: the reports say why
                tolerances = (
                    DEFAULT_ATOL if atol[0] is None else atol[0],
                    DEFAULT_RTOL if rtol[0] is None else rtol[0],
                )
                if len(outs) == 1:
                    if report or junit:
                        _write_reports(refused_report(out, exc, *tolerances), report, junit, force)
                    raise
                click.echo(f"error: {out}: {printable(tidy(str(exc)))}", err=True)
                results.append(refused_report(out, exc, *tolerances))
                codes.append(exc.exit_code)
                continue
            results.append(result)
            codes.append(result.exit_code)
            for line in result.lines():
                click.echo(printable(line))
    if len(outs) == 1:
        _write_reports(results[0], report, junit, force)
    else:
        from exporter.commands.parity import write_reports_of_many

        write_reports_of_many(results, report, junit, force)
        passed = sum(not code for code in codes)
        click.echo(f"parity over {len(outs)} exports: {passed} passed")
    if max(codes):
        sys.exit(max(codes))


def _write_reports(result, report: Path | None, junit: Path | None, force: bool) -> None:
    from exporter.commands import parity as parity_mod

    if report:
        parity_mod.write_report(result, report, force)
    if junit:
        parity_mod.write_junit(result, junit, force)


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--all", "show_all", is_flag=True, help="Every MetaGraph and its op list too.")
@json_option
@with_options(source_options)
def inspect(src, show_all, as_json, **source):
    """Show what SRC needs to be fed and fetched: its format, signatures, tensors with dtype,
    shape and graph name, and what its format adds (variables, placeholders, layers, ...)."""
    from exporter.commands.describe import InspectReport, inspect_export
    from exporter.commands.describe import inspect as describe
    from exporter.core.manifest import is_export_dir

    if is_export_dir(src) and not show_all:  # its manifest says it all: no TensorFlow
        emit(InspectReport(inspect_export(src)), as_json)
        return
    emit(InspectReport(describe(src, _load_options(**source, stage=False), show_all)), as_json)


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--inputs",
    "specs",
    multiple=True,
    metavar="FILE.npz|KEY=FILE.npy[,KEY=FILE.npz:ARRAY]",
    help="Input arrays from .npy/.npz files (never unpickled); FILE.npz alone: keyed by input "
    "key, as export and parity take it.",
)
@click.option(
    "--input-json",
    "json_specs",
    multiple=True,
    metavar="KEY=JSON",
    help="An input as JSON data, e.g. 'x=[[1, 2, 3]]'.",
)
@click.option("--signature", help="Signature to run [default: serving_default].")
@click.option(
    "--outdir",
    type=click.Path(path_type=Path),
    help="Save each output as OUTDIR/KEY.npy instead of printing it.",
)
@click.option("--force", is_flag=True, help="Replace --outdir if it exists.")
@side_effects_option
@with_options(source_options)
@json_option
def run(src, specs, json_specs, signature, outdir, force, allow_side_effects, as_json, **source):
    """Run SRC, in any format, in Python TensorFlow, like `saved_model_cli run`."""
    from exporter.commands.describe import RunReport, save_outputs
    from exporter.commands.describe import run as run_model

    _, sig, outputs = run_model(
        src,
        _load_options(**source, stage=False),
        signature,
        specs,
        json_specs,
        allow_side_effects,
        _echo,
    )
    if outdir:
        from exporter.core.fsutil import refuse_overlap

        refuse_overlap(outdir, src, "model", "--outdir")
        for path in save_outputs(outputs, outdir, force):
            click.echo(f"wrote {path}")
        return
    emit(RunReport(sig, outputs), as_json)


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--java-runtime",
    "runtimes",
    multiple=True,
    metavar="VERSION",
    help="TensorFlow Java version to check against (repeatable) [default: the pinned one].",
)
@click.option("--all-runtimes", is_flag=True, help="Check every runtime with a snapshot.")
@click.option("--tag", "tags", multiple=True, help="MetaGraph tag [default: serve].")
@click.option(
    "--op-library",
    "op_libraries",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Custom op library (.so) whose ops count as registered.",
)
@trust_option
@json_option
def ops(src, runtimes, all_runtimes, tags, op_libraries, trust_code, as_json):
    """List the op types SRC uses (main graph and function library) and check them against
    TensorFlow Java op registries, offline. Exit 1 when a chosen runtime cannot load SRC."""
    from exporter.checks.opsreport import ops_report

    report = ops_report(
        src,
        runtimes=runtimes,
        all_runtimes=all_runtimes,
        tags=list(tags) or ["serve"],
        op_libraries=list(op_libraries),
        trust_code=trust_code,
    )
    emit(report, as_json)


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--tag", "tags", multiple=True, help="MetaGraph tag [default: serve].")
@json_option
def scan(src, tags, as_json):
    """List ops in SRC that touch the file system, the network or the host process when the
    graph runs (a SavedModel's own saver is left out), and code a Keras file carries (found
    without opening it in Keras). Exit 1 when anything is found."""
    from exporter.checks.scan import ScanReport
    from exporter.checks.scan import scan as run_scan

    emit(ScanReport(run_scan(src, list(tags) or ["serve"])), as_json)


@main.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--group", default="com.example", show_default=True, help="Maven groupId.")
@click.option("--artifact", help="Maven artifactId [default: from the model name].")
@click.option(
    "--module-version",
    "--version",
    "project_version",
    help="Module version [default: 1.0.0, then the next one semantic versioning gives the "
    "change since the hand-off in DEST]; --version is an older spelling.",
)
@click.option("--package", help="Java package [default: GROUP.MODELNAME].")
@click.option("--class", "class_name", help="Base class name [default: from the model name].")
@click.option(
    "--notes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Markdown file about the model for the README; a line '- `KEY`: text' gives input "
    "or output KEY its meaning in the README's table and in the Javadoc.",
)
@output_name_option
@labels_option
@format_option("Ship one format only [default: every artifact TensorFlow Java runs].")
@click.option(
    "--force",
    is_flag=True,
    help="Update DEST if it exists: tf2java's own files only, as they were written.",
)
@with_options(tolerances)
def handoff(
    out,
    dest,
    group,
    artifact,
    project_version,
    package,
    class_name,
    notes,
    output_names,
    labels,
    fmt,
    force,
    atol,
    rtol,
    **checks,
):
    """Make DEST a Java module (Maven and Gradle) for the export OUT that builds and tests
    itself without Python: the model as resources, the generated classes, a JUnit test on
    golden vectors Python TensorFlow computed, and a README for the Java team."""
    from exporter.commands.handoff import handoff as run_handoff

    started = time.monotonic()
    version = run_handoff(
        out,
        dest,
        group=group,
        artifact=artifact,
        project_version=project_version,
        package=package,
        class_name=class_name,
        notes=notes,
        output_names=_pairs(output_names, "--output-name", "KEY=NAME"),
        labels={k: Path(v) for k, v in _pairs(labels, "--labels", "OUTPUT=FILE").items()},
        formats=FORMAT_CHOICES[fmt] if fmt else None,
        force=force,
        echo=_echo,
        atol=atol[0],
        rtol=rtol[0],
        atol_of=atol[1],
        rtol_of=rtol[1],
        **checks,
    )
    click.echo(
        f"handed off {out} -> {dest} (version {version}) in {time.monotonic() - started:.1f} s: "
        f"`mvn -q test` or `gradle test` there"
    )


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("tf2java-demo"),
    show_default=True,
    help="Folder for everything the demo makes.",
)
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def demo(out, force):
    """Build the seed's BERT-style classifier, export it as a SavedModel and a frozen graph,
    generate and compile its Java classes, and prove parity on both formats."""
    from exporter.commands.demo import run_demo

    result = run_demo(out, force=force, echo=_echo)
    if not result.ok:
        sys.exit(EXIT_MISMATCH)
