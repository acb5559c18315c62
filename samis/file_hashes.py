"""File hashes that survive between runs: an MD5 per file, remembered by path, size and modification time.

Shared by :mod:`samis.checkpoint_download` (no torch) and :mod:`samis.sam.checkpoints` (torch), so it
sits below both.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from samis.imageio import write_text_atomic


def file_md5(path: str | os.PathLike, hash_cache: Path | None = None) -> str:
    """MD5 of a file, remembered in ``hash_cache`` (JSON) by path, size and modification time.

    Hashing 2.5 GB takes a while, so a file whose path, size and modification time are unchanged
    is not hashed again.
    """
    path = Path(path).resolve()
    key = _cache_key(path)
    known = _read_json(hash_cache) if hash_cache is not None else {}
    if key in known:
        return known[key]
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    value = digest.hexdigest()
    if hash_cache is not None:
        remember_md5(path, value, hash_cache)
    return value


def md5_cache_file(workspace) -> Path:
    """The workspace file where checkpoint MD5s are remembered (by path, size and mtime), for runs and downloads."""
    return workspace.root / "cache" / "sam" / "checkpoint_md5.json"


def remember_md5(path: Path, md5: str, hash_cache: Path) -> None:
    """Put a file's MD5 into ``hash_cache`` (so a later run does not hash it again)."""
    known = _read_json(hash_cache)
    known[_cache_key(Path(path).resolve())] = md5
    write_text_atomic(hash_cache, json.dumps(known, indent=1))


def _cache_key(path: Path) -> str:
    stat = path.stat()
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


def _read_json(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return {}  # a damaged record only costs a re-check
    return value if isinstance(value, dict) else {}
