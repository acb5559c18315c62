"""``python -m samis [--workspace DIR] <command> …`` — parse, call the library, print.

Each command group lives in its own module under :mod:`samis.commands` and exposes
``register(subparsers)``, which adds its parser(s) and sets ``handler(args, workspace) -> int``.
A :class:`~samis.errors.SamisError` becomes one line on stderr and exit code 2. A failure of the
medium that output goes to (standard output on a full disk, ``-o`` naming a device that fails) is one
line and exit code 1; a closed pipe (``… | head``) ends quietly with exit code 0.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
import warnings

from samis import __version__
from samis.commands._common import build_demo_if_empty, show_progress
from samis.counts import check_count_arguments
from samis.errors import SamisError, SamisWarning
from samis.outputs import OutputWriteError
from samis.workspace import Workspace
import samis.commands as commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m samis",
        description="Segment Anything on industrial surface defects: datasets, predictions, metrics, reports.",
    )
    parser.add_argument("--workspace", metavar="DIR", help="workspace folder (default: $SAMIS_WORKSPACE or ./data)")
    parser.add_argument("--version", action="version", version=f"samis {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"samis.commands.{module_info.name}")
        module.register(subparsers)
    return parser


def _needs_datasets(args) -> bool:
    """``datasets list``, and any command naming the ``demo`` dataset, get the demo on an empty workspace."""
    if args.command == "datasets":
        return args.action == "list"
    return getattr(args, "dataset", None) == "demo" and args.command != "demo"


@contextlib.contextmanager
def _warnings_as_lines():
    """Show each :class:`SamisWarning` as one ``warning: …`` line on stderr (others as Python shows them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", SamisWarning)
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, SamisWarning):
                print(f"warning: {message}", file=sys.stderr)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _silence_stdout() -> None:
    """The reader of stdout went away (``… | head``): send what is left to /dev/null.

    Without this, Python flushes stdout again at exit, fails again and prints a traceback
    (see the note on SIGPIPE in the :mod:`signal` documentation).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass


class StdoutWriteError(OSError):
    """Writing standard output failed for another reason than a closed pipe (no space left, EIO …)."""


class _GuardedStdout:
    """``sys.stdout`` for the length of a command: a failed write or flush says it was standard output.

    An OSError from ``print`` carries no file name, so without this it could not be told from a bug.
    """

    def __init__(self, stream):
        self._stream = stream

    def _guarded(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise StdoutWriteError(error.errno, error.strerror or str(error)) from None

    def write(self, text):
        return self._guarded(self._stream.write, text)

    def writelines(self, lines):
        return self._guarded(self._stream.writelines, lines)

    def flush(self):
        return self._guarded(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _guarded_stdout():
    original = sys.stdout
    sys.stdout = _GuardedStdout(original)
    try:
        yield
    finally:
        if sys.stdout is not None and isinstance(sys.stdout, _GuardedStdout):
            sys.stdout = original


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        with _warnings_as_lines(), _guarded_stdout():
            code = _run(args)
            sys.stdout.flush()  # a closed pipe shows up here at the latest, where it can be handled
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except StdoutWriteError as error:
        _silence_stdout()  # what is left in the buffer would fail again at exit, with a traceback
        print(f"error: cannot write standard output: {error.strerror}", file=sys.stderr)
        return 1


def _check_counts(args) -> None:
    """Every count flag (``--workers``, ``--ci``, ``--b``, ``--runs`` …), before anything runs: each is checked
    against its declared range (:data:`samis.counts.COUNTS`) and becomes an int; one line and exit code 2 otherwise.

    (The Ray engine checked its own count; the local process pool took 0 and -3 as "one process".)
    """
    check_count_arguments(args)


def _run(args) -> int:
    """Run the chosen command; errors for people become one line and exit code 2."""
    try:
        _check_counts(args)
        workspace = Workspace.resolve(args.workspace)
        if _needs_datasets(args):
            build_demo_if_empty(workspace, show_progress(args))
        return int(args.handler(args, workspace) or 0)
    except BrokenPipeError:
        raise  # handled in main: not an error of the workspace
    except SamisError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OutputWriteError as error:  # the path was right; the device failed
        print(f"error: cannot write {error.filename}: {error.strerror}", file=sys.stderr)
        return 1
    except PermissionError as error:
        print(f"error: {error.filename or ''}: permission denied (is the workspace or target folder read-only?)", file=sys.stderr)
        return 2
    except OSError as error:
        if error.filename is None:
            raise
        print(f"error: {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished files are kept; run the same command again to resume", file=sys.stderr)
        return 130
