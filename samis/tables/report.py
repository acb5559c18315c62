"""The comparison report of one dataset: the paper's rows, rows measured here, or both, in one table."""

from __future__ import annotations

from samis.datasets import load_dataset
from samis.errors import ReportError
from samis.evaluation import evaluate
from samis.paper import GAP_DEFINITIONS as PAPER_GAP_DEFINITIONS
from samis.paper import PAPER_TABLES, load_paper_table, method_id
from samis.tables.columns import TABLE_METRICS, resolve_metrics
from samis.tables.model import ComparisonTable, TableRow, build_table, measured_rows, paper_rows


def _paper_key(workspace, dataset: str) -> str | None:
    """The paper table for a dataset id: the id itself (sd900, mt, nrsd-mn, mt-7:3) or a registered layout."""
    if dataset.lower() in PAPER_TABLES:
        return dataset.lower()
    entry = workspace.registered_datasets().get(dataset) if workspace is not None else None
    if entry is not None and entry.layout in PAPER_TABLES:
        return entry.layout
    return None


def _measured_target(workspace, dataset: str, split: str | None) -> tuple[str, str] | None:
    """(registered dataset id, split) to evaluate for a report id; ``mt-7:3`` means mt on ``test-7:3``."""
    registered = workspace.registered_datasets() if workspace is not None else {}
    if dataset in registered:
        return dataset, split or "all"
    if dataset.lower() == "mt-7:3":
        mt = [i for i, e in registered.items() if i == "mt"] or [i for i, e in registered.items() if e.layout == "mt"]
        if mt:
            return mt[0], split or "test-7:3"
    return None


def comparison_report(workspace, dataset: str, *, paper: bool | None = None, measured: bool | None = None,
                      methods: list[str] | None = None, split: str | None = None, metrics=TABLE_METRICS,
                      gap_method: str | None = None, gap_definition: str | None = None,
                      extra_rows: list[TableRow] | None = None, allow_missing: bool = False,
                      progress=None) -> ComparisonTable:
    """The comparison table for one dataset: the paper's rows, rows measured here, or both.

    Args:
        workspace: the samis workspace (registered datasets and predictions), or None for paper rows only.
        dataset: a paper table id (``sd900``, ``mt``, ``nrsd-mn``, ``mt-7:3``) and/or a registered dataset id.
        paper, measured: which rows to include; when neither is given, every source that exists.
        methods: methods to keep (paper ids or printed names, store method names); None = all.
        split: split for measured rows (default ``all``; ``test-7:3`` for ``mt-7:3``).
        metrics: table metrics.
        gap_method: the method compared with the best other (default ``SAM``; an explicit one must exist).
        gap_definition: ``larger`` or ``reference`` (default: the paper table's own, else ``larger``).
        extra_rows: more rows, e.g. from :func:`read_rows_csv`.
        allow_missing: score measured methods on the images they have.
        progress: ``progress(done, total)`` for the evaluation.

    Returns:
        the :class:`ComparisonTable`, with notes saying where every row came from.

    Raises:
        ReportError: no table for the dataset, a requested method found nowhere, bad metric, gap
            method or definition, or fewer than two rows. Errors of the evaluation pass through.
    """
    metrics = resolve_metrics(metrics)
    paper_key = _paper_key(workspace, dataset)
    target = _measured_target(workspace, dataset, split)
    if paper is None and measured is None:
        paper, measured = paper_key is not None, target is not None
        if not paper and not measured:
            raise ReportError(f"{dataset!r} is neither a paper table (sd900, mt, nrsd-mn, mt-7:3) nor a registered dataset")
    if paper and paper_key is None:
        raise ReportError(f"the paper has no table for {dataset!r} (it has sd900, mt, nrsd-mn and mt-7:3)")
    if measured and target is None:
        raise ReportError(f"dataset {dataset!r} is not registered; add it with: python -m samis datasets add {dataset} PATH")

    rows: list[TableRow] = []
    notes: list[str] = []
    wanted = list(methods) if methods else None
    found: set[str] = set()
    table = None
    if paper:
        table = load_paper_table(paper_key)
        paper_ids = {r.method for r in table.rows}
        pick = None if wanted is None else [m for m in wanted if method_id(m) in paper_ids]
        if pick is None or pick:
            rows += paper_rows(table, pick)
        found.update(m for m in (wanted or []) if method_id(m) in paper_ids)
        notes.append(f"paper rows: Song et al. 2024, {table.caption.split(':')[0]}")
    if measured:
        dataset_id, split_name = target
        available = workspace.prediction_methods(dataset_id)
        pick = None if wanted is None else [m for m in wanted if m in available]
        if pick is None or pick:
            result = evaluate(workspace, load_dataset(workspace, dataset_id), methods=pick, split=split_name,
                              allow_missing=allow_missing, progress=progress)
            new = measured_rows(result.scores, dataset_id, result.split, metrics=metrics)
            rows += new
            found.update(pick or [])
            images = sorted({r.details.get("n_images") for r in new if r.details.get("n_images") is not None})
            notes.append(f"measured rows: dataset {dataset_id!r}, split {result.split!r}"
                         + (f", {'/'.join(str(n) for n in images)} images" if images else ""))
    rows += list(extra_rows or [])
    found.update(r.method for r in extra_rows or [])
    if wanted:
        lost = [m for m in wanted if m not in found]
        if lost:
            places = " or ".join(([f"Table {table.number}"] if table else []) + ([f"the store of {target[0]!r}"] if measured else []))
            raise ReportError(f"method {lost[0]!r} is not in {places or 'the table'}")
    if paper and measured:
        notes.append("paper and measured rows come from different splits and implementations: compare with care")
    if gap_definition is None:
        gap_definition = PAPER_GAP_DEFINITIONS[table.number] if table is not None else "larger"
    title = f"{dataset}: " + (table.caption.split(":", 1)[-1].strip() if table is not None and not measured else "comparison")
    return build_table(rows, metrics, gap_method=gap_method or "SAM", gap_definition=gap_definition,
                       require_gap=gap_method is not None, dataset=dataset, title=title, notes=notes)
