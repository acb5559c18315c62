"""``python -m samis [--workspace DIR] <command> …`` — parse, call the library, print.

Each command group lives in its own module under :mod:`samis.commands` and exposes
``register(subparsers)``, which adds its parser(s) and sets ``handler(args, workspace) -> int``.
A :class:`~samis.errors.SamisError` becomes one line on stderr and exit code 2.
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
from samis.errors import SamisError, SamisWarning
from samis.workspace import Workspace


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m samis",
        description="Segment Anything on industrial surface defects: datasets, predictions, metrics, reports.",
    )
    parser.add_argument("--workspace", metavar="DIR", help="workspace folder (default: $SAMIS_WORKSPACE or ./data)")
    parser.add_argument("--version", action="version", version=f"samis {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    import samis.commands as commands

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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        with _warnings_as_lines():
            code = _run(args)
        sys.stdout.flush()  # a closed pipe shows up here at the latest, where it can be handled
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 0


def _run(args) -> int:
    """Run the chosen command; errors for people become one line and exit code 2."""
    try:
        workspace = Workspace.resolve(args.workspace)
        if _needs_datasets(args):
            build_demo_if_empty(workspace, show_progress(args))
        return int(args.handler(args, workspace) or 0)
    except BrokenPipeError:
        raise  # handled in main: not an error of the workspace
    except SamisError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
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
