"""Small helpers shared by the CLI command modules (output formats, comma lists)."""

from __future__ import annotations

import json
import sys

import numpy as np


def comma_list(text: str | None) -> list[str] | None:
    """``"a,b , c"`` → ``["a", "b", "c"]``; None or empty → None."""
    if not text:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def print_json(document) -> None:
    """Print a document as JSON (NaN becomes null, numpy scalars plain numbers)."""
    sys.stdout.write(json.dumps(_jsonable(document), indent=1) + "\n")
