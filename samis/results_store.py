"""The columnar results store: one method's per-image rows of one dataset in one Apache Parquet file.

``results/<dataset>/<method>.parquet`` holds one row per image, sorted by image id, in row groups of
:data:`ROW_GROUP` images:

- ``image``; ``pred_size`` and ``pred_mtime_ns`` (the map file's stat, so an unchanged map is not
  hashed again); ``pred_hash`` and ``gt_hash`` (the content keys the row was computed from);
- one float64 column per per-image metric (``Sa``, ``MAE`` … in :data:`samis.metrics.IMAGE_METRICS`
  order for evaluation);
- two histogram columns, ``fg_hist`` and ``bg_hist`` (format 3): each one 1024-byte fixed-size binary value
  per row, 256 little-endian uint32 counts in ``np.histogram``'s bin order (bin v = the pixels whose binned value
  is v, 0..255): the image's prediction, normalised and binned as pysodmetrics bins it
  (``(pred * 255).astype(np.uint8)``), counted over the ground truth's foreground (``fg_hist``) and background
  (``bg_hist``). The four curves (``precision``, ``recall``, ``fm``, ``em``) derive from them exactly
  (:func:`samis.curve_histograms.curves_from_histograms`, pysodmetrics' own arithmetic): readers get
  (N, 4, 256) float32 curves, derived a row group at a time as they read. The counts compress to about a
  quarter of the float32 curves' bytes (most bins are empty or repeat).

  Older formats stored the curves themselves, pysodmetrics' order (index 0 is threshold 255), as 256 float32
  values: format 2 as one 1024-byte binary value per curve, format 1 as a fixed-size list of float32. Such a
  file is read as it is by every view (its float32 curves); it holds no histograms, so it cannot be converted:
  the next ``evaluate`` of the method scores all of its rows again, once, and writes format 3, with one line
  saying so (rows of images that run does not score are left out, and scored when they are evaluated);
- provenance in the schema's metadata: ``samis.format`` (:data:`STORE_FORMAT`, the layout of this
  file), ``samis.cache_version`` (the meaning of the values: another version is computed again),
  ``samis.version`` (the samis that wrote it), the metric and curve names, and ``samis.generation``
  (the version of the maps every row was last checked against, which pages trust).

:class:`ParquetRowCache` is a drop-in row cache for :class:`samis.result_cache.PairStore` (the runner's
``UnitStore`` of (method, image) pairs): it answers ``key_columns``, ``lookup``, ``touch``, ``put``, ``drop``,
``rows_for`` and ``save`` as :class:`samis.result_cache.RowCache` does. Writes are atomic (the whole
file is built in memory, then a temp file is renamed over the old one), so a kill during a write
leaves the previous file readable. A file that cannot be read or holds another layout is moved aside
(:func:`samis.recovery.move_aside`) and computed again; a file written by a newer samis (a higher
``samis.format``) is refused in one line, never overwritten. An old ``<method>.npz`` cache is read as it is
(its curves) while no Parquet file exists; like an old format it holds no histograms, so the next ``evaluate``
scores its rows again once, writes them as Parquet and removes the ``.npz``, with one line saying so.

The footer's ``samis.curve_total`` is the float64 sum over every row of each curve, as readers get them (derived
exactly from the histograms, then float32; formats 1 and 2 summed their stored float32 curves): a score of every
row reads no curve, and equals the score streamed from the curves.

:func:`read_rows` reads only what a view needs: chosen columns, and only the row groups whose image id
range holds a wanted image. Files are read through an open file, never memory-mapped: a file another program
cuts while it is mapped would kill the reading process (SIGBUS); a read from a cut file is an error samis names.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import os
import weakref
import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from samis import __version__
from samis.errors import EvaluationError
from samis.imageio import write_bytes_atomic
from samis.curve_histograms import curves_from_histograms
from samis.metrics import CURVES, bad_rows
from samis.recovery import move_aside, warn
from samis.result_cache import KEY_LAYOUT, load_npz

#: the layout of the files this samis writes; a file with a higher one is refused, never overwritten
STORE_FORMAT = 3
#: images per row group: a subset read skips the groups whose id range holds none of its images
ROW_GROUP = 4096
SUFFIX = ".parquet"
KEY_COLUMNS = ("image", "pred_size", "pred_mtime_ns", "pred_hash", "gt_hash")
_CURVE_TYPE = pa.binary(1024)  # 256 float32, little-endian (format 2)
#: the histogram columns of format 3: foreground, background
HISTOGRAMS = ("fg_hist", "bg_hist")
_HISTOGRAM_TYPE = pa.binary(1024)  # 256 uint32, little-endian
_FORMAT_1_CURVE_TYPE = pa.list_(pa.float32(), 256)
#: what pyarrow raises for a file it cannot read (callers need not import pyarrow)
ArrowException = pa.ArrowException


class DamagedStore(Exception):
    """A Parquet file reads but does not hold what samis wrote (cut, foreign or hand-edited)."""


def newer_format_error(path: Path, found: int) -> EvaluationError:
    return EvaluationError(f"{path}: written by a newer samis (results store format {found}; this samis reads "
                           f"format {STORE_FORMAT}); upgrade samis, or move the file away to compute it again")


def schema(scalars: tuple[str, ...], curves: tuple[str, ...], version: int, store_format: int = STORE_FORMAT) -> pa.Schema:
    """The schema (with provenance metadata) of a store of these per-image metrics and curves (in the layout of
    ``store_format``: 1 and 2 are still read; 3 stores the curves' histograms, see the module docstring)."""
    fields = [pa.field("image", pa.string(), nullable=False), pa.field("pred_size", pa.int64()),
              pa.field("pred_mtime_ns", pa.int64()), pa.field("pred_hash", pa.string()), pa.field("gt_hash", pa.string())]
    fields += [pa.field(name, pa.float64()) for name in scalars]
    if store_format >= 3:
        if curves and tuple(curves) != CURVES:
            raise ValueError(f"histograms give the curves {CURVES}, not {curves}")
        fields += [pa.field(name, _HISTOGRAM_TYPE) for name in (HISTOGRAMS if curves else ())]
    else:
        fields += [pa.field(name, _CURVE_TYPE if store_format >= 2 else _FORMAT_1_CURVE_TYPE) for name in curves]
    metadata = {"samis.format": str(store_format), "samis.cache_version": str(version), "samis.version": __version__,
                "samis.metrics": ",".join(scalars), "samis.curves": ",".join(curves)}
    return pa.schema(fields, metadata=metadata)


def store_versions(path: Path) -> tuple[int, int]:
    """(store format, cache version) from a file's footer (reads the footer only).

    Raises:
        DamagedStore: no samis provenance in the footer.
        OSError, pyarrow.ArrowException: the file cannot be read as Parquet.
    """
    metadata = pq.read_schema(path).metadata or {}  # the footer only
    try:
        return int(metadata[b"samis.format"]), int(metadata[b"samis.cache_version"])
    except (KeyError, ValueError):
        raise DamagedStore("no samis provenance") from None


def _check_table(found: pa.Schema, expected: pa.Schema) -> None:
    for field in expected:
        if field.name not in found.names:
            raise DamagedStore(f"no '{field.name}' column")
        if not found.field(field.name).type.equals(field.type):
            raise DamagedStore(f"'{field.name}' is {found.field(field.name).type}, expected {field.type}")


def _curves(table: pa.Table, names: tuple[str, ...]) -> np.ndarray:
    """(rows, len(names), 256) float32 from curve columns (format 2's binary values, or format 1's lists)."""
    out = np.empty((table.num_rows, len(names), 256), np.float32)
    for i, name in enumerate(names):
        column = table.column(name).combine_chunks()
        if column.null_count:
            raise DamagedStore(f"'{name}' has empty rows")
        if pa.types.is_fixed_size_binary(column.type):
            data = column.buffers()[1]
            out[:, i, :] = np.frombuffer(data, "<f4", count=len(column) * 256, offset=column.offset * 1024).reshape(-1, 256)
        else:
            out[:, i, :] = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, 256)
    return out


