"""An evaluation without its per-image curves: what a long-lived process (the dashboard server) keeps.

A full :class:`samis.evaluation.EvaluationResult` holds every image's precision, recall, F- and E-measure
curves (images × 4 × 256 values per method: 8 KB per image and method in float64, about 15 GB for
150,000 images × 12 methods). Pages show only aggregates of them: the dataset scores with their mean
curves, and the same per defect class. :func:`summarize_evaluation` scores one method at a time, keeps
its per-image scalars (a few numbers per image, for the Cases table) and the aggregates — computed by the
same :meth:`MethodResult.scores` / :meth:`EvaluationResult.class_scores` calls as the full result, so every
number is the full result's — and lets the curves go before the next method is read. Memory is then one
method's curves while summarizing and none after.

What needs per-image curves (bootstrap intervals over images, paired tests, a subset chosen by hand) reads
the full result again from the results cache when asked for (:func:`samis.evaluation.evaluate`, warm).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from samis.errors import EvaluationError
from samis.evaluation import EvaluationResult, MethodResult
from samis.runs import JoinedProgress, ProgressCallback


@dataclass
class SummarizedMethod(MethodResult):
    """One method's per-image scalars, and its scores over the split and over each class (no per-image curves:
    ``curves`` is None)."""

    overall: dict = field(default_factory=dict)
    by_class: dict[str, dict] = field(default_factory=dict)

    def scores(self, stems=None) -> dict:
        if stems is None:
            return self.overall
        raise EvaluationError(f"{self.method}: the per-image curves were summarized away; scores of an image "
                              "subset need the full evaluation (samis.evaluation.evaluate)")


@dataclass
class SummarizedEvaluation(EvaluationResult):
    """An :class:`EvaluationResult` whose methods are :class:`SummarizedMethod` (read-only)."""

    @property
    def scores(self) -> dict[str, dict]:
        return {name: result.overall for name, result in self.methods.items()}

    def class_scores(self) -> dict[str, dict[str, dict]]:
        classes = sorted({cls for result in self.methods.values() for cls in result.by_class})
        return {cls: {m: r.by_class[cls] for m, r in self.methods.items() if cls in r.by_class} for cls in classes}

    def without(self, images, note: str) -> "EvaluationResult":
        raise EvaluationError("a summarized evaluation cannot leave images out; summarize the full result "
                              "with the images left out instead (summarize_evaluation's leave_out)")


def summarize_method(full: EvaluationResult, method: str) -> SummarizedMethod:
    """``method`` of ``full`` without its per-image curves; its scores are ``full``'s own."""
    result = full.methods[method]
    by_class = {cls: per_method[method] for cls, per_method in full.class_scores().items() if method in per_method}
    return SummarizedMethod(method, list(result.stems), result.scalars, None, list(result.missing),
                            overall=result.scores(), by_class=by_class)


def summarize_evaluation(evaluate_one: Callable[[str, ProgressCallback | None], EvaluationResult],
                         methods: Iterable[str], leave_out: tuple[tuple[str, ...], str] | None = None,
                         progress: ProgressCallback | None = None) -> SummarizedEvaluation:
    """Evaluate ``methods`` one at a time with ``evaluate_one(method, progress)`` and keep each one's summary.

    Args:
        evaluate_one: scores one method on the split (an :class:`EvaluationResult` holding that method), sending
            its progress to the callback it is given.
        methods: the methods, in order.
        leave_out: (image ids, note): applied to each full result first
            (:meth:`EvaluationResult.without`), so the summary is of the split less those images.
        progress: one count over every method: pairs done so far out of the methods done, plus the current
            method's total for it and for each method still to come (exact once the last method starts).
    """
    methods = list(methods)
    summaries, first, computed, before = {}, None, 0, 0
    for position, method in enumerate(methods):
        joined = JoinedProgress(progress, before, len(methods) - position)
        full = evaluate_one(method, joined if progress is not None else None)
        before += joined.total
        if leave_out is not None:
            full = full.without(*leave_out)
        summaries[method] = summarize_method(full, method)
        computed += full.computed
        first = first or full
        del full  # the curves go before the next method is read
    if first is None:
        raise EvaluationError("no methods to summarize")
    return SummarizedEvaluation(first.dataset, first.split, summaries, first.image_classes, computed=computed,
                                left_out=first.left_out)


def summarized(result: EvaluationResult) -> SummarizedEvaluation:
    """A full result summarized (every method), e.g. for a test or a result already in memory."""
    summary = summarize_evaluation(lambda m, _: replace(result, methods={m: result.methods[m]}), list(result.methods))
    return replace(summary, computed=result.computed)
