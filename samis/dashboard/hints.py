"""What a page tells a reader to do when something is missing, for a server that runs things and one that does not.

A read-only server hides the Run page and the "Add a dataset" help (see :mod:`samis.dashboard.access`),
so a hint must never send its reader there: it says who can add things (the server's operator, from
the command line) and what the reader can look at meanwhile.
"""

from __future__ import annotations

from samis.dashboard.ui import literal

_OPERATOR = "This server is read-only: its operator adds datasets and predictions from the command line"


def no_dataset(read_only: bool) -> str:
    """The workspace has no registered dataset."""
    if read_only:
        return (f"No dataset is registered in this workspace yet. {_OPERATOR} (`python -m samis datasets add ID "
                "FOLDER`). Meanwhile the paper's published tables are on this page, under **The paper's tables**.")
    return "No dataset is registered yet — see **Add a dataset or predictions** below."


def no_dataset_here(read_only: bool) -> str:
    """The workspace has no registered dataset, said on a page other than Overview."""
    if read_only:
        return f"This workspace has no dataset yet. {_OPERATOR}; **Overview** shows the paper's published tables meanwhile."
    return "This workspace has no dataset yet. Open **Overview** to see how to add one."


def no_predictions(read_only: bool, dataset_id: str | None = None) -> str:
    """A dataset (or the whole workspace, when ``dataset_id`` is None) has no stored predictions."""
    where = f"Dataset {literal(dataset_id)} has" if dataset_id else "This workspace has"
    target = dataset_id or "DATASET"
    command = f"`python -m samis predictions import {target} METHOD FOLDER`"
    if read_only:
        return (f"{where} no predictions yet. {_OPERATOR} ({command}, or `python -m samis sam` / `baseline`). "
                "Meanwhile **Overview** shows the paper's published tables.")
    return f"{where} no predictions yet: compute some on the **Run** page, or import a folder of maps with {command}."


def no_masks(read_only: bool, dataset_id: str, command: str) -> str:
    """A dataset has no cached SAM masks; ``command`` is the CLI command that computes them (shown as text)."""
    how = f"with {literal(command)} ({literal('--model tiny')} is the test-size model with random weights)"
    if read_only:
        return (f"Dataset {literal(dataset_id)} has no cached SAM masks. {_OPERATOR}: SAM's masks are computed {how}.")
    return f"Dataset {literal(dataset_id)} has no cached SAM masks. Compute them on the **Run** page or {how}."