def _histograms(table: pa.Table) -> np.ndarray:
    """(rows, 2, 256) uint32 from format 3's ``fg_hist`` and ``bg_hist`` columns."""
    out = np.empty((table.num_rows, len(HISTOGRAMS), 256), np.uint32)
    for i, name in enumerate(HISTOGRAMS):
        column = table.column(name).combine_chunks()
        if column.null_count:
            raise DamagedStore(f"'{name}' has empty rows")
        out[:, i, :] = np.frombuffer(column.buffers()[1], "<u4", count=len(column) * 256,
                                     offset=column.offset * 1024).reshape(-1, 256)
    if len(out) and out.sum(axis=(1, 2), dtype=np.int64).min() < 2:  # an image has at least 2 x 2 pixels
        raise DamagedStore("a row's histograms count fewer pixels than an image has")
    return out


def histogram_array(values, rows: int) -> np.ndarray:
    """(rows, 2, 256) uint32 counts from what a scorer gave (:attr:`samis.metrics.ImageScores.histograms`).

    Raises:
        ValueError: a count is negative or does not fit 32 bits (no image has 2^32 pixels).
    """
    counts = np.asarray(values).reshape(rows, len(HISTOGRAMS), 256)
    if counts.size and (counts.min() < 0 or counts.max() > np.iinfo(np.uint32).max):
        raise ValueError("a histogram count outside 0 .. 2^32 - 1")
    return counts.astype(np.uint32)


