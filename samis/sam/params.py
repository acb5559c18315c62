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


@dataclass(frozen=True)
class Sam2AmgParams(AmgParams):
    """Every ``SAM2AutomaticMaskGenerator`` parameter, with its defaults (``pred_iou_thresh`` 0.8, not SAM's 0.88).

    Beyond SAM's: ``mask_threshold`` (logit threshold of a mask), ``use_m2m`` (one refinement step
    feeding each mask back as a prompt) and ``multimask_output`` (three masks per point, or one).
    ``min_mask_region_area`` also fills holes and removes sprinkles in the low-resolution masks; sam2
    does that with its optional CUDA extension, samis with OpenCV where the extension cannot run.
    """

    pred_iou_thresh: float = 0.8
    mask_threshold: float = 0.0
    use_m2m: bool = False
    multimask_output: bool = True

    def result_key(self) -> dict:
        """As SAM's, and with ``min_mask_region_area`` the hole filling that went with it: masks cached
        before samis filled holes on the CPU too (sam2 skipped it there) no longer count as done."""
        key = super().result_key()
        if self.min_mask_region_area > 0:
            key["hole_filling"] = "8-connected"
        return key


#: the parameters only SAM 2's generator has
SAM2_ONLY_PARAMS = ("mask_threshold", "use_m2m", "multimask_output")


def params_for_model(sam2: bool, values: dict | None = None) -> AmgParams:
    """The generator parameters of a model family: given values over that family's defaults.

    Args:
        sam2: the model is a SAM 2 model (:class:`Sam2AmgParams`), else SAM (:class:`AmgParams`).
        values: parameter name → value; None values take the family's default.

    Raises:
        SamError: a SAM 2-only parameter set for a SAM model, or a bad value.
    """
    given = {name: value for name, value in (values or {}).items() if value is not None}
    if sam2:
        return Sam2AmgParams(**given)
    extra = [name for name in SAM2_ONLY_PARAMS if name in given]
    if extra:
        raise SamError(f"{extra[0]} is a SAM 2.1 generator parameter; SAM's generator has none (drop it or "
                       "choose a SAM 2.1 model)")
    return AmgParams(**given)


def as_model_params(sam2: bool, params: AmgParams | None) -> AmgParams:
    """``params`` for a model family: SAM 2 models get :class:`Sam2AmgParams` (SAM-only values kept as given)."""
    if params is None:
        return Sam2AmgParams() if sam2 else AmgParams()
    if sam2 and not isinstance(params, Sam2AmgParams):
        return Sam2AmgParams(**params.as_dict())
    if not sam2 and isinstance(params, Sam2AmgParams):
        return params_for_model(False, {k: v for k, v in params.as_dict().items()
                                        if k not in SAM2_ONLY_PARAMS or v != getattr(Sam2AmgParams, k)})
    return params
