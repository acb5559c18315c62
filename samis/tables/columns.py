"""The metric columns a comparison table can show: names, aliases, and which direction is better."""

from __future__ import annotations

from samis.errors import ReportError
from samis.metrics import HIGHER_IS_BETTER

#: the paper's five columns (Em = max E-measure, Fm = max F-measure)
TABLE_METRICS = ("Sa", "MAE", "Em", "Fw", "Fm")
#: every metric a table can show → its key in ``EvaluationResult.scores[method]``
EVALUATION_KEYS = {
    "Sa": "Sa", "MAE": "MAE", "Em": "maxEm", "Fw": "Fw", "Fm": "maxFm",
    "meanEm": "meanEm", "adpEm": "adpEm", "meanFm": "meanFm", "adpFm": "adpFm",
}
#: other spellings accepted for a table metric
METRIC_ALIASES = {"maxEm": "Em", "maxFm": "Fm", "Mae": "MAE", "mae": "MAE", "Smeasure": "Sa", "S": "Sa"}


#: metric → the label every view shows: an IoU, Dice or F value names its threshold (only labels: JSON keys,
#: cache keys and URL values keep the metric's own name)
METRIC_LABELS = {"IoU": "IoU@adaptive", "Dice": "Dice@adaptive", "adpFm": "Fm@adaptive", "adpEm": "Em@adaptive",
                 "maxFm": "Fm@max", "meanFm": "Fm@mean", "Fm": "Fm@max", "maxEm": "Em@max", "meanEm": "Em@mean",
                 "Em": "Em@max"}


def metric_label(metric: str) -> str:
    """The label of a metric in a caption, a table header or an export: ``IoU`` → ``IoU@adaptive``
    (``@max`` / ``@mean``: over the 256 thresholds; ``@adaptive``: twice the map's mean, at most 255)."""
    return METRIC_LABELS.get(metric, metric)


def resolve_metric(name: str) -> str:
    """The table name of a metric (``maxEm`` → ``Em``).

    Raises:
        ReportError: no such metric.
    """
    key = METRIC_ALIASES.get(name.strip(), name.strip())
    if key not in EVALUATION_KEYS:
        raise ReportError(
            f"unknown metric {name!r} (choose from {', '.join(EVALUATION_KEYS)}; maxEm and maxFm are Em and Fm)"
        )
    return key


def resolve_metrics(names) -> tuple[str, ...]:
    """Table names of a list of metrics, in order, without repeats.

    Raises:
        ReportError: an unknown metric, or an empty list.
    """
    metrics: list[str] = []
    for name in names:
        key = resolve_metric(name)
        if key not in metrics:
            metrics.append(key)
    if not metrics:
        raise ReportError("no metrics to show")
    return tuple(metrics)


def higher_is_better(metric: str) -> bool:
    """True when a higher value of a table metric is better (False only for MAE)."""
    return HIGHER_IS_BETTER.get(metric, HIGHER_IS_BETTER.get(EVALUATION_KEYS.get(metric, metric), True))
