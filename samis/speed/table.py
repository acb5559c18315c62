"""The speed table: measured rows beside Table 7's printed rows, with the protocol, in every format."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samis.paper import SPEED_DEVICE, load_speed_table
from samis.speed.sam_accounting import OFFICIAL_CHECKPOINT_BYTES
from samis.runs import ProgressCallback, ProgressTracker
from samis.speed.timing import MEMORY_CPU, MEMORY_CUDA, SpeedRow, SpeedSubject, TimingProtocol, measure_fps
from samis.tables.render import csv_text, markdown_table
from samis.text_table import text_table

#: what each kind of peak memory is, for the table's notes
MEMORY_TEXT = {MEMORY_CUDA: "torch.cuda.max_memory_allocated over warm-up and timed runs (weights included)",
               MEMORY_CPU: "rise of the process's peak resident set over warm-up and timed runs (weights loaded "
                           "before are not counted)"}


@dataclass
class SpeedTable:
    """Measured rows beside Table 7's printed rows, with the protocol and notes."""

    rows: list[SpeedRow]
    images: str
    protocol: str
    notes: list[str] = field(default_factory=list)

    COLUMNS = ("method", "label", "source", "device", "params_m", "size_mb", "fps", "ms_median", "ms_q1",
               "ms_q3", "ms_min", "ms_max", "runs", "warmup", "image_size", "note", "peak_mb", "memory")
    HEADER = ("method", "source", "device", "params (M)", "size (MB)", "FPS", "ms median", "ms IQR (min–max)",
              "peak MB", "runs", "image")
    #: Markdown alignment: numbers (params … peak MB) to the right, text to the left
    ALIGNMENTS = "lllrrrrrrll"

    def to_json_document(self) -> dict:
        """Plain dict: images, protocol, notes and every row with all of :attr:`COLUMNS`."""
        return {"images": self.images, "protocol": self.protocol, "notes": list(self.notes),
                "rows": [{c: getattr(r, c) for c in self.COLUMNS} for r in self.rows]}

    def to_csv(self) -> str:
        """CSV text: one line per row with all of :attr:`COLUMNS` (empty where a value is missing)."""
        return csv_text(self.COLUMNS, [["" if getattr(row, c) is None else getattr(row, c) for c in self.COLUMNS]
                                       for row in self.rows])

    def _display(self) -> list[list[str]]:
        def num(value, places):
            return "–" if value is None else f"{value:.{places}f}"

        out = []
        for r in self.rows:
            fps_places = 2 if r.fps is not None and r.fps < 10 else 1
            spread = "" if r.ms_median is None else f"{r.ms_q1:.1f}–{r.ms_q3:.1f} ({r.ms_min:.1f}–{r.ms_max:.1f})"
            shown = {k: r.printed.get(k) or num(getattr(r, k), p) for k, p in
                     (("params_m", 1), ("size_mb", 1), ("fps", fps_places))}
            name = r.label if r.source == "paper" else r.method
            out.append([name, r.source, r.device, shown["params_m"], shown["size_mb"], shown["fps"],
                        num(r.ms_median, 1), spread, num(r.peak_mb, 1), str(r.runs) if r.runs else "", r.image_size])
        return out

    def to_markdown(self) -> str:
        """A GitHub Markdown table, then the images, the protocol and the notes as a list."""
        lines = markdown_table(self.HEADER, self.ALIGNMENTS, self._display())
        lines += ["", f"- images: {self.images}", f"- protocol: {self.protocol}"] + [f"- {n}" for n in self._row_notes() + self.notes]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        """A plain aligned table for a terminal, then the images, the protocol and the notes."""
        lines = text_table(self.HEADER, self._display(), right_columns=range(3, 10))
        lines += [f"images: {self.images}", f"protocol: {self.protocol}"] + self._row_notes() + self.notes
        return "\n".join(lines) + "\n"

    def _row_notes(self) -> list[str]:
        kinds = sorted({r.memory for r in self.rows if r.peak_mb is not None})
        memory = [f"peak MB: {MEMORY_TEXT.get(k, k)}" for k in kinds]
        if any(r.source == "measured" and r.peak_mb is None for r in self.rows):
            memory.append("peak MB –: not measured (a record saved before samis measured memory)")
        return memory + [(r.label if r.label.startswith(r.method) else f"{r.method}: {r.label}") + (f" — {r.note}" if r.note else "")
                for r in self.rows if r.source == "measured"]

def paper_speed_rows() -> list[SpeedRow]:
    """Table 7 as speed rows (device: the paper's RTX 3080)."""
    return [SpeedRow(method=r.method, label=r.printed_name, source="paper", device=SPEED_DEVICE,
                     params_m=r.params_m, size_mb=r.model_mb, fps=r.fps,
                     printed={"params_m": r.printed["params_m"], "size_mb": r.printed["model_mb"], "fps": r.printed["fps"]})
            for r in load_speed_table()]

def speed_table(subjects: list[SpeedSubject], images: list[np.ndarray], images_text: str, *,
                extra_rows: list[SpeedRow] | None = None, notes: list[str] | None = None,
                protocol: TimingProtocol = TimingProtocol(), include_paper: bool = True,
                progress: ProgressCallback | None = None) -> SpeedTable:
    """Time every subject and put the results beside Table 7.

    Args:
        subjects: what to time (see :func:`samis.speed.report.baseline_subjects`,
            :func:`samis.speed.report.sam_subjects`).
        images: uint8 RGB images; images_text says what they are.
        extra_rows: rows not timed (e.g. parameter counts of SAM models without a checkpoint).
        notes: lines to print under the table.
        protocol: warm-up, runs and time budget (see :func:`samis.speed.timing.measure_fps`).
        include_paper: add Table 7's printed rows.
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage ``speed``, unit methods,
            detail ``timing <label>``) before each subject is timed and after it.

    Returns:
        the :class:`SpeedTable`.
    """
    rows = []
    tracker = ProgressTracker(progress, len(subjects), "speed", unit="methods").start()
    for subject in subjects:
        tracker.working_on(f"timing {subject.label}")
        rows.append(measure_fps(subject, images, warmup=protocol.warmup, runs=protocol.runs,
                                time_budget_s=protocol.time_budget_s))
        tracker.advance()
    rows += list(extra_rows or [])
    notes = list(notes or [])
    if include_paper:
        rows += paper_speed_rows()
        notes.append("paper rows: Song et al. 2024, Table 7, measured on an NVIDIA RTX 3080 over three datasets; "
                     "the measured rows above ran here, on the device named in each row")
        official_h = OFFICIAL_CHECKPOINT_BYTES["vit_h"] / 1e6
        notes.append(f"model size: the paper prints 1228.8 MB for SAM; the official ViT-H checkpoint is "
                     f"{official_h:.1f} MB (float32 weights)")
    return SpeedTable(rows=rows, images=images_text, protocol=protocol.text(), notes=notes)
