"""The paper's published numbers (Song et al. 2024, Tables 3–7), read from ``data/paper/*.csv``.

The CSV files are facts typed in from the paper exactly as printed; this module only reads and checks
them. Each file starts with ``#`` comment lines naming its source table; the first other line is the
header. A printed dash (``–``) is a missing value (``None``), never zero. Printed method names are
mapped to stable ids (``SCRNet`` and ``SCRN`` → ``SCRN``; ``CSENet`` → ``CSEPNet``) and the printed name
is kept beside the id.

The gap row ("Compared with the SOTA method") is printed without a formula. Two definitions
reproduce the printed rows (see :mod:`samis.tables`): Tables 3–5 divide by the larger of the two
values (``larger``), Table 6 divides by SAM's value (``reference``). :data:`GAP_DEFINITIONS` records
which one reproduces each table; ``tests/test_paper.py`` checks all twenty printed percentages.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from samis.errors import ReportError

#: where the CSV files live: ``data/paper`` at the repository root
PAPER_DIR = Path(__file__).resolve().parents[1] / "data" / "paper"

#: the five metrics of Tables 3–6, in printed order (Em = max E-measure, Fm = max F-measure)
PAPER_METRICS = ("Sa", "MAE", "Em", "Fw", "Fm")

#: printed method names that differ from the stable id
METHOD_IDS = {"SCRNet": "SCRN", "CSENet": "CSEPNet"}

#: dataset id (as given to ``report``) → (table number, CSV file name)
PAPER_TABLES = {
    "sd900": (3, "table3_sd900.csv"),
    "mt": (4, "table4_mt.csv"),
    "nrsd-mn": (5, "table5_nrsd-mn.csv"),
    "mt-7:3": (6, "table6_mt-7-3.csv"),
}

#: the gap definition that reproduces each printed gap row (found by checking both on every table)
GAP_DEFINITIONS = {3: "larger", 4: "larger", 5: "larger", 6: "reference"}

GAP_FILE = "gap_rows.csv"
SPEED_FILE = "table7_speed.csv"
#: the device Table 7 was measured on (Sections 4 and 5.1 of the paper)
SPEED_DEVICE = "NVIDIA GeForce RTX 3080 (10 GB)"

_MISSING = {"–", "—", "-", ""}


def method_id(printed_name: str) -> str:
    """Stable id of a method name as printed in the paper (``SCRNet`` → ``SCRN``, ``CSENet`` → ``CSEPNet``)."""
    name = printed_name.strip()
    return METHOD_IDS.get(name, name)


def parse_printed_number(text: str, where: str) -> float | None:
    """A printed cell as a float, or None for a dash.

    Args:
        text: the cell as printed, e.g. ``"0.020"``, ``"–"``, ``"24%"`` (a trailing % is dropped).
        where: file and line, for the error message.

    Raises:
        ReportError: the cell is neither a number nor a dash.
    """
    cell = text.strip()
    if cell in _MISSING:
        return None
    try:
        value = float(cell[:-1] if cell.endswith("%") else cell)
    except ValueError:
        raise ReportError(f"{where}: {cell!r} is not a number or a dash") from None
    if not math.isfinite(value):
        raise ReportError(f"{where}: {cell!r} is not a finite number")
    return value


def read_commented_csv(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[dict[str, str]], list[str]]:
    """Read a CSV whose first lines may be ``#`` comments; check every row has the header's width.

    Args:
        path: the file.
        required: column names the header must contain.

    Returns:
        (header, rows as dicts of stripped strings with ``"_line"`` = the line number, comment lines).

    Raises:
        ReportError: the file is missing or empty, a required column is absent, or a row has a wrong
            number of columns (naming the line).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ReportError(f"{path}: cannot read ({error.strerror or error})") from None
    comments: list[str] = []
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    for number, record in enumerate(csv.reader(text.splitlines()), start=1):
        if not record or all(not cell.strip() for cell in record):
            continue
        if header is None and record[0].lstrip().startswith("#"):
            comments.append(",".join(record).lstrip()[1:].strip())
            continue
        if header is None:
            header = [cell.strip() for cell in record]
            missing = [name for name in required if name not in header]
            if missing:
                raise ReportError(f"{path}:{number}: the header lacks column(s) {', '.join(missing)}")
            continue
        if len(record) != len(header):
            raise ReportError(
                f"{path}:{number}: row has {len(record)} columns, the header has {len(header)}"
            )
        row = {name: cell.strip() for name, cell in zip(header, record)}
        row["_line"] = str(number)
        rows.append(row)
    if header is None:
        raise ReportError(f"{path}: no header line (the file is empty or only comments)")
    return header, rows, comments


@dataclass(frozen=True)
class PaperRow:
    """One method's row of Tables 3–6 as printed."""

    method: str  # stable id
    printed_name: str
    publication: str
    type: str  # NS. / IS. / SAM
    values: dict[str, float | None]  # metric → value (None where the paper prints a dash)
    printed: dict[str, str]  # metric → the printed text, e.g. "0.020" or "–"
    printed_best: tuple[str, ...] = ()  # metrics the paper marks best in this row


