"""How every page shows errors, progress and comparison tables."""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
from collections.abc import Callable

import pandas as pd
import streamlit as st

from samis.dashboard import state
from samis.dashboard.text import escaped, literal  # noqa: F401  (pages use them as ui.literal / ui.escaped)
from samis.errors import SamisError
from samis.runs import RunProgress
from samis.html_report import Provenance, html_report_bytes
from samis.metric_card import CARD_LINK


def error(message: object) -> None:
    """An ``st.error`` box showing a message exactly as written (it may carry file or dataset names)."""
    st.error(literal(message))


def notice(text: str) -> None:
    """An ``st.info`` box; names inside ``text`` must come through :func:`literal`."""
    st.info(text)


@contextlib.contextmanager
def guard(what: str = ""):
    """Show a library error as one ``st.error`` line instead of a traceback.

    A :class:`SamisError` is a user mistake (bad path, missing file): its message says what to do.
    Anything else is a bug: the page shows a short error and the details in a closed expander, so a
    user can copy them into a report. Streamlit's own stop/rerun signals are not exceptions and pass.
    """
    try:
        yield
    except SamisError as problem:
        error(f"{what}: {problem}" if what else problem)
    except (OSError, ValueError) as problem:
        # files vanishing or unreadable while the page runs: report them like user errors
        error(f"{what}: {problem}" if what else f"{type(problem).__name__}: {problem}")
    except Exception as problem:  # noqa: BLE001 - the page must not show a traceback box
        error(f"{what + ': ' if what else ''}unexpected {type(problem).__name__}: {problem} (this is a bug in samis)")
        with st.expander("details for a bug report"):
            st.code(traceback.format_exc(), language="text")


class Progress:
    """The dashboard's one progress display: a bar drawing :class:`samis.runs.RunProgress` events.

    Pass an instance as a library function's ``progress=``: it shows done/total, the stage, the rate
    and the ETA (work resumed from disk is not counted in the rate: the library's tracker sees to
    that). Because each image is written before its event, a closed tab or a rerun stops the work
    between two images and the next run resumes.

    Args:
        label: shown instead of the events' stage names (default: the stage names, which say what
            runs, e.g. ``baseline ft`` or ``evaluate`` while the demo is built).
    """

    def __init__(self, label: str = ""):
        self.label = label
        self.bar = st.progress(0.0, text=f"{label or 'working'}: starting…")
        self.last: RunProgress | None = None

    def __call__(self, event: RunProgress) -> None:
        self.last = event
        shown = dataclasses.replace(event, stage=self.label) if self.label else event
        self.bar.progress(event.fraction, text=shown.text())


def offer_job(pairs: int, what: str, command: str, key: str) -> bool:
    """A scoring job too large to start unasked: one line saying how many pairs and the CLI command that does the
    same work (and stores it for every page), and a button; True on the run its button was clicked."""
    box = st.empty()
    with box.container():
        st.info(f"{pairs:,} image-method pairs have no stored {escaped(what)} yet: more than a page scores unasked. "
                f"Score them on the server with `{command}` (stored, then every page reads them), or here in the "
                "background (it goes on when you leave the page):")
        clicked = st.button(f"Score {pairs:,} pairs in the background", key=key)
    if clicked:  # the job starts now: the offer goes
        box.empty()
    return clicked


def _counts_nothing(job) -> bool:
    """The job has counted no pairs to score: it is listing maps or reading stored values, or has nothing to score."""
    return job.latest is None or not job.latest.total


def _running_for(job) -> str:
    return f"running for {time.monotonic() - job.started:.0f} s"


def job_line(job) -> str:
    """One line on a running background job: pairs done of the total, and the time left when known."""
    if _counts_nothing(job):
        return _running_for(job)
    event = job.latest
    left = f", about {event.eta_s / 60:.0f} min left" if event.eta_s else ""
    return f"{event.done:,} of {event.total:,} {event.unit} done{left}"


def wait_for(job, label: str):
    """Show a job's progress (images done / total, rate, ETA; ``label`` names what it scores, e.g.
    ``SD-900/test``) until it finishes; return its result.

    A finished job returns at once and draws nothing. If the visitor changes a widget or the page
    meanwhile, this run stops but the job goes on, and the next run picks it up where it is.

    Raises:
        whatever the job raised (shown by :func:`guard` like any library error).
    """
    if not job.done:
        fraction, shown = wait_text(job, label)
        bar = st.progress(fraction, text=shown)
        while not job.finished.wait(0.25):
            fraction, text = wait_text(job, label)
            if text != shown:  # a new event, or another second of reading
                bar.progress(fraction, text=text)
                shown = text
        bar.empty()
    return job.outcome()


