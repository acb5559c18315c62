"""Stored per-image results, keyed by content: the stores the runner (:mod:`samis.runner`) plans and fills.

- Content keys: a file's key is a hash of its bytes; a file whose (size, mtime) is unchanged keeps
  its known hash unread, as git's index does (:func:`content_keys`, :func:`ground_truth_keys`).
- ``.npz`` files: :func:`load_npz` reads a cache file and checks its layout; a file that cannot be
  read or holds something else is moved aside (:func:`samis.recovery.move_aside`) and recomputed.
- :class:`RowCache`: one method's per-image rows in one ``.npz`` (image ids, the map's file stat and
  hash, the ground truth's hash, value arrays).
- :class:`PairStore`: the :class:`samis.runner.UnitStore` of (method, image) pairs over one
  :class:`RowCache` per method (evaluation, image-level evaluation).
- :class:`FileStore`: the :class:`samis.runner.UnitStore` of one file per image (SAM's mask cache).

Stores answer through three calls (``has``, ``put``, ``flush``), so a columnar store can take their
place without touching any task.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from samis.errors import EvaluationError
from samis.file_stats import bulk_stats
from samis.imageio import write_bytes_atomic
from samis.recovery import move_aside
from samis.runner import Unit

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
    """Raise :class:`DamagedCache` unless every array of ``layout`` (name -> (dtype kinds, shape with
    ``"n"`` for the row count)) is there with the right kind and shape."""
    rows = None
    for name, (kinds, shape) in layout.items():
        if name not in data:
            raise DamagedCache(f"no '{name}' array")
        array = data[name]
        if array.dtype.kind not in kinds or array.ndim != len(shape):
            raise DamagedCache(f"'{name}' is {array.dtype} {array.shape}")
        rows = array.shape[0] if rows is None else rows
        expected = tuple(rows if size == "n" else size for size in shape)
        if array.shape != expected:
            raise DamagedCache(f"'{name}' has shape {array.shape}, expected {expected}")
    if "stems" in layout and len(set(data["stems"].tolist())) != rows:
        raise DamagedCache("an image id occurs twice")


def load_npz(path: Path, layout: dict, version: int) -> dict | None:
    """A cache file's arrays, or None when it must be computed (again).

    A missing file or one of another cache version is simply recomputed; a file that cannot be read
    or does not match ``layout`` is moved aside (see :func:`samis.recovery.move_aside`) first, so it
    never blocks a command and nothing is lost.

    Raises:
        PermissionError: the file cannot be read (not damage: the caller names it).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if "version" not in data.files:
                raise DamagedCache("no version")
            if int(data["version"]) != version:
                return None
            arrays = {k: data[k] for k in data.files}
        check_layout(arrays, layout)
        return arrays
    except FileNotFoundError:
        return None
    except PermissionError:
        raise
    except (DamagedCache, OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as error:
        move_aside(path, str(error) if isinstance(error, DamagedCache) else error.__class__.__name__,
                   then="computed again")
        return None


def save_npz(path: Path, version: int, **arrays) -> None:
    """Write arrays (and ``version``) as one ``.npz``, atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, version=np.array(version), **arrays)
    write_bytes_atomic(path, buffer.getvalue())


def ground_truth_keys(results_dir: Path, paths: dict[str, Path]) -> tuple[dict[str, str], Callable[[], None]]:
    """Content hash of each ground-truth file, and a function that saves the updated index (call it on success).

    The index (``results/<dataset>/_ground_truth_index.npz``) remembers each mask's stat and hash, so an
    unchanged mask is not read again.
    """
    index_path = Path(results_dir) / _GT_INDEX
    data = load_npz(index_path, _GT_INDEX_LAYOUT, _GT_INDEX_VERSION)
    known = {}
    if data is not None:
        for i, stem in enumerate(data["stems"].tolist()):
            known[stem] = ((int(data["stat"][i, 0]), int(data["stat"][i, 1])), str(data["hash"][i]))
    keys, stats = content_keys(paths, known)

    def save() -> None:
        if any(known.get(stem) != (stats[stem], keys[stem]) for stem in keys):
            merged = {**known, **{stem: (stats[stem], keys[stem]) for stem in keys}}
            stems = sorted(merged)
            save_npz(index_path, _GT_INDEX_VERSION, stems=np.array(stems, dtype=str),
                     stat=np.array([merged[s][0] for s in stems], dtype=np.int64).reshape(-1, 2),
                     hash=np.array([merged[s][1] for s in stems], dtype=str))

    return keys, save


# ---- one method's rows -----------------------------------------------------------------------------
class RowCache:
    """One method's cached per-image rows: image id, the map's stat and hash, the ground truth's hash, values.

    Args:
        path: the ``.npz`` file.
        values: value arrays: name -> (dtype kinds, shape of one row).
        version: the cache version (files of another version are recomputed).
        labels: constant arrays saved beside the rows (the names of the values' columns).
    """

    def __init__(self, path: Path, values: dict[str, tuple[str, tuple]], version: int,
                 labels: dict[str, np.ndarray] | None = None):
        self.path, self.values, self.version, self.labels = Path(path), values, version, labels or {}
        layout = {**KEY_LAYOUT, **{name: (kinds, ("n", *shape)) for name, (kinds, shape) in values.items()}}
        data = load_npz(self.path, layout, version)
        if data is None:
            data = {name: np.empty((0, *shape[1:]), np.int64 if "i" in kinds else float if "f" in kinds else str)
                    for name, (kinds, shape) in layout.items()}
        self.stems: list[str] = data["stems"].tolist()
        self.index = {stem: i for i, stem in enumerate(self.stems)}
        self.pred_stat = data["pred_stat"].astype(np.int64).reshape(-1, 2)
        self.pred_hash: list[str] = data["pred_hash"].tolist()
        self.gt_hash: list[str] = data["gt_hash"].tolist()
        self.arrays = {name: data[name] for name in values}
        self.dirty = False
        self._new: dict[str, tuple] = {}

    def known(self) -> dict[str, tuple[tuple[int, int], str]]:
        """``{image: ((size, mtime), map hash)}`` of the rows, for :func:`content_keys`."""
        stats = self.pred_stat.tolist()
        return {stem: ((stats[i][0], stats[i][1]), self.pred_hash[i]) for i, stem in enumerate(self.stems)}

    def lookup(self, stem: str) -> tuple[str, str] | None:
        """(map hash, ground-truth hash) the row of ``stem`` was computed from, or None."""
        i = self.index.get(stem)
        return None if i is None else (self.pred_hash[i], self.gt_hash[i])

    def touch(self, stem: str, stat: tuple[int, int]) -> None:
        """Same content under a new file stat: remember the stat so the file is not hashed again."""
        self.pred_stat[self.index[stem]] = stat
        self.dirty = True

    def put(self, stem: str, stat, pred_hash: str, gt_hash: str, values: dict[str, np.ndarray]) -> None:
        self._new[stem] = (stat, pred_hash, gt_hash, values)
        self.dirty = True

    def _merge(self) -> None:
        if not self._new:
            return
        keep = [i for i, stem in enumerate(self.stems) if stem not in self._new]
        new_stems = list(self._new)
        rows = [self._new[s] for s in new_stems]
        stems = [self.stems[i] for i in keep] + new_stems
        # rows sorted by image id: the file is the same whichever engine computed it, in whatever order
        # results came back and whenever a flush fell
        order = sorted(range(len(stems)), key=stems.__getitem__)
        self.stems = [stems[i] for i in order]
        self.index = {stem: i for i, stem in enumerate(self.stems)}
        self.pred_stat = np.concatenate([self.pred_stat[keep],
                                         np.array([r[0] for r in rows], np.int64).reshape(-1, 2)])[order]
        self.pred_hash = [([self.pred_hash[i] for i in keep] + [r[1] for r in rows])[i] for i in order]
        self.gt_hash = [([self.gt_hash[i] for i in keep] + [r[2] for r in rows])[i] for i in order]
        for name, (_, shape) in self.values.items():
            new = np.array([r[3][name] for r in rows], dtype=float).reshape(-1, *shape)
            self.arrays[name] = np.concatenate([self.arrays[name].reshape(-1, *shape)[keep].astype(float), new])[order]
        self._new = {}

    def drop(self, stems: list[str]) -> None:
        """Forget the rows of these images (their results came from files that changed while they were read)."""
        self._merge()
        gone = set(stems) & set(self.index)
        if not gone:
            return
        keep = [i for i, stem in enumerate(self.stems) if stem not in gone]
        self.stems = [self.stems[i] for i in keep]
        self.index = {stem: i for i, stem in enumerate(self.stems)}
        self.pred_stat = self.pred_stat[keep]
        self.pred_hash = [self.pred_hash[i] for i in keep]
        self.gt_hash = [self.gt_hash[i] for i in keep]
        self.arrays = {name: array[keep] for name, array in self.arrays.items()}
        self.dirty = True

    def rows_for(self, stems: list[str]) -> dict[str, np.ndarray]:
        """Each value array's rows for these images, in this order."""
        self._merge()
        rows = [self.index[s] for s in stems]
        return {name: array[rows] for name, array in self.arrays.items()}

    def save(self) -> None:
        """Write the file atomically (only when something changed)."""
        if not self.dirty:
            return
        self._merge()
        save_npz(self.path, self.version, stems=np.array(self.stems, dtype=str), pred_stat=self.pred_stat,
                 pred_hash=np.array(self.pred_hash, dtype=str), gt_hash=np.array(self.gt_hash, dtype=str),
                 **self.arrays, **self.labels)
        self.dirty = False


class PairStore:
    """The store of (method, image) results: one :class:`RowCache` per method (units' group = method).

    Args:
        caches: the row cache of each method.
        to_row: a unit's result -> ``{value name: array}`` of its row.
    """

    def __init__(self, caches: dict[str, RowCache], to_row: Callable[[Any], dict[str, np.ndarray]]):
        self.caches, self.to_row = caches, to_row
        self._stats: dict[tuple[str, str], tuple[int, int]] = {}

    def plan(self, method: str, present: dict[str, Path], gt_keys: dict[str, str],
             job_of: Callable[[str, Path], Any]) -> list[Unit]:
        """The units of one method's images (``present``: image -> map file), keyed by both files' content.

        A cached row whose map kept its content under a new stat is touched (not recomputed).
        """
        cache = self.caches[method]
        known = cache.known()
        pred_keys, pred_stats = content_keys(present, known)
        units = []
        for stem, path in present.items():
            unit = Unit(stem, (pred_keys[stem], gt_keys[stem]), job_of(stem, path), group=method)
            self._stats[(method, stem)] = pred_stats[stem]
            if cache.lookup(stem) == unit.key and known[stem][0] != pred_stats[stem]:
                cache.touch(stem, pred_stats[stem])
            units.append(unit)
        return units

    def plan_images(self, maps: dict[str, dict[str, Path]], gt_keys: dict[str, str], image_order: list[str],
                    job_of: Callable[[str, Path], Any]) -> list[Unit]:
        """The units of every method (``maps``: method -> image -> map file), in ``image_order`` with an image's
        pairs one after another, so a task reads each ground truth once for all of its methods."""
        units = [unit for method, present in maps.items() for unit in self.plan(method, present, gt_keys, job_of)]
        order = {stem: i for i, stem in enumerate(image_order)}
        return sorted(units, key=lambda unit: order[unit.id])

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
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["key"])), data["result"]
    except FileNotFoundError:
        return None
    except PermissionError:
        raise
    except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as error:
        move_aside(path, error.__class__.__name__, then="computed again")
        return None


