"""Per-image results for other tools: one row per (image, method) as a Parquet or CSV file.

:func:`export_results` (``python -m samis results export``) brings the results store up to date for the
split (what :func:`samis.evaluation.evaluate` would score, it scores: a row is never older than its map
or mask), then writes ``image, class, split, method`` and every per-image metric of
:data:`samis.metrics.IMAGE_METRICS` (float64, the stored values unchanged) for each method, images in
split order. Curves are not read. pandas, pyarrow, Polars and DuckDB read both formats; the Parquet
file carries the dataset, split, methods, samis version and store format in its metadata.

The path is checked before anything is computed (a folder that does not exist, a folder, a socket or a
block device as the file: one line) and the file is written atomically
(:func:`samis.outputs.write_output`): a failed write leaves no part of a file and an older export whole.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from samis import __version__
from samis.datasets import Dataset
from samis.errors import SamisError
from samis.evaluation import checked_methods, fill_store, on_one_generation, split_samples
from samis.metrics import IMAGE_METRICS
from samis.outputs import OutputError, output_target, write_output
from samis.runner import check_engine
from samis.runs import Report
from samis.workspace import Workspace

FORMATS = ("parquet", "csv")
#: the layout of an export (one row per image and method, the columns below), in its metadata as
#: ``samis.export_format``: not the results store's format, which is private to samis
EXPORT_FORMAT = 1
COLUMNS = ("image", "class", "split", "method", *IMAGE_METRICS)


class ExportError(SamisError):
    """The export cannot be made as asked (unknown format)."""


@dataclass
class ExportReport(Report):
    """What an export wrote."""

    dataset: str
    split: str
    methods: list[str]
    path: Path
    format: str
    rows: int
    computed: int  # image-method pairs scored now because the store lacked them
    size: int  # bytes written

    def summary(self) -> str:
        return (f"exported {self.rows} rows ({len(self.methods)} methods, split {self.split}) of {self.dataset} to "
                f"{self.path} ({self.format}, {self.size} bytes; {self.computed} image-method pairs scored now)")


def check_export_path(path: str | os.PathLike, fmt: str) -> None:
    """Refuse, before anything is computed, an export that cannot be written.

    Raises:
        ExportError: an unknown format.
        OutputError: the folder does not exist or cannot be written, or the path is a folder, socket, block
            device or link loop.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    target, how = output_target(path)  # a folder, socket, block device or link loop: one line
    if how == "atomic" and not target.parent.is_dir():
        raise OutputError(f"{path}: folder {target.parent} does not exist; create it or give another path")
    if how == "atomic" and not os.access(target.parent, os.W_OK | os.X_OK):  # root passes: the write itself says so
        raise OutputError(f"{path}: folder {target.parent} is read-only; give a path in a folder you can write")


def export_table(workspace: Workspace, dataset: Dataset, methods: list[str] | None = None, split: str = "all",
                 allow_missing: bool = False, run_options: dict | None = None) -> tuple[pa.Table, int]:
    """The export's rows (see the module docstring) and the number of image-method pairs scored now.

    Args:
        run_options: ``workers``, ``progress`` and ``engine`` of :func:`samis.runner.run_task`.

    Raises:
        EvaluationError: unknown method, no predictions, missing maps (without ``allow_missing``).
        DatasetError: unknown split.
    """
    run_options = {**(run_options or {})}
    run_options["engine"] = check_engine(run_options.get("engine"))
    samples = split_samples(workspace, dataset, split)
    methods = checked_methods(workspace, dataset, methods)

    def once() -> tuple:
        (store, maps), _, computed = fill_store(workspace, dataset, (split, samples), methods, allow_missing, run_options)
        return (store, maps, len(computed)), store, computed

    store, maps, computed = on_one_generation(workspace, dataset.id, methods, once)
    classes = {s.id: s.cls for s in samples}
    parts = []
    for method in methods:
        stems = list(maps[method][0])
        scalars = store.caches[method].rows_for(stems, curves=False)["scalars"]
        columns = {"image": pa.array(stems, pa.string()), "class": pa.array([classes[s] for s in stems], pa.string()),
                   "split": pa.array([split] * len(stems), pa.string()),
                   "method": pa.array([method] * len(stems), pa.string()),
                   **{name: pa.array(scalars[:, i], pa.float64()) for i, name in enumerate(IMAGE_METRICS)}}
        parts.append(pa.table(columns))
    metadata = {"samis.version": __version__, "samis.export_format": str(EXPORT_FORMAT), "samis.dataset": dataset.id,
                "samis.split": split, "samis.methods": ",".join(methods)}
    schema = pa.schema([pa.field(name, pa.string() if i < 4 else pa.float64()) for i, name in enumerate(COLUMNS)],
                       metadata=metadata)
    table = pa.concat_tables([part.cast(schema) for part in parts]) if parts else schema.empty_table()
    return table.replace_schema_metadata(metadata), computed


def table_bytes(table: pa.Table, fmt: str) -> bytes:
    """The table as a Parquet (zstd) or CSV (header, then one line per row) file's bytes."""
    if fmt == "parquet":
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return sink.getvalue().to_pybytes()
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer)
    return buffer.getvalue()


def export_results(workspace: Workspace, dataset: Dataset, output: str | os.PathLike, fmt: str = "parquet",
                   methods: list[str] | None = None, split: str = "all", allow_missing: bool = False,
                   run_options: dict | None = None) -> ExportReport:
    """Write one row per (image, method) of a split to ``output`` (see the module docstring).

    Raises:
        ExportError, OutputError: a bad format or output path (checked before anything is computed).
        EvaluationError, DatasetError: unknown method or split, missing maps.
        OSError: the file cannot be written (read-only folder, full disk); it names ``output``.
    """
    check_export_path(output, fmt)
    table, computed = export_table(workspace, dataset, methods, split, allow_missing, run_options)
    data = table_bytes(table, fmt)
    write_output(output, data)
    methods_done = table.schema.metadata[b"samis.methods"].decode().split(",")
    return ExportReport(dataset.id, split, methods_done, Path(output), fmt, table.num_rows, computed, len(data))
