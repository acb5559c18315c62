"""Speed table: parameters, model size and frames per second of what samis can run here, beside Table 7.

Modules: :mod:`~samis.speed.timing` (the timing protocol, :class:`SpeedSubject`, :class:`SpeedRow`;
imports nothing of SAM, so the SAM engine can describe itself with it), :mod:`~samis.speed.sam_accounting`
(SAM's parameters counted without weights), :mod:`~samis.speed.table` (the table and its formats) and
:mod:`~samis.speed.report` (gathering subjects and images: :func:`speed_report`).
The public names are re-exported here: ``from samis.speed import speed_report`` works.
"""

from samis.speed.report import (
    SYNTHETIC_SIZE, TINY_SAM, baseline_subjects, dataset_images, parse_checkpoint_options, sam_subjects,
    speed_report, split_speed_methods, synthetic_image,
)
from samis.speed.sam_accounting import (
    OFFICIAL_CHECKPOINT_BYTES, SAM_TYPES, explain_parameter_gap, printed_sam_params, sam_parameter_breakdown,
)
from samis.speed.table import SpeedTable, paper_speed_rows, speed_table
from samis.speed.timing import SpeedRow, SpeedSubject, TimingProtocol, cpu_name, measure_fps, protocol_text, size_text

__all__ = [
    "OFFICIAL_CHECKPOINT_BYTES", "SAM_TYPES", "SYNTHETIC_SIZE", "TINY_SAM", "SpeedRow", "SpeedSubject", "SpeedTable",
    "TimingProtocol",
    "baseline_subjects", "cpu_name", "dataset_images", "explain_parameter_gap", "measure_fps",
    "paper_speed_rows", "parse_checkpoint_options", "printed_sam_params", "protocol_text", "sam_parameter_breakdown",
    "sam_subjects", "size_text", "speed_report", "speed_table", "split_speed_methods", "synthetic_image",
]