def _envelope_key(path: Path) -> Any:
    stored = read_envelope(path)
    return None if stored is None else stored[0]


class FileStore:
    """The store of one file per image: ``<folder>/<image><suffix>``, written atomically.

    By default each file holds the result with its content key (:func:`envelope_bytes`), so a new task
    needs no file format of its own; a task with its own format passes both functions.

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

    def flush(self) -> None:
        """Nothing to do: every file is written when it is put."""


class RaggedRowCache:
    """One method's cached per-image rows whose values have a varying first dimension (one entry per region).

    The same keys and interface as :class:`RowCache` (``known``, ``lookup``, ``touch``, ``put``, ``drop``,
    ``rows_for``, ``save``), so a :class:`PairStore` runs over it unchanged. On disk (and in memory) each value
    ``name`` is one array of every row's entries stacked (``name``) and each row's number of entries
    (``name_count``); rows are sliced out of it, never copied one by one.

    Args:
        path: the ``.npz`` file.
        values: name -> (dtype kinds, shape of one entry); a row holds any number of entries.
        version: the cache version (files of another version are recomputed).
        labels: constant arrays saved beside the rows.
    """

    def __init__(self, path: Path, values: dict[str, tuple[str, tuple]], version: int,
                 labels: dict[str, np.ndarray] | None = None):
        self.path, self.values, self.version, self.labels = Path(path), values, version, labels or {}
        layout = {**KEY_LAYOUT, **{f"{name}_count": ("iu", ("n",)) for name in values}}
        data = load_npz(self.path, layout, version)
        if data is not None:
            try:
                self._check(data)
            except DamagedCache as error:
                move_aside(self.path, str(error), then="computed again")
                data = None
        if data is None:
            data = {**{name: np.empty((0,) * len(shape)) for name, (_, shape) in KEY_LAYOUT.items()},
                    "pred_stat": np.empty((0, 2), np.int64),
                    **{name: np.empty((0, *shape), np.int64) for name, (_, shape) in values.items()},
                    **{f"{name}_count": np.empty(0, np.int64) for name in values}}
        self.stems: list[str] = data["stems"].tolist()
        self.index = {stem: i for i, stem in enumerate(self.stems)}
        self.pred_stat = data["pred_stat"].astype(np.int64).reshape(-1, 2)
        self.pred_hash: list[str] = data["pred_hash"].tolist()
        self.gt_hash: list[str] = data["gt_hash"].tolist()
        self.arrays = {name: data[name] for name in values}
        self.starts = {name: np.concatenate([[0], np.cumsum(data[f"{name}_count"])]).astype(np.int64) for name in values}
        self.dirty = False
        self._new: dict[str, tuple] = {}

    def _check(self, data: dict) -> None:
        for name, (kinds, shape) in self.values.items():
            array, counts = data.get(name), data[f"{name}_count"]
            if array is None or array.dtype.kind not in kinds or array.shape[1:] != tuple(shape):
                raise DamagedCache(f"'{name}' is missing or has the wrong layout")
            if (counts < 0).any() or int(counts.sum()) != array.shape[0]:
                raise DamagedCache(f"'{name}_count' does not add up to the rows of '{name}'")

    def known(self) -> dict[str, tuple[tuple[int, int], str]]:
        """``{image: ((size, mtime), map hash)}`` of the rows, for :func:`content_keys`."""
        self._merge()
        stats = self.pred_stat.tolist()
        return {stem: ((stats[i][0], stats[i][1]), self.pred_hash[i]) for i, stem in enumerate(self.stems)}

    def lookup(self, stem: str) -> tuple[str, str] | None:
        if stem in self._new:
            return self._new[stem][1], self._new[stem][2]
        i = self.index.get(stem)
        return None if i is None else (self.pred_hash[i], self.gt_hash[i])

    def touch(self, stem: str, stat: tuple[int, int]) -> None:
        """Same content under a new file stat: remember the stat so the file is not hashed again."""
        self._merge()
        self.pred_stat[self.index[stem]] = stat
        self.dirty = True

    def put(self, stem: str, stat, pred_hash: str, gt_hash: str, values: dict[str, np.ndarray]) -> None:
        entries = {name: np.asarray(values[name]).reshape(-1, *shape) for name, (_, shape) in self.values.items()}
        self._new[stem] = (tuple(stat), pred_hash, gt_hash, entries)
        self.dirty = True

    def _keep_rows(self, keep: list[int], extra: list[tuple[str, tuple]]) -> None:
        """Keep rows ``keep`` (indexes) and append ``extra`` (stem, row) rows."""
        for name in self.values:
            starts = self.starts[name]
            counts = np.diff(starts)[keep] if keep else np.zeros(0, np.int64)
            entries = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in keep]) if keep else np.zeros(0, np.int64)
            parts = [self.arrays[name][entries.astype(np.int64)], *(row[3][name] for _, row in extra)]
            self.arrays[name] = np.concatenate(parts).astype(np.int64)
            counts = np.concatenate([counts, [len(row[3][name]) for _, row in extra]]).astype(np.int64)
            self.starts[name] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.stems = [self.stems[i] for i in keep] + [stem for stem, _ in extra]
        self.index = {stem: i for i, stem in enumerate(self.stems)}
        self.pred_stat = np.concatenate([self.pred_stat[keep],
                                         np.array([row[0] for _, row in extra], np.int64).reshape(-1, 2)])
        self.pred_hash = [self.pred_hash[i] for i in keep] + [row[1] for _, row in extra]
        self.gt_hash = [self.gt_hash[i] for i in keep] + [row[2] for _, row in extra]

    def _merge(self) -> None:
        if self._new:
            new, self._new = self._new, {}
            self._keep_rows([i for i, stem in enumerate(self.stems) if stem not in new], list(new.items()))
            # rows sorted by image id, as RowCache keeps them: the same file from every engine
            order = sorted(range(len(self.stems)), key=self.stems.__getitem__)
            if order != list(range(len(self.stems))):
                self._keep_rows(order, [])

    def drop(self, stems: list[str]) -> None:
        """Forget the rows of these images (their results came from files that changed while they were read)."""
        self._merge()
        gone = set(stems) & set(self.index)
        if gone:
            self._keep_rows([i for i, stem in enumerate(self.stems) if stem not in gone], [])
            self.dirty = True

    def rows_for(self, stems: list[str]) -> dict[str, list[np.ndarray]]:
        """Each value's entries for these images, in this order (one array per image, views of the stack)."""
        self._merge()
        rows = [self.index[s] for s in stems]
        out = {}
        for name in self.values:
            array, starts = self.arrays[name], self.starts[name].tolist()
            out[name] = [array[starts[i]:starts[i + 1]] for i in rows]
        return out

    def save(self) -> None:
        """Write the file atomically (only when something changed)."""
        if not self.dirty:
            return
        self._merge()
        counts = {f"{name}_count": np.diff(self.starts[name]) for name in self.values}
        save_npz(self.path, self.version, stems=np.array(self.stems, dtype=str), pred_stat=self.pred_stat,
                 pred_hash=np.array(self.pred_hash, dtype=str), gt_hash=np.array(self.gt_hash, dtype=str),
                 **self.arrays, **counts, **self.labels)
        self.dirty = False