@dataclass(frozen=True)
class PaperTable:
    """One of Tables 3–6: its rows, the printed gap row and the definition that reproduces it."""

    number: int
    dataset: str
    caption: str
    source: str
    rows: tuple[PaperRow, ...]
    printed_gap: dict[str, int] = field(default_factory=dict)  # metric → printed percentage
    gap_method: str = "SAM"
    gap_definition: str = "larger"

    def row(self, method: str) -> PaperRow:
        """The row of a method id or printed name.

        Raises:
            ReportError: the table has no such method.
        """
        wanted = method_id(method)
        for row in self.rows:
            if row.method == wanted:
                return row
        raise ReportError(f"Table {self.number} has no method {method!r} (it has {', '.join(r.method for r in self.rows)})")


@dataclass(frozen=True)
class PaperSpeedRow:
    """One method of Table 7."""

    method: str
    printed_name: str
    model_mb: float | None
    params_m: float | None
    fps: float | None
    printed: dict[str, str]


def _table_dataset(dataset: str) -> tuple[int, str]:
    key = dataset.strip().lower()
    if key not in PAPER_TABLES:
        raise ReportError(
            f"the paper has no table for dataset {dataset!r} (choose from {', '.join(PAPER_TABLES)})"
        )
    return PAPER_TABLES[key]


def read_printed_gaps(directory: Path | None = None) -> dict[int, dict[str, int]]:
    """The printed "Compared with the SOTA method" rows: table number → metric → integer percent.

    Raises:
        ReportError: the file is missing or malformed.
    """
    path = (directory or PAPER_DIR) / GAP_FILE
    _, rows, _ = read_commented_csv(path, ("table", "dataset", "method", *PAPER_METRICS))
    gaps: dict[int, dict[str, int]] = {}
    for row in rows:
        where = f"{path}:{row['_line']}"
        try:
            number = int(row["table"])
        except ValueError:
            raise ReportError(f"{where}: table {row['table']!r} is not a number") from None
        values = {}
        for metric in PAPER_METRICS:
            value = parse_printed_number(row[metric], where)
            if value is None or value != int(value):
                raise ReportError(f"{where}: gap {metric} {row[metric]!r} is not a whole percentage")
            values[metric] = int(value)
        gaps[number] = values
    return gaps


def load_paper_table(dataset: str, directory: Path | None = None) -> PaperTable:
    """One of Tables 3–6 by dataset id (``sd900``, ``mt``, ``nrsd-mn``, ``mt-7:3``).

    Args:
        dataset: the dataset id (case-insensitive).
        directory: where the CSV files are (default: the repository's ``data/paper``).

    Returns:
        the table with its rows, printed best marks, printed gap row and gap definition.

    Raises:
        ReportError: no table for that dataset, or its CSV is missing or malformed (one line naming
            the file and line).
    """
    number, file_name = _table_dataset(dataset)
    folder = directory or PAPER_DIR
    path = folder / file_name
    _, records, comments = read_commented_csv(
        path, ("method", "printed_name", "publication", "type", *PAPER_METRICS, "printed_best")
    )
    rows = []
    for record in records:
        where = f"{path}:{record['_line']}"
        best = tuple(m for m in record["printed_best"].split(";") if m)
        unknown = [m for m in best if m not in PAPER_METRICS]
        if unknown:
            raise ReportError(f"{where}: printed_best names unknown metric(s) {', '.join(unknown)}")
        rows.append(PaperRow(
            method=method_id(record["method"]),
            printed_name=record["printed_name"],
            publication=record["publication"],
            type=record["type"],
            values={m: parse_printed_number(record[m], f"{where} ({m})") for m in PAPER_METRICS},
            printed={m: record[m] for m in PAPER_METRICS},
            printed_best=best,
        ))
    if not rows:
        raise ReportError(f"{path}: no rows")
    caption = next((c.split(":", 1)[1].strip() for c in comments if c.startswith("table:")), f"Table {number}")
    source = next((c.split(":", 1)[1].strip() for c in comments if c.startswith("source:")), "")
    gaps = read_printed_gaps(folder)
    return PaperTable(
        number=number,
        dataset=dataset.strip().lower(),
        caption=caption,
        source=source,
        rows=tuple(rows),
        printed_gap=gaps.get(number, {}),
        gap_definition=GAP_DEFINITIONS[number],
    )


def load_speed_table(directory: Path | None = None) -> list[PaperSpeedRow]:
    """Table 7: model size (MB), parameters (M) and FPS per method, measured on an RTX 3080.

    Raises:
        ReportError: the CSV is missing or malformed.
    """
    path = (directory or PAPER_DIR) / SPEED_FILE
    _, records, _ = read_commented_csv(path, ("method", "printed_name", "model_mb", "params_m", "fps"))
    rows = []
    for record in records:
        where = f"{path}:{record['_line']}"
        rows.append(PaperSpeedRow(
            method=method_id(record["method"]),
            printed_name=record["printed_name"],
            model_mb=parse_printed_number(record["model_mb"], where),
            params_m=parse_printed_number(record["params_m"], where),
            fps=parse_printed_number(record["fps"], where),
            printed={k: record[k] for k in ("model_mb", "params_m", "fps")},
        ))
    return rows
