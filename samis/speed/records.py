"""Speed measurements as results: saved in the workspace, read back after a restart and on a read-only server.

One file per place the images came from, the latest measurement winning::

    <workspace>/speed/<dataset>.json       timed on the first images of a registered dataset
    <workspace>/speed/synthetic.json       timed on the synthetic 200x200 image

Each file is written atomically (a reader sees the old file or the whole new one) and says what was
measured, on which device, when (UTC, ISO 8601), on which images, with which protocol and samis
version. The CLI's ``speed`` and the dashboard's Speed page write the same records. A file that cannot
be read (not JSON, a row without a method, a number that is not one) is reported by name
(:class:`SpeedRecordError`), never read as "nothing measured".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from samis import __version__
from samis.errors import SamisError
from samis.imageio import write_text_atomic
from samis.speed.table import SpeedTable
from samis.speed.timing import SpeedRow
from samis.workspace import validate_name

FORMAT = "samis-speed/1"
SYNTHETIC = "synthetic"
_NUMBERS = ("params_m", "size_mb", "fps", "ms_median", "ms_q1", "ms_q3", "ms_min", "ms_max", "peak_mb")


class SpeedRecordError(SamisError):
    """A saved speed measurement cannot be read."""


@dataclass(frozen=True)
class SpeedRecord:
    """One saved measurement.

    Attributes:
        table: the measured rows (no paper rows), the images and the protocol.
        dataset: the dataset whose images were timed (None: the synthetic image).
        measured_at: when (UTC, ISO 8601, seconds).
        device: the devices the rows were timed on, in order, joined by ``; ``.
        samis_version: the samis that measured it.
        path: the file it was read from or written to.
    """

    table: SpeedTable
    dataset: str | None
    measured_at: str
    device: str
    samis_version: str
    path: Path

    @property
    def shown_time(self) -> str:
        """``2026-12-07 07:30 UTC`` (what the Speed table's source column shows)."""
        try:
            return datetime.fromisoformat(self.measured_at).strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            return self.measured_at


def speed_dir(workspace) -> Path:
    """The folder of the saved speed measurements."""
    return Path(workspace.root) / "speed"


def record_path(workspace, dataset: str | None) -> Path:
    """Where the measurement on ``dataset``'s images (None: the synthetic image) is saved."""
    name = SYNTHETIC if dataset is None else validate_name("dataset", dataset)
    return speed_dir(workspace) / f"{name}.json"


def save_speed_record(workspace, table: SpeedTable, dataset: str | None = None, when: datetime | None = None) -> SpeedRecord:
    """Save the measured rows of ``table`` (paper rows left out), atomically.

    Args:
        workspace: a :class:`samis.workspace.Workspace`.
        table: what :func:`samis.speed.speed_report` returned.
        dataset: the dataset whose images were timed (None: the synthetic image).
        when: the time of the measurement (default: now, UTC).

    Returns:
        the saved :class:`SpeedRecord`.
    """
    measured = [row for row in table.rows if row.source != "paper"]
    stamp = (when or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")
    device = "; ".join(dict.fromkeys(row.device for row in measured if row.device))
    document = {"format": FORMAT, "dataset": dataset, "measured_at": stamp, "device": device,
                "samis_version": __version__, "images": table.images, "protocol": table.protocol,
                "notes": list(table.notes), "rows": [{c: getattr(r, c) for c in SpeedTable.COLUMNS} for r in measured]}
    path = record_path(workspace, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(document, indent=1, allow_nan=False) + "\n")
    return SpeedRecord(SpeedTable(measured, table.images, table.protocol, list(table.notes)), dataset, stamp, device,
                       __version__, path)


def _row(entry, path: Path, number: int) -> SpeedRow:
    where = f"speed record {path.name}, row {number}"
    if not isinstance(entry, dict) or not isinstance(entry.get("method"), str) or not entry["method"]:
        raise SpeedRecordError(f"{where}: no method name")
    known = {f.name for f in fields(SpeedRow)}
    values = {k: v for k, v in entry.items() if k in known and k != "printed"}
    for name in _NUMBERS:
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or value < 0):
            raise SpeedRecordError(f"{where} ({entry['method']}): {name} is {value!r}, not a number ≥ 0")
    values.setdefault("label", entry["method"])
    values.setdefault("source", "measured")
    values.setdefault("device", "")
    return SpeedRow(**values)


def read_speed_record(path: str | Path) -> SpeedRecord:
    """Read one saved measurement.

    Raises:
        SpeedRecordError: the file is not a speed record samis can read (names the file and what is wrong).
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError) as error:
        raise SpeedRecordError(f"speed record {path.name} cannot be read ({type(error).__name__}: {error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("rows"), list):
        raise SpeedRecordError(f"speed record {path.name} is not a {FORMAT} file")
    rows = [_row(entry, path, number) for number, entry in enumerate(document["rows"], start=1)]
    table = SpeedTable(rows, str(document.get("images", "")), str(document.get("protocol", "")),
                       [str(n) for n in document.get("notes") or []])
    dataset = document.get("dataset")
    return SpeedRecord(table, dataset if isinstance(dataset, str) else None, str(document.get("measured_at", "")),
                       str(document.get("device", "")), str(document.get("samis_version", "")), path)


def speed_records(workspace) -> tuple[dict[str | None, SpeedRecord], list[str]]:
    """Every saved measurement of a workspace, and a line for each file that cannot be read.

    Returns:
        (dataset or None for the synthetic image → record, problems): a damaged file is left out and
        named in ``problems``; the others still load.
    """
    records: dict[str | None, SpeedRecord] = {}
    problems: list[str] = []
    folder = speed_dir(workspace)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            record = read_speed_record(path)
        except SpeedRecordError as error:
            problems.append(str(error))
            continue
        records[None if path.stem == SYNTHETIC else path.stem] = record
    return records, problems
