"""The comparison report of one dataset: the paper's rows, rows measured here, or both, in one table."""

from __future__ import annotations

from dataclasses import dataclass, field

from samis.datasets import get_split, load_dataset
from samis.errors import ReportError
from samis.evaluation import EvaluationResult, evaluate_trusting_generation
from samis.review import ReviewStore, exclude_tagged
from samis.runs import ProgressCallback
from samis.methods import PAPER_SAM, first_sam_method
from samis.paper import GAP_DEFINITIONS as PAPER_GAP_DEFINITIONS
from samis.paper import PAPER_TABLES, PaperTable, load_paper_table, method_id
from samis.tables.columns import TABLE_METRICS, resolve_metrics
from samis.tables.references import reference_rows
from samis.tables.model import ComparisonTable, TableRow, add_uncertainty, build_table, measured_rows, paper_rows, row_keys


def paper_key(workspace, dataset: str, split: str | None = None) -> str | None:
    """The paper table for a dataset: the id itself (sd900, mt, nrsd-mn, mt-7:3), else a registered dataset's layout.

    A Magnetic Tile dataset on the 7:3 split (``test-7:3``, ``train-7:3``) is Table 6 (``mt-7:3``).
    """
    if dataset.lower() in PAPER_TABLES:
        key = dataset.lower()
    else:
        entry = workspace.registered_datasets().get(dataset) if workspace is not None else None
        key = entry.layout if entry is not None and entry.layout in PAPER_TABLES else None
    if key == "mt" and split in ("test-7:3", "train-7:3"):
        return "mt-7:3"
    return key


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


@dataclass
class ComparisonRows:
    """The rows of one dataset's comparison, before a gap row is chosen.

    Attributes:
        rows: paper rows, then measured rows, then extra rows.
        notes: where the rows came from.
        paper_table: the paper's table the paper rows come from (None: no paper rows).
        evaluation: the evaluation behind the measured rows (None: no measured rows).
        gap_definition: the default gap definition (the paper table's own, else ``larger``).
    """

    rows: list[TableRow]
    notes: list[str] = field(default_factory=list)
    paper_table: PaperTable | None = None
    evaluation: EvaluationResult | None = None
    gap_definition: str = "larger"

    @property
    def keys(self) -> list[str]:
        """The rows' keys in a table (labels; a label shared by two sources gets the source in brackets)."""
        return row_keys(self.rows)

    @property
    def default_gap_method(self) -> str | None:
        """The key of the row a gap row compares by default: the first SAM method measured here with real weights,
        else the paper's SAM (None: no such row). A random-weights model is never the default."""
        usable = [r for r in self.rows if not r.reference and not r.random_weights]
        method = (first_sam_method(r.method for r in usable if r.source == "measured")
                  or first_sam_method(r.method for r in usable))
        return next((k for k, r in zip(self.keys, self.rows) if r.method == method), None)

    def table(self, metrics=TABLE_METRICS, *, gap_method: str | None = None, gap_definition: str | None = None,
              require_gap: bool = False, dataset: str = "", title: str = "",
              bootstrap=None, upper_bounds_compete: bool = False) -> ComparisonTable:
        """The comparison table of these rows.

        Args:
            metrics: the table's metrics.
            gap_method: the row the gap row compares (default: :attr:`default_gap_method`; without a SAM
                row the table says it has no gap row); ``""``: no gap rows at all.
            gap_definition: ``larger`` or ``reference`` (default: :attr:`gap_definition`).
            require_gap: raise when ``gap_method`` is not a row.
            dataset, title: shown with the table.
            bootstrap: a :class:`samis.stats.Bootstrap` of :attr:`evaluation`: intervals and significance.
            upper_bounds_compete: upper bounds (†) take part in best marks (default: not).
        """
        if gap_method != "":
            gap_method = gap_method or self.default_gap_method or PAPER_SAM
        table = build_table(self.rows, resolve_metrics(metrics), gap_method=gap_method or None,
                            gap_definition=gap_definition or self.gap_definition, require_gap=require_gap,
                            dataset=dataset, title=title, notes=list(self.notes))
        if upper_bounds_compete:
            table.rank(upper_bounds_compete=True)
        if bootstrap is not None:
            add_uncertainty(table, bootstrap)
        return table


