"""One fixed colour per method, the same in every chart of the dashboard and in every export
(the HTML report, the plots), so it sits below both.

Colours come from a 20-colour qualitative palette chosen so that any two colours differ clearly
(CIEDE2000 difference at least 20, CIELAB lightness between 30 and 80 so every line shows on a white page). Each
method has a preferred slot given by a hash of its name, so a method keeps its colour whatever else
is selected; when two methods of the same set want one slot, the one first in name order keeps it
and the other takes the next free slot. Up to 20 methods therefore always get 20 different colours.
Pass the full set of methods a workspace knows (not only the selection) so a chart of two methods
uses the same colours as a chart of twelve.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from samis.errors import SamisError

# picked greedily (largest smallest CIEDE2000 difference) from an sRGB grid with CIELAB lightness in [30, 80],
# then the closest pair improved by swaps: every pair is at least 21 apart in CIEDE2000 (Sharma et al. 2005;
# tests/test_dashboard_helpers.py), so any 12 or 20 methods in one chart read as different colours (the former
# palette passed a CIE76 test yet showed #4363D8 and #1F77B4, 11.9 apart in CIEDE2000, as "both blue")
PALETTE = (
    "#E6194B", "#4363D8", "#A5D200", "#4B4B0F", "#00D2E1", "#FFA51E", "#FFA5FF", "#878787", "#870078", "#005A5A",
    "#964B0F", "#00964B", "#96B4FF", "#D21EFF", "#4B4B5A", "#96872D", "#FFA596", "#A5C3A5", "#B47896", "#FF4B00",
)


def _slot(method: str) -> int:
    digest = hashlib.blake2b(method.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % len(PALETTE)


def method_colors(methods: Iterable[str]) -> dict[str, str]:
    """Map each method to a hex colour.

    Args:
        methods: every method that may appear in a chart (duplicates are fine).

    Returns:
        method → ``#RRGGBB``; distinct for up to 20 methods, reused cyclically beyond.
    """
    names = sorted(set(methods))
    colors: dict[str, str] = {}
    taken: set[int] = set()
    for name in names:
        slot = _slot(name)
        if len(taken) < len(PALETTE):
            while slot in taken:
                slot = (slot + 1) % len(PALETTE)
        taken.add(slot)
        colors[name] = PALETTE[slot]
    return colors


def workspace_methods(workspace) -> set[str]:
    """Every method a workspace and the paper know: each registered dataset's prediction folders and the
    methods of the paper's Table 7. A dataset or table that cannot be read adds nothing (its own page
    says why).

    Args:
        workspace: a :class:`samis.workspace.Workspace`.
    """
    # lazy: the paper's tables read CSV files; this module is imported by every chart
    from samis.paper import load_speed_table

    every: set[str] = set()
    try:
        datasets = workspace.registered_datasets()
    except SamisError:
        datasets = []
    for dataset in datasets:
        try:
            every.update(workspace.prediction_methods(dataset))
        except SamisError:
            pass
    try:
        every.update(row.method for row in load_speed_table())
    except SamisError:
        pass
    return every


def workspace_colors(workspace, also: Iterable[str] = ()) -> dict[str, str]:
    """:func:`method_colors` of :func:`workspace_methods` (plus ``also``): the colours the dashboard and
    every export of this workspace use, whatever a view selects."""
    return method_colors(workspace_methods(workspace) | set(also))
