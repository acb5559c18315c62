"""``python -m samis [--workspace DIR] <command> …`` — parse, call the library, print.

Each command group lives in its own module under :mod:`samis.commands` and exposes
``register(subparsers)``, which adds its parser(s) and sets ``handler(args, workspace) -> int``.
A :class:`~samis.errors.SamisError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from samis import __version__
from samis.commands._common import build_demo_if_empty, show_progress
from samis.errors import SamisError
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        workspace = Workspace.resolve(args.workspace)
        if _needs_datasets(args):
            build_demo_if_empty(workspace, show_progress(args))
        return int(args.handler(args, workspace) or 0)
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
    except BrokenPipeError:
        return 0
