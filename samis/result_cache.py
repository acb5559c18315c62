"""Stored per-image results, keyed by content: the stores the runner (:mod:`samis.runner`) plans and fills.

- Content keys: a file's key is a hash of its bytes; a file whose (size, mtime) is unchanged keeps
  its known hash unread, as git's index does (:func:`content_keys`, :func:`ground_truth_keys`).
- ``.npz`` files: :func:`load_npz` reads a cache file and checks its layout (:func:`read_table` and
  :func:`write_table` for a table of one row per image); a file that cannot be read or holds something
  else is moved aside (:func:`samis.recovery.move_aside`) and recomputed.
- :class:`RowCache`: one method's per-image rows in one ``.npz`` (image ids, the map's file stat and
  hash, the ground truth's hash, value arrays of one entry per image or, ragged, of any number).
- :class:`PairStore`: the :class:`samis.runner.UnitStore` of (method, image) pairs over one
  :class:`RowCache` per method (evaluation, image-level and pixel-level evaluation).
- :class:`FileStore`: the :class:`samis.runner.UnitStore` of one file per image (SAM's mask cache).

Stores answer through three calls (``has``, ``put``, ``flush``), so a columnar store can take their
place without touching any task.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from itertools import compress, repeat
from operator import and_, eq, not_
from pathlib import Path
from typing import Any, Callable

import numpy as np

from samis.errors import EvaluationError
from samis.file_stats import bulk_stats
from samis.imageio import write_bytes_atomic
from samis.recovery import move_aside
from samis.runner import Unit, UnitStore

_GT_INDEX = "_ground_truth_index.npz"
_GT_INDEX_LAYOUT = {"stems": ("U", ("n",)), "stat": ("iu", ("n", 2)), "hash": ("U", ("n",))}
_GT_INDEX_VERSION = 2  # written with evaluation's cache version; both moved together
#: the columns every row cache holds besides its values
KEY_LAYOUT = {"stems": ("U", ("n",)), "pred_stat": ("iu", ("n", 2)), "pred_hash": ("U", ("n",)),
              "gt_hash": ("U", ("n",))}


# ---- content keys ------------------------------------------------------------------------------
def file_hash(path: Path) -> str:
    """The content key of a file: a 128-bit BLAKE2b of its bytes."""
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()


def stat_key(path: Path) -> tuple[int, int]:
    stat = Path(path).stat()
    return stat.st_size, stat.st_mtime_ns


def _stat_of(path) -> tuple[int, int]:
    try:
        return stat_key(path)
    except FileNotFoundError:
        raise EvaluationError(f"{path}: file not found (it disappeared during evaluation)") from None


def content_keys(paths: dict[str, Path], known: dict[str, tuple[tuple[int, int], str]]) -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
    """Hash of each file, and its stat; files whose (size, mtime) match ``known`` keep their known hash unread.

    Raises:
        EvaluationError: a file disappeared since it was listed.
    """
    keys, stats = {}, {}
    listed = bulk_stats(paths)  # one folder scan per folder; files it did not see are stat-ed one by one
    for stem, path in paths.items():
        try:
            stat = listed.get(stem) or stat_key(path)
        except FileNotFoundError:
            raise EvaluationError(f"{path}: file not found (it disappeared during evaluation)") from None
        cached = known.get(stem)
        keys[stem] = cached[1] if cached and cached[0] == stat else file_hash(path)
        stats[stem] = stat
    return keys, stats


# ---- cache files ---------------------------------------------------------------------------------
class DamagedCache(Exception):
    """A cache file reads but does not hold what samis wrote (cut, foreign or hand-edited)."""


def check_layout(data: dict, layout: dict) -> None:
    """Raise :class:`DamagedCache` unless every array of ``layout`` (name -> (dtype kinds, shape)) is there with
    the right kind and shape; a size given as a name (``"n"``: the row count) is any size, the same wherever the
    name recurs."""
    sizes: dict[str, int] = {}
    for name, (kinds, shape) in layout.items():
        if name not in data:
            raise DamagedCache(f"no '{name}' array")
        array = data[name]
        if array.dtype.kind not in kinds or array.ndim != len(shape):
            raise DamagedCache(f"'{name}' is {array.dtype} {array.shape}")
        expected = tuple(sizes.setdefault(size, n) if isinstance(size, str) else size
                         for size, n in zip(shape, array.shape))
        if array.shape != expected:
            raise DamagedCache(f"'{name}' has shape {array.shape}, expected {expected}")
    if "stems" in layout and len(set(data["stems"].tolist())) != sizes["n"]:
        raise DamagedCache("an image id occurs twice")


def _read_npz(path: Path, read: Callable[[Any], Any]) -> Any:
    """``read(the file's arrays)``; None when the file is missing; a file that cannot be read or that ``read``
    finds damaged (:class:`DamagedCache`, a missing array) is moved aside (see :func:`samis.recovery.move_aside`)
    and None returned, so it never blocks a command and nothing is lost.

    Raises:
        PermissionError: the file cannot be read (not damage: the caller names it).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return read(data)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise
    except (DamagedCache, OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as error:
        move_aside(path, str(error) if isinstance(error, DamagedCache) else error.__class__.__name__,
                   then="computed again")
        return None


def load_npz(path: Path, layout: dict, version: int, check: Callable[[dict], None] | None = None) -> dict | None:
    """A cache file's arrays, or None when it must be computed (again): missing, of another cache version, or
    damaged (it cannot be read, does not match ``layout``, or ``check`` raises :class:`DamagedCache`), in which
    case it is moved aside first (see :func:`_read_npz`).

    Raises:
        PermissionError: the file cannot be read (not damage: the caller names it).
    """
    def read(data) -> dict | None:
        if "version" not in data.files:
            raise DamagedCache("no version")
        if int(data["version"]) != version:
            return None
        arrays = {k: data[k] for k in data.files}
        check_layout(arrays, layout)
        if check is not None:
            check(arrays)
        return arrays

    return _read_npz(path, read)


def stored_images(path: Path, version: int) -> set[str]:
    """The image ids a row cache file of ``version`` holds, reading only its ``version`` and ``stems`` arrays (a
    view's cheap look at what is stored; no row is checked). Empty when the file is missing, of another version or
    cannot be read (whoever computes next moves a damaged file aside)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "version" not in data.files or int(data["version"]) != version:
                return set()
            return set(data["stems"].tolist())
    except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile):
        return set()


def save_npz(path: Path, version: int, **arrays) -> None:
    """Write arrays (and ``version``) as one ``.npz``, atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, version=np.array(version), **arrays)  # histograms are mostly zeros: ~10x smaller
    write_bytes_atomic(path, buffer.getvalue())


def _dtype(kinds: str) -> type:
    return {"U": str, "b": bool}.get(kinds, float if "f" in kinds else np.int64)


def read_table(path: Path, layout: dict, version: int) -> dict[str, tuple]:
    """``{image id: (its value in each column of layout after "stems")}`` of a file :func:`write_table` wrote
    (rows of two values as tuples); empty when the file is missing, of another version, or damaged (moved aside)."""
    data = load_npz(path, layout, version)
    if data is None:
        return {}
    columns = [[tuple(v) if isinstance(v, list) else v for v in data[name].tolist()] for name in list(layout)[1:]]
    return {stem: tuple(column[i] for column in columns) for i, stem in enumerate(data["stems"].tolist())}


def write_table(path: Path, version: int, layout: dict, rows: dict[str, tuple]) -> None:
    """Write ``rows`` (as :func:`read_table` returns them) sorted by image id, atomically."""
    stems = sorted(rows)
    columns = {name: np.array([rows[stem][i] for stem in stems], _dtype(kinds)).reshape(-1, *shape[1:])
               for i, (name, (kinds, shape)) in enumerate(list(layout.items())[1:])}
    save_npz(path, version, stems=np.array(stems, dtype=str), **columns)


def ground_truth_keys(results_dir: Path, paths: dict[str, Path]) -> tuple[dict[str, str], Callable[[], None]]:
    """Content hash of each ground-truth file, and a function that saves the updated index (call it on success).

    The index (``results/<dataset>/_ground_truth_index.npz``) remembers each mask's stat and hash, so an
    unchanged mask is not read again.
    """
    index_path = Path(results_dir) / _GT_INDEX
    known = read_table(index_path, _GT_INDEX_LAYOUT, _GT_INDEX_VERSION)
    keys, stats = content_keys(paths, known)

    def save() -> None:
        current = {stem: (stats[stem], keys[stem]) for stem in keys}
        if any(known.get(stem) != row for stem, row in current.items()):
            write_table(index_path, _GT_INDEX_VERSION, _GT_INDEX_LAYOUT, {**known, **current})

    return keys, save


def indexed_ground_truth_keys(results_dir: Path, stems: list[str]) -> dict[str, str] | None:
    """The content hash of each of ``stems``' masks as :func:`ground_truth_keys` last saved it, without a look at
    any mask: for a caller that has just checked them (``evaluate``, in the same command); None when the index
    lacks one of them."""
    known = read_table(Path(results_dir) / _GT_INDEX, _GT_INDEX_LAYOUT, _GT_INDEX_VERSION)
    try:
        return {stem: known[stem][1] for stem in stems}
    except KeyError:
        return None


# ---- one method's rows -----------------------------------------------------------------------------
class RowCache:
    """One method's cached per-image rows: image id, the map's stat and hash, the ground truth's hash, values.

    Each value ``name`` of a row is an array of entries of one shape: exactly one entry (on disk: one array with
    a row per image), or with ``ragged`` any number (one per region; on disk every row's entries stacked, and
    ``name_count`` the number of each row's). Rows are written sorted by image id: the file is the same whichever
    engine computed it, in whatever order results came back and whenever a flush fell.

    Args:
        path: the ``.npz`` file.
        values: value arrays: name -> (dtype kinds, shape of one entry).
        version: the cache version (files of another version are recomputed).
        labels: constant arrays saved beside the rows (the names of the values' columns).
        ragged: rows hold any number of entries.
    """

    def __init__(self, path: Path, values: dict[str, tuple[str, tuple]], version: int,
                 labels: dict[str, np.ndarray] | None = None, ragged: bool = False):
        self.path, self.values, self.version, self.labels = Path(path), values, version, labels or {}
        self.ragged, self.dirty = ragged, False
        #: image id -> ((size, mtime) of the map, map hash, ground-truth hash, {value name: entries})
        self.rows: dict[str, tuple] = {}
        #: the version of the maps every row was last checked against (see :meth:`set_generation`)
        self.generation = ""
        layout = {**KEY_LAYOUT, **{name: (kinds, (f"{name} entries" if ragged else "n", *shape))
                                   for name, (kinds, shape) in values.items()},
                  **{f"{name}_count": ("iu", ("n",)) for name in values if ragged}}
        data = load_npz(self.path, layout, version, self._check_counts)
        if data is not None:
            entries = {name: np.split(data[name], np.cumsum(self._counts(data, name))[:-1]) for name in values}
            keys = zip(data["stems"].tolist(), data["pred_stat"].tolist(), data["pred_hash"].tolist(),
                       data["gt_hash"].tolist())
            for i, (stem, stat, pred_hash, gt_hash) in enumerate(keys):
                self.rows[stem] = (tuple(stat), pred_hash, gt_hash, {name: entries[name][i] for name in values})
            self.generation = str(data["generation"]) if "generation" in data else ""

    def _counts(self, data: dict, name: str) -> np.ndarray:
        return data[f"{name}_count"] if self.ragged else np.ones(len(data["stems"]), np.int64)

    def _check_counts(self, data: dict) -> None:
        for name in self.values:
            counts = self._counts(data, name)
            if (counts < 0).any() or int(counts.sum()) != len(data[name]):
                raise DamagedCache(f"'{name}_count' does not add up to the rows of '{name}'")

    @property
    def stems(self) -> list[str]:
        """The image ids of the rows, sorted."""
        return sorted(self.rows)

    def key_columns(self) -> tuple[dict[str, int], list[tuple[int, int]], list[str], list[str]]:
        """(image -> row, each row's map stat, map hash and ground-truth hash): what planning compares."""
        stems = list(self.rows)
        rows = [self.rows[stem] for stem in stems]
        return ({stem: i for i, stem in enumerate(stems)}, [tuple(row[0]) for row in rows], [row[1] for row in rows],
                [row[2] for row in rows])

    def images(self) -> list[str]:
        """The image ids of the rows (in no order)."""
        return list(self.rows)

    def set_generation(self, generation: str) -> None:
        """Record the version of the maps (:func:`samis.evaluation.trust_token`) every row was just checked
        against; views then use the rows without a look at any map while the maps keep that version."""
        if generation != self.generation:
            self.generation, self.dirty = generation, True

    def lookup(self, stem: str) -> tuple[str, str] | None:
        """(map hash, ground-truth hash) the row of ``stem`` was computed from, or None."""
        row = self.rows.get(stem)
        return None if row is None else row[1:3]

    def touch(self, stem: str, stat: tuple[int, int]) -> None:
        """The map of ``stem`` has its row's content: remember its stat, so an unchanged file is not hashed again."""
        if self.rows[stem][0] != tuple(stat):
            self.rows[stem] = (tuple(stat), *self.rows[stem][1:])
            self.dirty = True

    def put(self, stem: str, stat, pred_hash: str, gt_hash: str, values: dict[str, np.ndarray]) -> None:
        entries = {name: np.asarray(values[name], _dtype(kinds)).reshape(-1, *shape)
                   for name, (kinds, shape) in self.values.items()}
        self.rows[stem] = (tuple(stat), pred_hash, gt_hash, entries)
        self.dirty = True

    def drop(self, stems: list[str]) -> None:
        """Forget the rows of these images (their results came from files that changed while they were read)."""
        for stem in set(stems) & set(self.rows):
            del self.rows[stem]
            self.dirty = True

    def rows_for(self, stems: list[str]) -> dict[str, np.ndarray | list[np.ndarray]]:
        """Each value's rows for these images, in this order: one array, or (ragged) each image's entries."""
        return {name: self._entries(name, stems, joined=not self.ragged) for name in self.values}

    def _entries(self, name: str, stems: list[str], joined: bool) -> np.ndarray | list[np.ndarray]:
        kinds, shape = self.values[name]
        entries = [self.rows[stem][3][name] for stem in stems]
        return np.concatenate([np.empty((0, *shape), _dtype(kinds)), *entries]) if joined else entries

    def save(self) -> None:
        """Write the file atomically (only when something changed)."""
        if not self.dirty:
            return
        stems = self.stems
        counts = {f"{name}_count": np.array([len(e) for e in self._entries(name, stems, False)], np.int64)
                  for name in self.values if self.ragged}
        save_npz(self.path, self.version, stems=np.array(stems, dtype=str),
                 pred_stat=np.array([self.rows[s][0] for s in stems], np.int64).reshape(-1, 2),
                 pred_hash=np.array([self.rows[s][1] for s in stems], dtype=str),
                 gt_hash=np.array([self.rows[s][2] for s in stems], dtype=str),
                 **{name: self._entries(name, stems, True) for name in self.values}, **counts, **self.labels,
                 generation=np.array(self.generation))
        self.dirty = False


class RaggedRowCache(RowCache):
    """A :class:`RowCache` whose rows hold any number of entries (``ragged=True``)."""

    def __init__(self, path: Path, values: dict[str, tuple[str, tuple]], version: int,
                 labels: dict[str, np.ndarray] | None = None):
        super().__init__(path, values, version, labels, ragged=True)


class PairStore:
    """The store of (method, image) results: one :class:`RowCache` per method (units' group = method).

    Args:
        caches: the row cache of each method.
        to_row: a unit's result -> ``{value name: array}`` of its row.
    """

    def __init__(self, caches: dict[str, RowCache], to_row: Callable[[Any], dict[str, np.ndarray]]):
        self.caches, self.to_row = caches, to_row
        self._stats: dict[tuple[str, str], tuple[int, int]] = {}

    def plan_images(self, maps: dict[str, dict[str, str]], gt_keys: dict[str, str], image_order: list[str],
                    job_of: Callable[[str, str], Any], trust: dict[str, str] | None = None) -> list[Unit]:
        """The units still to compute of every method (``maps``: method -> image -> map file, in ``image_order``),
        keyed by both files' content, in ``image_order`` with an image's pairs one after another, so a task reads
        each ground truth once for all of its methods.

        A pair whose map has its stored stat and whose mask has its stored hash is current: it gets no unit (and
        costs no object: a warm run over 1.8 million pairs plans in seconds). A map whose stat changed is hashed;
        same content under a new stat is touched (remembered, not recomputed).

        With ``trust`` (views: method -> the version of its maps now, :func:`samis.evaluation.trust_token`), a
        method whose rows were all checked against that version (:meth:`mark_checked`) and that holds a row of
        every listed image gets no unit, and none of its files is looked at.

        Raises:
            EvaluationError: a map disappeared since it was listed.
        """
        units = []
        for method, present in maps.items():
            cache = self.caches[method]
            if trust and cache.generation == trust[method] and all(cache.lookup(s) is not None for s in present):
                continue
            units += self._plan_method(method, present, gt_keys, job_of)
        if len(maps) == 1:  # one method's maps come in image order already
            return units
        order = {stem: i for i, stem in enumerate(image_order)}
        return sorted(units, key=lambda unit: order[unit.id])

    def _plan_method(self, method: str, present: dict[str, str], gt_keys: dict[str, str],
                     job_of: Callable[[str, str], Any]) -> list[Unit]:
        cache = self.caches[method]
        index, known_stats, pred_hashes, gt_hashes = cache.key_columns()
        listed = bulk_stats(present)  # one folder scan; files it did not see are stat-ed one by one
        stems = list(present)
        # the pairs whose map has its stored stat and whose mask its stored hash, in passes that run in C (a warm
        # run compares 1.8 million pairs); an image without a row points past the rows, at a stat and hash no
        # file has
        rows = list(map(index.get, stems, repeat(len(known_stats))))
        same_stat = map(eq, map(listed.get, stems), map([*known_stats, (-1, -1)].__getitem__, rows))
        same_gt = map(eq, map([*gt_hashes, ""].__getitem__, rows), map(gt_keys.__getitem__, stems))
        current = list(map(and_, same_stat, same_gt))
        units = []
        for stem in compress(stems, map(not_, current)):
            path = present[stem]
            stat, row = listed.get(stem) or _stat_of(path), index.get(stem, -1)
            if row >= 0 and known_stats[row] == stat:
                pred_key = pred_hashes[row]
                if gt_hashes[row] == gt_keys[stem]:
                    continue  # current
            else:
                pred_key = file_hash(path)
                if row >= 0 and pred_key == pred_hashes[row] and gt_hashes[row] == gt_keys[stem]:
                    cache.touch(stem, stat)
                    continue  # same content under a new stat
            self._stats[(method, stem)] = stat  # the row put for it will remember this stat
            units.append(Unit(stem, (pred_key, gt_keys[stem]), job_of(stem, path), group=method))
        return units

    def mark_checked(self, maps: dict[str, dict[str, str]], versions: dict[str, str]) -> None:
        """After a run stored every unit :meth:`plan_images` gave for ``maps``: each method whose every row is of
        a listed map (so every row was checked in this pass) records the version its maps had before they were
        listed (``versions``), written by the next :meth:`flush`."""
        for method, present in maps.items():
            cache = self.caches[method]
            if set(cache.images()) <= present.keys():
                cache.set_generation(versions[method])

    def has(self, unit: Unit) -> bool:
        return self.caches[unit.group].lookup(unit.id) == unit.key

    def put(self, unit: Unit, result: Any) -> None:
        self.caches[unit.group].put(unit.id, self._stats[(unit.group, unit.id)], *unit.key, self.to_row(result))

    def forget(self, units: list[Unit]) -> None:
        """Drop the stored results of these units and save (see :func:`samis.evaluation.on_one_generation`)."""
        for method, cache in self.caches.items():
            cache.drop([unit.id for unit in units if unit.group == method])
        self.flush()

    def flush(self) -> None:
        for cache in self.caches.values():
            cache.save()


def envelope_bytes(key: Any, result: Any) -> bytes:
    """A result (an array or a number) and the content key it was made from, as one ``.npz`` file's bytes."""
    buffer = io.BytesIO()
    np.savez(buffer, key=np.array(json.dumps(key, sort_keys=True)), result=np.asarray(result))
    return buffer.getvalue()


def read_envelope(path: Path) -> tuple[Any, np.ndarray] | None:
    """(content key, result) of a file written with :func:`envelope_bytes`; None when missing; a damaged
    file is moved aside (and None returned)."""
    return _read_npz(path, lambda data: (json.loads(str(data["key"])), data["result"]))


def _envelope_key(path: Path) -> Any:
    stored = read_envelope(path)
    return None if stored is None else stored[0]


class FileStore(UnitStore):
    """The store of one file per image: ``<folder>/<image><suffix>``, written atomically.

    Every file is written when it is put (nothing to flush). By default each file holds the result with its
    content key (:func:`envelope_bytes`), so a new task needs no file format of its own; a task with its own
    format passes both functions.

    Args:
        folder: where the files live.
        suffix: the file name's ending (``.npz``).
        key_of_file: the content key a stored file was made from, or None when it is missing or
            damaged (the function moves damaged files aside).
        to_bytes: (unit, result) -> the file's bytes.
    """

    def __init__(self, folder: Path, suffix: str = ".npz", key_of_file: Callable[[Path], Any] = _envelope_key,
                 to_bytes: Callable[[Unit, Any], bytes] = lambda unit, result: envelope_bytes(unit.key, result)):
        self.folder, self.suffix, self.key_of_file, self.to_bytes = Path(folder), suffix, key_of_file, to_bytes
        if self.folder.is_dir():  # write_bytes_atomic's ".<name>.<random>.tmp": what a SIGKILL can leave
            for path in self.folder.glob(f".*{suffix}.*.tmp"):
                path.unlink(missing_ok=True)

    def path(self, unit: Unit) -> Path:
        return self.folder / f"{unit.id}{self.suffix}"

    def has(self, unit: Unit) -> bool:
        return self.key_of_file(self.path(unit)) == unit.key

    def put(self, unit: Unit, result: Any) -> None:
        write_bytes_atomic(self.path(unit), self.to_bytes(unit, result))