#: rows derived at once: the float64 intermediates of 256 rows (512 KB each) stay in the CPU's cache, 2.3 times
#: faster than a row group's at once (0.040 s against 0.092 s per 4,096 rows here) and a few MB of memory
_DERIVE_ROWS = 256


def derived_curves(histograms: np.ndarray, names: tuple[str, ...] = CURVES) -> np.ndarray:
    """(rows, len(names), 256) float32 curves from (rows, 2, 256) counts, :data:`_DERIVE_ROWS` rows at a time."""
    pick = [CURVES.index(name) for name in names]
    out = np.empty((len(histograms), len(names), 256), np.float32)
    for start in range(0, len(histograms), _DERIVE_ROWS):
        out[start:start + _DERIVE_ROWS] = curves_from_histograms(histograms[start:start + _DERIVE_ROWS])[:, pick]
    return out


def _scalars(table: pa.Table, names: tuple[str, ...]) -> np.ndarray:
    if not names:
        return np.empty((table.num_rows, 0))
    return np.stack([table.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in names], axis=1)


def _groups_holding(metadata: pq.FileMetaData, wanted: list[str]) -> list[int]:
    """Row groups whose ``image`` min..max range holds one of ``wanted`` (sorted)."""
    groups = []
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(0).statistics
        if stats is None or not stats.has_min_max:
            groups.append(group)
            continue
        first = bisect.bisect_left(wanted, stats.min)
        if first < len(wanted) and wanted[first] <= stats.max:
            groups.append(group)
    return groups


def read_rows(path: Path, images: list[str] | None = None, metrics: tuple[str, ...] = (),
              curves: tuple[str, ...] = ()) -> pa.Table:
    """The rows of ``images`` (all when None; sorted by image id) with only ``image``, ``metrics`` and
    ``curves`` columns (stored columns as they are: format 3 holds :data:`HISTOGRAMS`, not curves; the curves
    come through :class:`CurveRows`).

    Row groups whose image id range holds none of ``images`` are not read
    (rows are sorted by image id), nor are the other columns.

    Raises:
        OSError, pyarrow.ArrowException: the file cannot be read.
    """
    columns = ["image", *metrics, *curves]
    parquet = pq.ParquetFile(path, page_checksum_verification=True)
    if images is None:
        return parquet.read(columns=columns)
    wanted = sorted(set(images))
    table = parquet.read_row_groups(_groups_holding(parquet.metadata, wanted), columns=columns)
    keep = set(wanted)
    return table.filter(pa.array([image in keep for image in table.column("image").to_pylist()], pa.bool_()))


def curve_total(file: pq.ParquetFile, curves: int) -> np.ndarray | None:
    """The ``samis.curve_total`` a writer put in the footer: the float64 sum over every row of each curve, written
    only when every curve value was within its range; None when absent or not of that shape."""
    raw = (file.schema_arrow.metadata or {}).get(b"samis.curve_total")
    if raw is None:
        return None
    try:
        total = np.frombuffer(base64.b64decode(raw, validate=True), "<f8")
    except (ValueError, binascii.Error):
        return None
    return total.reshape(curves, 256).copy() if total.size == curves * 256 else None


