"""Selection records: per image, what a SAM method chose from the mask cache, beside its map.

A record lives at ``predictions/<dataset>/<method>/records/<stem>.json`` and is written atomically
right after the image's map, by :func:`samis.sam.select_run.select_over_dataset` (strategies) and
:func:`samis.sam.prompts.run_prompted_over_dataset` (box / point prompts). It says:

- ``chosen``: indices into the image's mask cache (``cache/sam/<model>/<dataset>/<stem>.npz``, the
  generator's order) that the map unites;
- ``negated``: the subset of ``chosen`` used as complements (the oracle and best-single may take
  "everything but this mask");
- ``whole_image``: the map is the whole image (the oracle found nothing closer to the ground truth);
- ``score``: what decided the choice: its name, value and whether it looks at the ground truth
  (the oracle's IoU with the ground truth, contrast's Otsu cut …);
- ``per_mask``: a per-mask value behind the choice where there is one (contrast scores, fraction
  inside the ground truth);
- for prompts (whose masks come from SAM prompted again, not from the cache): ``prompts`` (boxes,
  points) and ``chosen`` empty.

Maps written before samis kept records have none: :func:`read_selection_record` returns None and the
caller says so. Nothing here imports torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from samis.errors import SamError
from samis.imageio import write_text_atomic
from samis.workspace import Workspace

RECORD_FORMAT = 1
RECORDS_FOLDER = "records"


@dataclass
class SelectionRecord:
    """What one method chose for one image (see the module docstring for the fields)."""

    method: str
    image: str
    how: str  # the strategy or prompt kind
    kind: str  # "selection" (from the mask cache) or "prompt" (SAM prompted again)
    chosen: list[int] = field(default_factory=list)
    negated: list[int] = field(default_factory=list)
    whole_image: bool = False
    score_name: str = ""
    score: float | None = None
    uses_ground_truth: bool = False
    n_masks: int | None = None
    per_mask: dict[str, float] = field(default_factory=dict)  # str(mask index) -> value
    per_mask_name: str = ""
    parameters: dict = field(default_factory=dict)
    prompts: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"format": RECORD_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, document: dict) -> "SelectionRecord":
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in document.items() if k in names})


def record_path(workspace: Workspace, dataset_id: str, method: str, stem: str) -> Path:
    return workspace.method_dir(dataset_id, method) / RECORDS_FOLDER / f"{stem}.json"


def write_selection_record(workspace: Workspace, dataset_id: str, record: SelectionRecord) -> Path:
    """Write one image's record atomically; returns its path."""
    path = record_path(workspace, dataset_id, record.method, record.image)
    write_text_atomic(path, json.dumps(record.as_dict(), indent=1, default=float))
    return path


def read_selection_record(workspace: Workspace, dataset_id: str, method: str, stem: str) -> SelectionRecord | None:
    """One image's record, or None when the map was written without one (older samis).

    Raises:
        SamError: the record exists but is damaged (one line naming the file).
    """
    path = record_path(workspace, dataset_id, method, stem)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SamError(f"{path}: damaged selection record ({error.__class__.__name__}); run the selection again") from None
    if not isinstance(document, dict) or document.get("format") != RECORD_FORMAT:
        raise SamError(f"{path}: not a selection record of format {RECORD_FORMAT}; run the selection again")
    return SelectionRecord.from_dict(document)