def wait_text(job, label: str) -> tuple[float, str]:
    """(fraction, one line) for a running job: its latest counted progress event (done / total, rate, ETA) as
    :class:`Progress` draws it, or, while it has counted nothing to score (listing the maps, reading stored values:
    minutes at 1.8 million stored pairs), how long it has been running, not an empty or a full bar."""
    if _counts_nothing(job):
        return 0.0, f"{label}: reading what is stored and listing the maps, nothing scored yet · {_running_for(job)}"
    return job.latest.fraction, dataclasses.replace(job.latest, stage=f"scoring {label}").text()


def comparison_frame(table, source: str | None = None) -> pd.DataFrame:
    """A :class:`samis.tables.ComparisonTable` (or one source's block of it) as a display frame: arrows in
    headers, best marked ★ (per block), each block's gap row after it."""
    columns = {m: table.header(m) for m in table.metrics}
    rows = []
    for block, keys in table.blocks():
        if source is not None and block != source:
            continue
        for key in keys:
            row = table.rows[table.keys.index(key)]
            entry = {"method": row.shown_label(), "source": "reference" if row.reference else row.source}
            for m in table.metrics:
                text = table.cell_ci(key, m)
                entry[columns[m]] = f"★ {text}{table.verdict(key, m)}" if bool(table.best_mask.at[key, m]) else text
            entry["note"] = row.note
            rows.append(entry)
        gap = table.block_gap(block)
        if gap is not None:
            entry = {"method": f"gap: {gap.method} vs best other", "source": gap.definition}
            for m in table.metrics:
                entry[columns[m]] = table.gap_cell(m, gap)
            entry["note"] = "positive: the best other method is ahead"
            rows.append(entry)
    return pd.DataFrame(rows)


def show_scores(scores: dict[str, float], row_name: str) -> None:
    """One row of scores (metric → value) under ``row_name``, three decimals."""
    st.dataframe(pd.DataFrame([scores], index=[row_name]).style.format("{:.3f}"))


def show_comparison(table, key: str | None = None) -> None:
    """Draw a comparison table, one labelled block per source (never ranked together), with its notes."""
    blocks = table.blocks()
    for index, (source, _) in enumerate(blocks):
        frame = comparison_frame(table, source)
        if len(blocks) > 1:
            st.markdown(f"**{escaped(table.block_title(source))}**")
        # tall enough for every row: a comparison table is read whole, not scrolled
        st.dataframe(frame, hide_index=True, key=f"{key}_{source}" if key and index else key,
                     height=35 * (len(frame) + 1) + 3,
                     column_config={"note": st.column_config.TextColumn("note", width="medium")})
    notes = ["★ best in column within its block (ties all marked; references, random-weights models"
             + ("" if table.upper_bounds_compete else " and upper bounds †") + " are never marked); "
             "arrows give the better direction"]
    notes += table.footnotes()
    st.caption("  \n".join(escaped(note) for note in notes)
               + f"  \nHow each metric is computed: [the metric card]({CARD_LINK})")


def download_view(url_path: str, title: str, sections: Callable[[], list], dataset: str, split: str,
                  view: str) -> None:
    """The "Download this view (HTML)" button: a self-contained report of what the page shows.

    The file is built only when the button is clicked (``sections`` is called then, on another
    thread), so drawing the page costs nothing; its footer carries the link to this view.

    Args:
        url_path: the page's URL path (for the link when the browser's address is unknown).
        title: the report's heading.
        sections: makes the :class:`samis.html_report.HtmlSection` list.
        dataset, split, view: for the provenance footer.
    """
    link = state.view_link(url_path)

    def build() -> bytes:
        return html_report_bytes(title, sections(), Provenance(dataset, split, link, view=view))

    stem = f"samis-{url_path}-{dataset}-{split}".replace(":", "-").replace("/", "-")
    st.download_button("Download this view (HTML)", build, file_name=f"{stem}.html", mime="text/html",
                       on_click="ignore", key=f"{url_path}_html_download",
                       help="one file that opens offline in any browser: tables, charts and pictures inlined, "
                            "with the link to this view")