@dataclass(frozen=True)
class ComparisonQuery:
    """What one comparison compares: a dataset, which sources, which methods, on which split.

    Frozen and hashable, so the dashboard can key its caches with it.

    Attributes:
        dataset: a paper table id (``sd900``, ``mt``, ``nrsd-mn``, ``mt-7:3``) and/or a registered dataset id.
        paper, measured: which rows to include; when neither is given, every source that exists.
        methods: methods to keep (paper ids or printed names, store method names); None = all.
        split: split for measured rows (default ``all``; ``test-7:3`` for ``mt-7:3``); MT on the 7:3
            split is compared with Table 6.
        metrics: table metrics of the measured rows.
        allow_missing: score measured methods on the images they have.
        exclude_tags: leave out of the measured rows the images carrying any of these review tags
            (:func:`samis.review.exclude_tagged`); the notes say how many and by whose tags.
        references: add the reference rows ``ref:zeros`` and ``ref:const128`` to the measured rows
            (:mod:`samis.tables.references`), scored on the same split.
    """

    dataset: str
    paper: bool | None = None
    measured: bool | None = None
    methods: tuple[str, ...] | None = None
    split: str | None = None
    metrics: tuple[str, ...] = TABLE_METRICS
    allow_missing: bool = False
    exclude_tags: tuple[str, ...] = ()
    references: bool = False

    def __post_init__(self):
        object.__setattr__(self, "exclude_tags", tuple(self.exclude_tags))
        # lists from argparse or a page become tuples, so the query stays hashable
        if self.methods is not None:
            object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "metrics", tuple(self.metrics))


def comparison_rows(workspace, query: ComparisonQuery | str, *, extra_rows: list[TableRow] | None = None,
                    progress: ProgressCallback | None = None) -> ComparisonRows:
    """The rows of one dataset's comparison: the paper's, those measured here (evaluated now), or both.

    The CLI's ``report`` and the dashboard's Compare page both build their table from this (or from
    :func:`comparison_rows_of`), so they cannot disagree.

    Args:
        workspace: the samis workspace (registered datasets and predictions), or None for paper rows only.
        query: what to compare; a dataset id alone means every source that exists, all methods.
        extra_rows: more rows, e.g. from :func:`read_rows_csv`.
        progress: optional callback for the evaluation (see :func:`samis.evaluation.evaluate`).

    Raises:
        ReportError: no table for the dataset, or a requested method found nowhere. Errors of the
            evaluation pass through.
    """
    query = ComparisonQuery(query) if isinstance(query, str) else query

    def evaluate_here(dataset_id: str, split: str, pick: list[str] | None) -> EvaluationResult:
        # a report trusts a store checked against the maps it holds now (see evaluate_trusting_generation)
        result = evaluate_trusting_generation(workspace, load_dataset(workspace, dataset_id), methods=pick,
                                              split=split, allow_missing=query.allow_missing, progress=progress)
        if query.exclude_tags:
            result = exclude_tagged(result, ReviewStore(workspace.root, read_only=True), query.exclude_tags)
        return result

    return _rows(workspace, query, extra_rows, evaluate_here)


def comparison_rows_of(workspace, query: ComparisonQuery, evaluation: EvaluationResult | None,
                       extra_rows: list[TableRow] | None = None) -> ComparisonRows:
    """:func:`comparison_rows` over scores already computed for the query's dataset and split (the
    dashboard's cache): nothing is evaluated here.

    Args:
        evaluation: the scores of the measured rows (None: the query asks for no measured rows).

    Raises:
        ReportError: as :func:`comparison_rows`, and when measured rows are asked for without scores.
    """
    def given(dataset_id: str, split: str, pick: list[str] | None) -> EvaluationResult:
        if evaluation is None:
            raise ReportError(f"no scores given for the measured rows of {dataset_id!r}")
        return evaluation

    return _rows(workspace, query, extra_rows, given)


def _sources(workspace, query: ComparisonQuery) -> tuple[bool, bool, str | None, tuple[str, str] | None]:
    """(paper?, measured?, paper table key, measured (dataset, split)) of a query, checked."""
    key = paper_key(workspace, query.dataset, query.split)
    target = _measured_target(workspace, query.dataset, query.split)
    paper, measured = query.paper, query.measured
    if paper is None and measured is None:
        paper, measured = key is not None, target is not None
        if not paper and not measured:
            raise ReportError(f"{query.dataset!r} is neither a paper table (sd900, mt, nrsd-mn, mt-7:3) nor a registered dataset")
    if paper and key is None:
        raise ReportError(f"the paper has no table for {query.dataset!r} (it has sd900, mt, nrsd-mn and mt-7:3)")
    if measured and target is None:
        raise ReportError(f"dataset {query.dataset!r} is not registered; add it with: "
                          f"python -m samis datasets add {query.dataset} PATH")
    return bool(paper), bool(measured), key, target


