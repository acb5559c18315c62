"""Writing a file a person named (``-o FILE``): one rule for what may be at that path.

- nothing, or a regular file: written atomically (a temp file in the same folder, then
  ``os.replace``), so a reader sees the old file or the whole new one;
- a symbolic link: followed (through chains); its target is written by this same rule and the
  link is kept, as a shell's ``>`` does;
- a character device (``/dev/null``, a terminal, ``/dev/full``) or a FIFO: written directly, in
  place; it is never renamed over, since replacing a device node with a regular file breaks the
  system for everyone (as root, ``os.replace`` would do exactly that);
- anything else (a folder, a socket, a block device, a link that loops) is refused with
  :class:`OutputError`, before anything is written.

A failure while writing to a device or FIFO (``ENOSPC`` on ``/dev/full``, ``EIO``, a reader that
went away) raises :class:`OutputWriteError`: the path was fine, the medium failed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from samis.errors import SamisError
from samis.imageio import naming, write_bytes_atomic


class OutputError(SamisError):
    """The path named for the output cannot hold a file (a folder, a socket, a block device …)."""


class OutputWriteError(OSError):
    """Writing the output failed on the device or FIFO it names (the CLI exits with code 1, not 2)."""


def _kind(mode: int) -> str | None:
    """What a non-writable file type is called in the refusal; None for the types the rule writes."""
    if stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return None
    names = ((stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISLNK, "a symbolic link that loops"))
    return next((name for test, name in names if test(mode)), "not a regular file")


def output_target(path: str | os.PathLike) -> tuple[Path, str]:
    """Where ``path`` leads and how it is written: ``(target, "atomic" | "direct")``.

    Raises:
        OutputError: the path (or the end of its links) is a folder, socket, block device or a loop.
    """
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return target, "atomic"
    except OSError as error:
        raise naming(error, path) from None
    kind = _kind(mode)
    if kind is not None:
        shown = str(path) if target == path else f"{path} (-> {target})"
        raise OutputError(f"{shown} is {kind}; give the path of a file to write")
    return target, "atomic" if stat.S_ISREG(mode) else "direct"


def _write_direct(target: Path, data: bytes, shown: str) -> None:
    """Write to a character device or FIFO in place: no O_CREAT (a race never makes a regular file)."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NOCTTY)
    except OSError as error:
        raise naming(error, shown) from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as error:  # a FIFO whose reader left is a failed write too (EPIPE), not a quiet stdout
        raise OutputWriteError(error.errno, error.strerror or str(error), shown) from None
    finally:
        os.close(fd)


def write_output(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8) to a path a person named, by the rule in this module's docstring.

    Raises:
        OutputError: nothing can be written at the path (folder, socket, block device, link loop).
        OutputWriteError: the device or FIFO failed while being written (e.g. no space left).
        OSError: the folder cannot be made or written (read-only, full …); it names ``path``.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    target, how = output_target(path)
    if how == "direct":
        _write_direct(target, data, str(path))
    else:
        write_bytes_atomic(target, data)