class CurveRows:
    """The per-image curves of chosen rows of one store file, read a row group at a time (never all at once):
    derived from the row group's histograms (format 3), or its stored float32 curves (formats 1 and 2).

    Args:
        file: the open Parquet file (opened when the rows were loaded: the same bytes even if another process
            has replaced the path since).
        positions: each row's position in the file.
        stems: each row's image id (checked against the file as rows are read).
        names: the curve columns.
        path: the file's path, for errors (a damaged file is moved aside there).
    """

    def __init__(self, file: pq.ParquetFile, positions: np.ndarray, stems: list[str], names: tuple[str, ...],
                 path: Path):
        self.file, self.positions, self.stems, self.names, self.path = file, np.asarray(positions, np.int64), stems, names, path
        #: the file stores histograms (format 3), not curves
        self.from_histograms = HISTOGRAMS[0] in file.schema_arrow.names

    def __len__(self) -> int:
        return len(self.positions)

    dtype = np.dtype(np.float32)

    def total(self) -> np.ndarray | None:
        """The float64 sum of these rows' curves, (len(names), 256), from the file's footer when these rows are every
        row of the file and the writer found every curve value in range (see :func:`curve_total`); else None."""
        if len(self.positions) != self.file.metadata.num_rows:
            return None
        if not np.array_equal(np.sort(self.positions), np.arange(len(self.positions))):
            return None
        return curve_total(self.file, len(self.names))

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.positions), len(self.names), 256

    def __getitem__(self, key):
        """Rows chosen by an index array, list or slice: more :class:`CurveRows` (nothing read); any other key
        (``[:, 0, :]``) indexes the curves read whole."""
        if isinstance(key, tuple):
            return np.asarray(self)[key]
        chosen = np.arange(len(self.positions))[key]
        return CurveRows(self.file, self.positions[chosen], [self.stems[i] for i in np.atleast_1d(chosen)],
                         self.names, self.path)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.empty(self.shape, np.float32)
        for rows, block in self.chunks():
            out[rows] = block
        return out if dtype is None else out.astype(dtype)

    def chunks(self, rows: np.ndarray | None = None):
        """(rows, (k, len(names), 256) float32 curves) for ``rows`` (positions in these rows; default all), one
        row group of the file at a time.

        Raises:
            EvaluationError: the file cannot be read or holds other rows than it did (moved aside first).
        """
        for chosen, block in self.stored_chunks(rows):
            yield chosen, derived_curves(block, self.names) if self.from_histograms else block

    def stored_chunks(self, rows: np.ndarray | None = None):
        """:meth:`chunks` as stored: (k, 2, 256) uint32 histograms (format 3) or (k, len(names), 256) float32
        curves (formats 1 and 2)."""
        rows = np.arange(len(self.positions)) if rows is None else np.asarray(rows, np.int64)
        if not len(rows):
            return
        at = self.positions[rows]
        starts = np.cumsum([0] + [self.file.metadata.row_group(g).num_rows for g in range(self.file.num_row_groups)])
        group_of = np.searchsorted(starts, at, side="right") - 1
        for group in np.unique(group_of):
            mine = np.flatnonzero(group_of == group)
            yield rows[mine], self._read(int(group), at[mine] - starts[group], rows[mine])

    def _read(self, group: int, offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
        try:
            stored = HISTOGRAMS if self.from_histograms else self.names
            table = self.file.read_row_group(group, columns=["image", *stored]).take(pa.array(offsets))
            if table.column("image").to_pylist() != [self.stems[i] for i in rows]:
                raise DamagedStore("the curves' rows differ from the values' rows")
            return _histograms(table) if self.from_histograms else _curves(table, self.names)
        except (DamagedStore, OSError, pa.ArrowException, ValueError) as error:
            reason = str(error) if isinstance(error, DamagedStore) else f"curves unreadable: {error.__class__.__name__}"
            if _identity(self.path) != _identity_of(self.file):  # rewritten in place since it was opened
                raise EvaluationError(f"{self.path}: changed while it was read ({reason}); run the command "
                                      "again") from None
            move_aside(self.path, reason, then="run the command again to compute it")
            raise EvaluationError(f"{self.path}: damaged ({reason}); moved aside, run the command again") from None


def _identity(path: Path) -> tuple | None:
    """(inode, size, mtime) of the file at ``path`` now, or None."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


_OPENED: "weakref.WeakKeyDictionary[pq.ParquetFile, tuple | None]" = weakref.WeakKeyDictionary()


def open_store(path: Path) -> pq.ParquetFile:
    """The Parquet file at ``path``, open (not memory-mapped: see the module docstring), remembering which file it
    was (see :func:`_identity_of`)."""
    before = _identity(path)
    file = pq.ParquetFile(path, page_checksum_verification=True)
    _OPENED[file] = before
    return file


def _identity_of(file: pq.ParquetFile) -> tuple | None:
    """(inode, size, mtime) of the file when :func:`open_store` opened it (None when unknown)."""
    return _OPENED.get(file)


class ParquetRowCache:
    """One method's per-image rows in one Parquet file (see the module docstring).

    Args:
        path: the ``.parquet`` file.
        scalars: per-image metric names (float64 columns); ``rows_for`` gives them as ``"scalars"``.
        curves: curve names (:data:`samis.metrics.CURVES`, or none); ``rows_for`` gives them as ``"curves"``
            (N, len, 256) float32, derived from the stored histograms. A row is put with ``"scalars"`` and
            ``"histograms"`` (2, 256 counts: :attr:`samis.metrics.ImageScores.histograms`).
        version: the cache version of the values (a file of another version is computed again).
        legacy: an old ``.npz`` row cache of the same rows (:class:`samis.result_cache.RowCache` layout), read
            as it is while the Parquet file does not exist (its rows are scored again at the next evaluation).

    Raises:
        EvaluationError: the file was written by a newer samis.
    """

    def __init__(self, path: Path, scalars: tuple[str, ...], curves: tuple[str, ...], version: int,
                 legacy: Path | None = None):
        self.path, self.names, self.curve_names, self.version = Path(path), tuple(scalars), tuple(curves), version
        self.schema = schema(self.names, self.curve_names, version)
        self.dirty = False
        self._token_only = False  # only the trust token changed since the last write (see save)
        #: what the rows came from when they hold curves, not histograms (an older format, an .npz cache): read as
        #: they are; scored again before anything is put (see :meth:`score_old_rows_again`)
        self.old: str | None = None
        self._npz: Path | None = None  # an .npz cache to remove once its rows are written as Parquet
        self._new: dict[str, tuple] = {}
        self._file: pq.ParquetFile | None = None
        self._total: np.ndarray | None = None  # the footer's curve sums of these rows, while they are unchanged
        #: the version of the maps (and dataset) every row was last checked against (see :meth:`set_generation`)
        self.generation = ""
        self._set_rows([], np.zeros((0, 2), np.int64), [], [], np.empty((0, len(self.names))),
                       np.empty((0, len(HISTOGRAMS) if self.curve_names else 0, 256), np.uint32))
        if not self._load() and legacy is not None and Path(legacy).exists() and not self.path.exists():
            self._read_npz(Path(legacy))

    def _set_rows(self, stems, pred_stat, pred_hash, gt_hash, scalars, stored) -> None:
        """Replace the rows; ``stored`` (their histograms, or an old store's curves) None: read from :attr:`_file`
        on first use (views that need no curve, and a warm run's check of what changed, never decompress them)."""
        self.stems: list[str] = list(stems)
        self.index = {stem: i for i, stem in enumerate(self.stems)}
        self.pred_stat, self.pred_hash, self.gt_hash = np.asarray(pred_stat, np.int64).reshape(-1, 2), list(pred_hash), list(gt_hash)
        self.scalars = np.asarray(scalars, np.float64)
        self._stored = stored

    @property
    def stored(self) -> np.ndarray:
        """Every row's histograms ((rows, 2, 256) uint32), or an old store's curves ((rows, curves, 256) float32),
        read from the open file the rows came from on first use."""
        if self._stored is None:  # the file opened at load: the same bytes even if the path was replaced since
            every = CurveRows(self._file, np.arange(len(self.stems)), self.stems, self.curve_names, self.path)
            shape = (len(self.stems), len(HISTOGRAMS), 256) if every.from_histograms else every.shape
            out = np.empty(shape, np.uint32 if every.from_histograms else np.float32)
            for rows, block in every.stored_chunks():
                out[rows] = block
            self._stored, self._file = out, None
        return self._stored

    def _curves_of(self, rows) -> np.ndarray:
        """(len(rows), curves, 256) float32 curves of these rows (positions), derived or as an old store held them."""
        stored = self.stored[rows]
        return stored if self.old is not None or not self.curve_names else derived_curves(stored, self.curve_names)

    @property
    def curves(self) -> np.ndarray:
        """(rows, curves, 256) float32 of every row (derived from the histograms now: prefer :meth:`curve_rows`)."""
        return self._curves_of(slice(None))

    def _load(self) -> bool:
        """Read the file; False when there is none (or it must be computed again)."""
        try:
            found_format, found_version = store_versions(self.path)
            if found_format > STORE_FORMAT:
                raise newer_format_error(self.path, found_format)
            if found_format < 1 or found_version != self.version:
                return False
            self._file = open_store(self.path)
            _check_table(self._file.schema_arrow, schema(self.names, self.curve_names, self.version, found_format))
            if found_format < 3 and self.curve_names:  # curves, no histograms: read as they are
                self.old = f"format {found_format} (float32 curves)"
            self.generation = (self._file.schema_arrow.metadata or {}).get(b"samis.generation", b"").decode()
            table = self._file.read(columns=[*KEY_COLUMNS, *self.names])
            if table.column("image").null_count or len(set(table.column("image").to_pylist())) != table.num_rows:
                raise DamagedStore("an image id is empty or occurs twice")
            self._set_rows(table.column("image").to_pylist(),
                           np.stack([table.column("pred_size").to_numpy(), table.column("pred_mtime_ns").to_numpy()], 1),
                           table.column("pred_hash").to_pylist(), table.column("gt_hash").to_pylist(),
                           _scalars(table, self.names), None if self.curve_names else np.empty((table.num_rows, 0, 256)))
            self._total = curve_total(self._file, len(self.curve_names)) if self.curve_names else None
            return True
        except FileNotFoundError:
            return False
        except PermissionError:
            raise
        except (DamagedStore, OSError, pa.ArrowException, ValueError, TypeError) as error:
            self.old = None
            move_aside(self.path, str(error) if isinstance(error, DamagedStore) else error.__class__.__name__,
                       then="computed again")
            return False

    def _read_npz(self, legacy: Path) -> None:
        """Take the rows of an old ``.npz`` cache as they are (curves, no histograms: see
        :meth:`score_old_rows_again`)."""
        layout = {**KEY_LAYOUT, "scalars": ("f", ("n", len(self.names)))}
        if self.curve_names:
            layout["curves"] = ("f", ("n", len(self.curve_names), 256))
        data = load_npz(legacy, layout, self.version)
        if data is None:
            return
        n = len(data["stems"])
        self._set_rows(data["stems"].tolist(), data["pred_stat"], data["pred_hash"].tolist(), data["gt_hash"].tolist(),
                       data["scalars"], np.asarray(data["curves"], np.float32) if self.curve_names
                       else np.empty((n, 0, 256), np.float32))
        self._npz = legacy
        if self.curve_names:
            self.old = "an .npz cache (curves, no histograms)"

    def score_old_rows_again(self) -> None:
        """Rows that came with curves and no histograms (an older format, an .npz cache) cannot be written in this
        format: forget them, once, with one line saying so, so that the scorer computes every row again. Scoring
        calls it before it plans (:meth:`key_columns`, :meth:`put`); views never do, and read such rows as they are."""
        if self.old is None:
            return
        source = self._npz or self.path
        warn(f"{source}: {self.old} is scored again once and stored as format {STORE_FORMAT} (exact histograms)"
             + (f" in {self.path.name}; the .npz is removed once it is written" if self._npz else ""))
        self.old, self._file, self._total, self._new = None, None, None, {}
        self._set_rows([], np.zeros((0, 2), np.int64), [], [], np.empty((0, len(self.names))),
                       np.empty((0, len(HISTOGRAMS), 256), np.uint32))
        self.dirty, self._token_only = True, False

    # ---- the RowCache interface PairStore uses ----------------------------------------------------
    def key_columns(self) -> tuple[dict[str, int], list[tuple[int, int]], list[str], list[str]]:
        """(image -> row, each row's map stat, map hash and ground-truth hash): what planning compares (lists the
        store holds already; the stats as tuples, made once). Rows of an older format are scored again first."""
        self.score_old_rows_again()
        self._merge()
        return self.index, list(zip(self.pred_stat[:, 0].tolist(), self.pred_stat[:, 1].tolist())), self.pred_hash, \
            self.gt_hash

    def lookup(self, stem: str) -> tuple[str, str] | None:
        """(map hash, ground-truth hash) the row of ``stem`` was computed from, or None."""
        if stem in self._new:
            return self._new[stem][1], self._new[stem][2]
        i = self.index.get(stem)
        return None if i is None else (self.pred_hash[i], self.gt_hash[i])

    def touch(self, stem: str, stat: tuple[int, int]) -> None:
        """Same content under a new file stat: remember the stat so the file is not hashed again."""
        self._merge()
        self.pred_stat[self.index[stem]] = stat
        self.dirty, self._token_only = True, False

    def put(self, stem: str, stat, pred_hash: str, gt_hash: str, values: dict[str, np.ndarray]) -> None:
        """Store one row: ``values`` holds ``"scalars"`` and (with curves) ``"histograms"``."""
        self.score_old_rows_again()
        self._new[stem] = (tuple(stat), pred_hash, gt_hash, values)
        self.dirty, self._token_only = True, False

    def _keep(self, keep: list[int], extra: list[tuple[str, tuple]]) -> None:
        """Keep rows ``keep`` (indexes) and append ``extra`` (stem, row) rows."""
        rows = [row for _, row in extra]
        stored = self.stored[keep]
        if rows:  # new rows are put with histograms only (old rows were forgotten first: see put)
            added = np.array([np.asarray(r[3]["histograms"]) if self.curve_names else () for r in rows])
            stored = np.concatenate([stored, histogram_array(added, len(rows)) if self.curve_names
                                     else np.empty((len(rows), 0, 256), stored.dtype)])
        self._set_rows([self.stems[i] for i in keep] + [stem for stem, _ in extra],
                       np.concatenate([self.pred_stat[keep], np.array([r[0] for r in rows], np.int64).reshape(-1, 2)]),
                       [self.pred_hash[i] for i in keep] + [r[1] for r in rows],
                       [self.gt_hash[i] for i in keep] + [r[2] for r in rows],
                       np.concatenate([self.scalars[keep], np.array([r[3]["scalars"] for r in rows],
                                                                     np.float64).reshape(-1, len(self.names))]),
                       stored)
        self._total = None

    def _merge(self) -> None:
        if self._new:
            new, self._new = self._new, {}
            self._keep([i for i, stem in enumerate(self.stems) if stem not in new], list(new.items()))
        order = sorted(range(len(self.stems)), key=self.stems.__getitem__)
        if order != list(range(len(self.stems))):  # sorted by image id: the same file from every engine
            self._keep(order, [])

    def drop(self, stems: list[str]) -> None:
        """Forget the rows of these images (their results came from files that changed while they were read)."""
        self._merge()
        gone = set(stems) & set(self.index)
        if gone:
            self._keep([i for i, stem in enumerate(self.stems) if stem not in gone], [])
            self.dirty, self._token_only = True, False

    def images(self) -> list[str]:
        """The images that have a row, sorted."""
        self._merge()
        return list(self.stems)

    def rows_for(self, stems: list[str], curves: bool = True) -> dict[str, np.ndarray]:
        """``scalars`` (N, metrics) float64 and (unless ``curves`` is False: nothing is decompressed then)
        ``curves`` (N, curves, 256) float32 of these images, in this order."""
        self._merge()
        rows = [self.index[s] for s in stems]
        return {"scalars": self.scalars[rows], **({"curves": self._curves_of(rows)} if curves else {})}

    def curve_rows(self, stems: list[str]) -> "np.ndarray | CurveRows":
        """The curves of these images, in this order: read from the file as they are used (:class:`CurveRows`) when
        the rows are the file's, else (rows not written yet) from memory."""
        self._merge()
        rows = [self.index[s] for s in stems]
        if self._stored is None and self._file is not None:
            return CurveRows(self._file, np.asarray(rows, np.int64), list(stems), self.curve_names, self.path)
        return self._curves_of(rows)

    def table(self) -> pa.Table:
        """The rows as an Arrow table of :attr:`schema` (format 3: the histograms)."""
        self._merge()
        columns = [pa.array(self.stems, pa.string()), pa.array(self.pred_stat[:, 0]), pa.array(self.pred_stat[:, 1]),
                   pa.array(self.pred_hash, pa.string()), pa.array(self.gt_hash, pa.string())]
        columns += [pa.array(self.scalars[:, i]) for i in range(len(self.names))]
        if self.curve_names:
            counts = self.stored
            columns += [pa.FixedSizeBinaryArray.from_buffers(_HISTOGRAM_TYPE, len(self.stems), [
                            None, pa.py_buffer(np.ascontiguousarray(counts[:, i, :], "<u4").tobytes())])
                        for i in range(len(HISTOGRAMS))]
        return pa.Table.from_arrays(columns, schema=self.schema.with_metadata(
            {**self.schema.metadata, b"samis.generation": self.generation.encode()}))

    def _curve_total(self) -> np.ndarray | None:
        """The float64 sum over every row of each curve as every reader gets it (derived exactly from the
        histograms, then float32), a row group at a time; None when a curve value leaves its range (a whole-file
        score then reads the curves, and refuses them).

        The float32 curves, not the float64 ones they come from: a score of every row (these sums) then equals the
        same score streamed from the curves (a subset's, a bootstrap's) to 1e-12, not merely to float32's 1e-7,
        so no view compares numbers rounded differently."""
        if self._total is not None:  # the rows are those the footer summed
            return self._total
        counts = self.stored
        total = np.zeros((len(self.curve_names), 256), np.float64)
        for start in range(0, len(counts), ROW_GROUP):
            block = derived_curves(counts[start:start + ROW_GROUP], self.curve_names)
            if bad_rows(None, block):
                return None
            total += block.sum(axis=0, dtype=np.float64)
        return total

    def set_generation(self, generation: str) -> None:
        """Record that every row was checked against (or computed from) this version of the maps: a reader that
        finds the same version may trust the rows without checking a file (see
        :func:`samis.evaluation.evaluate_trusting_generation`). Set it only after a whole, successful check."""
        if generation != self.generation:
            self.generation = generation
            self._token_only = self._token_only or not self.dirty  # no row changed since the last write
            self.dirty = True

    def save(self) -> None:
        """Write the file atomically (only when something changed; never rows of an older format, which are
        scored again first: see :meth:`score_old_rows_again`).

        Raises:
            EvaluationError: the file there now was written by a newer samis (it is left as it is).
        """
        if not self.dirty or self.old is not None:
            return
        try:
            found = store_versions(self.path)[0]
        except (DamagedStore, OSError, pa.ArrowException):
            found = 0
        if found > STORE_FORMAT:
            raise newer_format_error(self.path, found)
        sink = pa.BufferOutputStream()
        table = self.table()
        write = self._rows_key()  # the file read back below must hold these rows
        extra = {b"samis.write": write.encode()}
        total = self._curve_total() if self.curve_names else None
        if total is not None:  # the dataset's curve sums, for a whole-file score
            extra[b"samis.curve_total"] = base64.b64encode(total.astype("<f8").tobytes())
        table = table.replace_schema_metadata({**table.schema.metadata, **extra})
        # zstd, no dictionary for the floats and hashes (it falls back page by page): half the bytes of the
        # default on SD-saliency-900, and as fast to read
        # a CRC of every page, checked on every read: a damaged page is found, never decoded into other numbers
        # min/max statistics of the image ids only (a subset read skips row groups by them): a histogram's are
        # 2 KB of bytes nobody reads
        pq.write_table(table, sink, row_group_size=ROW_GROUP, compression="zstd", use_dictionary=["image"],
                       write_page_checksum=True, write_statistics=["image"])
        del table
        try:
            write_bytes_atomic(self.path, sink.getvalue().to_pybytes())
        except OSError:
            if not self._token_only:
                raise
            # only the trust token changed, in a workspace that cannot be written (a read-only server): the rows
            # are as they were, and views check the files as before
            self.dirty = self._token_only = False
            return
        self.dirty = self._token_only = False
        self._total = total
        if self._npz is not None:  # its rows are in the Parquet file now
            self._npz.unlink(missing_ok=True)
            self._npz = None
        self._read_rows_from(sink.getvalue(), write)

    def _rows_key(self) -> str:
        """A hash of every row's image id and content keys: the same rows give the same file, whoever wrote it."""
        digest = hashlib.blake2b(digest_size=16)
        for part in (self.stems, self.pred_hash, self.gt_hash):
            digest.update("\n".join(part).encode())
        digest.update(self.generation.encode())
        return digest.hexdigest()

    def _read_rows_from(self, written: pa.Buffer, write: str) -> None:
        """Let the in-memory histograms go: later reads come from the file just written, or from its
        compressed bytes when another process has replaced the file since."""
        try:
            file = open_store(self.path)
            if (file.schema_arrow.metadata or {}).get(b"samis.write") != write.encode():
                file = None
        except (OSError, pa.ArrowException):
            file = None
        self._file = file or pq.ParquetFile(pa.BufferReader(written), page_checksum_verification=True)
        self._stored = None
