"""Allowed roots: paths typed in the web page must lie inside them.

A shared dashboard must not become a way to read any file of the server. Every path a visitor can
type (a workspace, a checkpoint, a folder of predictions to import) is resolved (``~`` expanded,
symlinks followed, ``..`` removed) and accepted only when it lies inside one of the allowed roots:

- the default workspace (``$SAMIS_WORKSPACE``, else ``./data``), always;
- the folders the operator lists in ``$SAMIS_ALLOWED_ROOTS`` (separated by ``os.pathsep``, ``:`` on
  Linux), and in ``.streamlit/secrets.toml`` as ``[samis] allowed_roots = ["/srv/data", …]``.

Registered datasets are not typed by visitors (the operator registers them with the CLI), so their
folders are read wherever they are.
"""

from __future__ import annotations

import os
from pathlib import Path

from samis.errors import WorkspaceError
from samis.workspace import Workspace, shown_path

ROOTS_VARIABLE = "SAMIS_ALLOWED_ROOTS"


class PathNotAllowedError(WorkspaceError):
    """A typed path lies outside every allowed root."""


def _resolved(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def allowed_roots(extra: list[str] | tuple[str, ...] | None = None, environ: dict | None = None) -> list[Path]:
    """The allowed roots, default workspace first, without duplicates.

    Args:
        extra: more roots (e.g. read from Streamlit secrets by the caller).
        environ: environment to read (default ``os.environ``).

    Returns:
        resolved folders.
    """
    environ = os.environ if environ is None else environ
    roots = [Workspace.resolve(environ.get("SAMIS_WORKSPACE") or None).root]
    listed = [p for p in environ.get(ROOTS_VARIABLE, "").split(os.pathsep) if p.strip()]
    for text in [*listed, *(extra or [])]:
        roots.append(_resolved(text.strip()))
    unique: list[Path] = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def is_inside(path: Path, root: Path) -> bool:
    """True when ``path`` is ``root`` or lies below it (both already resolved)."""
    return path == root or root in path.parents


def check_allowed(text: str | os.PathLike, roots: list[Path], what: str = "path") -> Path:
    """Resolve a typed path and refuse it unless it lies inside an allowed root.

    Args:
        text: the path as typed.
        roots: from :func:`allowed_roots`.
        what: what the path is for, used in the message ("checkpoint", "workspace", …).

    Returns:
        the resolved path (it may not exist yet).

    Raises:
        PathNotAllowedError: empty, or outside every root (the message lists the roots and how to add one).
    """
    if text is None or not str(text).strip():
        raise PathNotAllowedError(f"{what}: no path given")
    try:
        path = _resolved(str(text).strip())
    except (ValueError, OSError) as error:  # a NUL character, a name too long for the system …
        raise PathNotAllowedError(f"{what} {shown_path(text)} is not a usable path ({error})") from None
    if any(is_inside(path, root) for root in roots):
        return path
    listed = ", ".join(str(r) for r in roots)
    raise PathNotAllowedError(
        f"{what} {shown_path(path, quote=False)} is outside the allowed folders ({listed}); the operator can add a folder to "
        f"${ROOTS_VARIABLE} or to [samis] allowed_roots in .streamlit/secrets.toml"
    )
