"""Row caches write the same file whatever order results came back in and whenever a flush fell (Ray returns
units as workers finish them; the runner flushes every 30 s)."""

from __future__ import annotations

import numpy as np

from samis.result_cache import RaggedRowCache, RowCache

VALUES = {"v": ("f", (2,))}


def _rows(ragged: bool, n: int = 7) -> dict[str, tuple]:
    """Rows of a fixed-size value, or (ragged) of i entries of 3 counts each (per-region histograms)."""
    def value(i):
        return np.arange(3 * i, dtype=np.int64).reshape(i, 3) if ragged else np.array([i, i / 7])
    return {f"im_{i}": ((100 + i, 5 * i), f"p{i}", f"g{i}", {"v": value(i)}) for i in range(n)}


def _write(path, order, flush_after: int | None, cls=RowCache, values=VALUES):
    cache = cls(path, values, 1)
    rows = _rows(cls is RaggedRowCache)
    for count, stem in enumerate(order, 1):
        stat, pred, gt, value = rows[stem]
        cache.put(stem, stat, pred, gt, value)
        if flush_after == count:
            cache.save()
            cache = cls(path, values, 1)
    cache.save()
    return path.read_bytes()


def test_row_caches_write_the_same_bytes_in_any_order_and_with_any_flush(tmp_path):
    stems = list(_rows(False))
    orders = [stems, stems[::-1], stems[3:] + stems[:3]]
    for cls, values in ((RowCache, VALUES), (RaggedRowCache, {"v": ("iu", (3,))})):
        files = {_write(tmp_path / f"{cls.__name__}{i}-{flush}.npz", order, flush, cls, values)
                 for i, order in enumerate(orders) for flush in (None, 2, 5)}
        assert len(files) == 1, cls.__name__
        cache = cls(tmp_path / f"{cls.__name__}0-None.npz", values, 1)
        assert cache.stems == sorted(stems) and cache.lookup("im_3") == ("p3", "g3")
