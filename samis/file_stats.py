"""File stats in bulk: one ``os.scandir`` pass per folder instead of one ``stat`` call (and one path object)
per file, for the warm paths that check whether thousands of files changed (see
:func:`samis.result_cache.content_keys`)."""

from __future__ import annotations

import os
from pathlib import Path


def _folder_stats(folder: str) -> dict[str, tuple[int, int]]:
    """``{file name: (size, mtime_ns)}`` of the regular files (links followed) in one folder; {} if it is gone."""
    stats = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    stat = entry.stat()
                except OSError:  # removed since the listing, or a dangling link: the caller stats it itself
                    continue
                stats[entry.name] = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        return {}
    return stats


class StatPaths(dict):
    """``{key: path string}`` that also carries ``stats``, ``{key: (size, mtime_ns)}`` taken in the folder scan that
    listed the paths (:func:`listed_with_stats`), so :func:`bulk_stats` need not scan the folder again. A file
    whose stat failed in that scan has no entry in ``stats``."""

    stats: dict[str, tuple[int, int]]

    def subset(self, keys) -> "StatPaths":
        """These keys (those present), in this order, with the same stats."""
        picked = StatPaths((key, self[key]) for key in keys if key in self)
        picked.stats = self.stats
        return picked


def listed_with_stats(folder: str, suffix: str) -> StatPaths:
    """The files of ``folder`` named ``<key><suffix>`` (hidden ones left out), with their stats, in one
    ``os.scandir`` pass; empty when the folder is gone."""
    found, stats = StatPaths(), {}
    cut = -len(suffix)
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if not name.endswith(suffix) or name.startswith("."):
                    continue
                found[name[:cut]] = entry.path
                try:
                    stat = entry.stat()
                except OSError:  # removed since the listing, or a dangling link: the caller stats it itself
                    continue
                stats[name[:cut]] = (stat.st_size, stat.st_mtime_ns)
    except (FileNotFoundError, NotADirectoryError):
        pass
    found.stats = stats
    return found


def bulk_stats(paths: dict[str, Path]) -> dict[str, tuple[int, int]]:
    """``{key: (size, mtime_ns)}`` of the files in ``paths`` that were found, one folder scan per folder.

    Keys whose file is not in its folder's listing are left out (the caller stats them one by one, and a
    missing file is named there). Worth it for many files per folder: a folder with one wanted file is
    still scanned whole, so callers pass the files of whole folders (maps of a method, masks of a dataset).
    :class:`StatPaths` bring the stats of the scan that listed them (a superset of the keys: look keys up).
    """
    if isinstance(paths, StatPaths):
        return paths.stats
    by_folder: dict[str, list[tuple[str, str]]] = {}
    for key, path in paths.items():
        folder, _, name = os.fspath(path).rpartition(os.sep)  # a path string's folder, as os.path.split gives it
        by_folder.setdefault(folder or (os.sep if os.fspath(path).startswith(os.sep) else ""), []).append((key, name))
    found = {}
    for folder, items in by_folder.items():
        stats = _folder_stats(folder or ".")
        for key, name in items:
            if name in stats:
                found[key] = stats[name]
    return found
