"""One fixed colour per method, the same in every chart of the dashboard.

Colours come from a 24-colour qualitative palette. Each method has a preferred slot given by a hash
of its name, so a method keeps its colour whatever else is selected; when two methods of the same
set want one slot, the one first in name order keeps it and the other takes the next free slot.
Pass the full set of methods a workspace knows (not only the selection) so a chart of two methods
uses the same colours as a chart of twelve.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

# plotly's Dark24, written out so the colours do not depend on the plotly version
PALETTE = (
    "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A", "#B68100", "#750D86",
    "#EB663B", "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE",
    "#862A16", "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516", "#0D2A63", "#AF0038",
)


def _slot(method: str) -> int:
    digest = hashlib.blake2b(method.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % len(PALETTE)


def method_colors(methods: Iterable[str]) -> dict[str, str]:
    """Map each method to a hex colour.

    Args:
        methods: every method that may appear in a chart (duplicates are fine).

    Returns:
        method → ``#RRGGBB``; distinct for up to 24 methods, reused cyclically beyond.
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
