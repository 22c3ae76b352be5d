"""`python -m exporter` and the `tf2java` script: the tf2java command line."""

import os
import signal
import sys


def _interrupted(signum, frame) -> None:
    """Ctrl-C before the command line has its own handlers (while Python imports it): nothing
    is staged yet, so it ends at once with the exit code and line it gives later."""
    sys.stderr.write("error: interrupted\n")
    sys.stderr.flush()
    os._exit(130)


_interrupted.tf2java_startup = True  # the command line replaces it with its own


def run() -> None:
    signal.signal(signal.SIGINT, _interrupted)
    from exporter.cli import EXIT_INTERRUPTED, main, stopped

    try:
        main()
    except KeyboardInterrupt:  # came out past the command line's handler (while it closed)
        stopped(EXIT_INTERRUPTED)
    finally:  # the work is done and its exit code set: a Ctrl-C now changes neither
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    run()