def _rows(workspace, query: ComparisonQuery, extra_rows, scores) -> ComparisonRows:
    """The comparison rows of ``query``; ``scores(dataset_id, split, methods)`` gives the measured scores."""
    metrics = resolve_metrics(query.metrics)
    paper, measured, key, target = _sources(workspace, query)
    rows: list[TableRow] = []
    notes: list[str] = []
    wanted = list(query.methods) if query.methods else None
    found: set[str] = set()
    table = None
    result = None
    if paper:
        table = load_paper_table(key)
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
            result = scores(dataset_id, split_name, pick)
            scored = {m: s for m, s in result.scores.items() if s.get("n_images")}
            new = measured_rows(scored, dataset_id, result.split, metrics=metrics)
            rows += new
            if query.references and new:  # on the images the scores use (less any left out by their tags)
                rows += _reference_rows(workspace, dataset_id, result.split, metrics,
                                        set(result.image_classes) if result.left_out else None)
            found.update(pick or [])
            images = sorted({r.details.get("n_images") for r in new if r.details.get("n_images") is not None})
            notes.append(f"measured rows: dataset {dataset_id!r}, split {result.split!r}"
                         + (f", {'/'.join(str(n) for n in images)} images" if images else ""))
            if result.left_out:
                notes.append(result.left_out)
    rows += list(extra_rows or [])
    found.update(r.method for r in extra_rows or [])
    if wanted:
        lost = [m for m in wanted if m not in found]
        if lost:
            places = " or ".join(([f"Table {table.number}"] if table else []) + ([f"the store of {target[0]!r}"] if measured else []))
            raise ReportError(f"method {lost[0]!r} is not in {places or 'the table'}")
    if len({r.source for r in rows}) > 1:
        notes.append("each source is its own block, with its own best marks and gap row: paper rows come from the "
                     "paper's split and implementations (different splits) and are never ranked with rows measured here")
    return ComparisonRows(rows=rows, notes=notes, paper_table=table, evaluation=result,
                          gap_definition=PAPER_GAP_DEFINITIONS[table.number] if table is not None else "larger")


def _reference_rows(workspace, dataset_id: str, split: str, metrics, keep: set[str] | None = None) -> list[TableRow]:
    """The reference rows of one dataset split (stored per image, scored where missing); ``keep``: only these
    images."""
    samples = get_split(workspace, load_dataset(workspace, dataset_id), split)
    if keep is not None:
        samples = [s for s in samples if s.id in keep]
    return reference_rows(workspace, dataset_id, samples, split, metrics=metrics)


def comparison_report(workspace, query: ComparisonQuery | str, *, gap_method: str | None = None,
                      gap_definition: str | None = None, extra_rows: list[TableRow] | None = None,
                      progress: ProgressCallback | None = None) -> ComparisonTable:
    """The comparison table for one dataset: :func:`comparison_rows` with a gap row.

    Args:
        workspace, query, extra_rows, progress: as for :func:`comparison_rows`.
        gap_method: the method compared with the best other (default: the paper's SAM, else the first
            SAM method; an explicit one must exist).
        gap_definition: ``larger`` or ``reference`` (default: the paper table's own, else ``larger``).

    Returns:
        the :class:`ComparisonTable`, with notes saying where every row came from.

    Raises:
        ReportError: no table for the dataset, a requested method found nowhere, bad metric, gap
            method or definition, or fewer than two rows. Errors of the evaluation pass through.
    """
    query = ComparisonQuery(query) if isinstance(query, str) else query
    found = comparison_rows(workspace, query, extra_rows=extra_rows, progress=progress)
    return report_table(found, query.dataset, query.metrics, gap_method=gap_method, gap_definition=gap_definition)


def report_table(found: ComparisonRows, dataset: str, metrics=TABLE_METRICS, *, gap_method: str | None = None,
                 gap_definition: str | None = None, bootstrap=None) -> ComparisonTable:
    """The ``report`` command's table of rows already found: titled after the paper's table or "comparison".

    An explicit ``gap_method`` must be a row (see :func:`comparison_report`).
    """
    table = found.paper_table
    title = f"{dataset}: " + (table.caption.split(":", 1)[-1].strip()
                              if table is not None and found.evaluation is None else "comparison")
    return found.table(metrics, gap_method=gap_method, gap_definition=gap_definition,
                       require_gap=gap_method is not None, dataset=dataset, title=title, bootstrap=bootstrap)
