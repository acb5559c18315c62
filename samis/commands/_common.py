"""Small helpers shared by the CLI command modules (output formats, comma lists, progress)."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

from samis.runs import ProgressCallback, RunProgress
from samis.tables.render import json_text
from samis.engines import ENGINES, EngineSpec


def comma_list(text: str | None) -> list[str] | None:
    """``"a,b , c"`` → ``["a", "b", "c"]``; None or empty → None."""
    if not text:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def print_json(document) -> None:
    """Print a document as JSON (NaN becomes null, numpy scalars plain numbers)."""
    sys.stdout.write(json_text(document))


def show_progress(args) -> bool:
    """Whether a command draws progress: table output to a terminal (JSON, CSV … and logs stay clean)."""
    return getattr(args, "format", "table") == "table" and not getattr(args, "no_progress", False) and sys.stderr.isatty()


@contextlib.contextmanager
def progress_printer(enabled: bool, label: str = "") -> Iterator[ProgressCallback | None]:
    """The CLI's one progress display: a tqdm bar on stderr per stage of :class:`samis.runs.RunProgress` events.

    stdout stays for results, so ``--format json`` output is never mixed with progress.

    Args:
        enabled: draw anything at all (see :func:`show_progress`).
        label: the bar's name for events without a stage.

    Yields:
        the callback to pass as ``progress=`` (None when not enabled); bars are closed on leaving.
    """
    if not enabled:
        yield None
        return
    from tqdm import tqdm  # only commands that show progress pay for the import

    state = {"bar": None, "stage": None}

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()
            state["bar"] = None

    def show(event: RunProgress) -> None:
        stage = event.stage or label
        bar = state["bar"]
        if bar is None or stage != state["stage"] or event.total != bar.total:
            close()
            if event.total <= 0:  # nothing to do (all cached): no empty bar
                return
            # initial = work resumed from disk, so tqdm's own rate counts only this run's work, as ours does
            bar = state["bar"] = tqdm(total=event.total, initial=event.done, desc=stage, unit=" " + event.unit,
                                      file=sys.stderr, dynamic_ncols=True, leave=True)
            state["stage"] = stage
        bar.update(event.done - bar.n)
        if event.detail:
            bar.set_postfix_str(event.detail)

    try:
        yield show
    finally:
        close()


def add_engine_arguments(parser, gpus: bool = False) -> None:
    """``--engine local|ray`` and ``--ray-address`` (and ``--gpus-per-worker`` for SAM); ray is imported only when used."""
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="where the work runs: local (this machine, as always) or ray (Ray workers; the driver "
                             "reads and writes every file)")
    parser.add_argument("--ray-address", metavar="ADDR", default=None,
                        help="with --engine ray: a running cluster (HOST:PORT from `ray start --head`, ray://HOST:PORT "
                             "or auto); without it a local Ray is started for the run")
    if gpus:
        parser.add_argument("--gpus-per-worker", type=float, default=None, metavar="G",
                            help="with --engine ray: GPUs each SAM worker holds, fractions share a GPU "
                                 "(default 1 where the cluster has GPUs, else 0)")


def engine_spec(args):
    """The :class:`samis.engines.EngineSpec` the arguments ask for (checked by the library); ``--workers``
    counts Ray workers with ``--engine ray``, the process pool's size with the local engine."""
    return EngineSpec(args.engine, args.ray_address, getattr(args, "workers", None),
                      getattr(args, "gpus_per_worker", None))


#: other names of an output format, accepted wherever a command takes --format
FORMAT_ALIASES = {"md": "markdown"}


def format_name(value: str) -> str:
    """``--format``'s type: ``md`` and ``markdown`` are one format (argparse then checks the choices)."""
    return FORMAT_ALIASES.get(value.lower(), value.lower())


def table_text(table, fmt: str) -> str:
    """A table object (``samis.tables.ComparisonTable`` or a speed table) as text in the chosen format."""
    # looked up only for the chosen format: a speed table has no to_latex
    writers = {"json": lambda: json_text(table.to_json_document()), "csv": lambda: table.to_csv(),
               "markdown": lambda: table.to_markdown(), "latex": lambda: table.to_latex()}
    return writers.get(fmt, lambda: table.to_text())()


def write_table(table, fmt: str) -> None:
    """Print a table object (``samis.tables.ComparisonTable`` or a speed table) in the chosen format."""
    sys.stdout.write(table_text(table, fmt))


def build_demo_if_empty(workspace, progress: bool = False) -> None:
    """Build the synthetic demo study when the workspace has no dataset yet (one note on stderr).

    Args:
        workspace: the workspace to check and fill.
        progress: draw the build's progress (see :func:`show_progress`).
    """
    if workspace.registered_datasets():
        return
    # lazy: the demo imports OpenCV and the baselines; only an empty workspace builds it
    from samis.demo import ensure_demo

    print(f"note: no dataset registered in {workspace.root}; building the synthetic demo dataset "
          "and its baselines (about 10 s; add real data with 'datasets add')", file=sys.stderr)
    with progress_printer(progress) as callback:
        ensure_demo(workspace, progress=callback)
