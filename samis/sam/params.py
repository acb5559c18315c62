"""The automatic mask generator's parameters, apart from the generator so that reading them needs no torch.

The CLI builds its ``sam`` options from :class:`AmgParams`'s defaults for every command, ``--help``
included; keeping this class free of torch keeps those commands fast. :mod:`samis.sam.amg` re-exports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from samis.errors import SamError


@dataclass(frozen=True)
class AmgParams:
    """Every ``SamAutomaticMaskGenerator`` parameter, with SAM's defaults (the paper's strategy)."""

    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    crop_nms_thresh: float = 0.7
    crop_overlap_ratio: float = 512 / 1500
    crop_n_points_downscale_factor: int = 1
    min_mask_region_area: int = 0

    def __post_init__(self):
        if self.points_per_side < 1:
            raise SamError(f"points_per_side must be at least 1, got {self.points_per_side}")
        if self.points_per_batch < 1:
            raise SamError(f"points_per_batch must be at least 1, got {self.points_per_batch}")
        if self.crop_n_layers < 0:
            raise SamError(f"crop_n_layers must be 0 or more, got {self.crop_n_layers}")
        for name in ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh", "crop_nms_thresh"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SamError(f"{name} must lie in [0, 1], got {value}")

    def as_dict(self) -> dict:
        return asdict(self)

    def result_key(self) -> dict:
        """The parameters that change which masks come out (``points_per_batch`` does not)."""
        key = self.as_dict()
        key.pop("points_per_batch")
        return key

    def stock_kwargs(self) -> dict:
        """Keyword arguments for ``segment_anything.SamAutomaticMaskGenerator``."""
        return self.as_dict()
