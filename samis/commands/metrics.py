"""``metrics`` — the metric card: each metric's exact convention and the pysodmetrics version."""

from __future__ import annotations

import sys

from samis.commands._common import format_name
from samis.metric_card import metric_card_markdown, metric_card_text

FORMATS = ("table", "markdown")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "metrics", help="the metric card: E-/F-measure variants, beta^2, thresholds, adaptive rule, empty ground truth",
        description="States each metric's exact convention as samis computes it through pysodmetrics "
                    "(the same card as the dashboard's Overview, section 'Metric card').")
    parser.add_argument("--format", choices=FORMATS, type=format_name, default="table",
                        help="table (plain text) or markdown (also: md)")
    parser.set_defaults(handler=_metrics)


def _metrics(args, workspace) -> int:
    sys.stdout.write(metric_card_markdown() if args.format == "markdown" else metric_card_text())
    return 0
