"""The automatic mask generators' parameters, declared once: the CLI flags, the Run page's controls, the
checks and the cache key all come from :data:`GENERATOR_PARAMS`.

Each :class:`GeneratorParam` gives a name, a type, its default per family (SAM's
``SamAutomaticMaskGenerator``, SAM 2's ``SAM2AutomaticMaskGenerator``), a help line and a valid range.
Counts have an upper bound too, so that a typo cannot start a run of hours per image:

* ``points_per_side`` at most 128 (128² = 16,384 prompts per crop; the paper uses 32),
* ``points_per_batch`` at most 4096 (prompts decoded at once; the out-of-memory retry halves it),
* ``crop_n_layers`` at most 4 (layer n adds 4ⁿ crops), ``crop_n_points_downscale_factor`` at most 8.

:class:`AmgParams` (SAM) and :class:`Sam2AmgParams` (SAM 2, a subclass) are built from the declaration.
This module imports no torch: the CLI builds its ``sam`` options from it for every command, ``--help``
included. :mod:`samis.sam.amg` re-exports :class:`AmgParams`.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import asdict, dataclass
from typing import Any

from samis.errors import SamError

_SAME = object()


@dataclass(frozen=True)
class GeneratorParam:
    """One automatic mask generator parameter.

    Attributes:
        name: the generator's keyword (``points_per_side``).
        kind: ``int``, ``float`` or ``bool``.
        default: SAM's default (SAM 2's too, unless ``sam2_default`` says otherwise).
        help: one line for ``--help`` and the Run page.
        low, high: the valid range, both ends included (None: unbounded on that side).
        sam2_default: SAM 2's default where it differs from SAM's.
        sam2_only: only SAM 2's generator has it.
        step: the Run page's step for a float.
        in_result_key: it changes which masks come out (``points_per_batch`` does not), so it is part of
            the mask cache's key.
        flag: the CLI flag, where it is not ``--`` + the name with dashes (``--single-mask`` sets
            ``multimask_output`` to False).
        hq_only: only HQ-SAM's generator has it (``hq_token_only``).
    """

    name: str
    kind: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    sam2_default: Any = _SAME
    sam2_only: bool = False
    step: float | None = None
    in_result_key: bool = True
    flag: str | None = None
    hq_only: bool = False

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def default_for(self, sam2: bool) -> Any:
        """The default of one family's generator (SAM's for ``sam2=False``)."""
        return self.default if not sam2 or self.sam2_default is _SAME else self.sam2_default

    @property
    def same_default(self) -> bool:
        """Both generators have the same default (the CLI then shows it as the flag's default)."""
        return not self.sam2_only and self.sam2_default is _SAME

    def range_text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"[{_number(self.low)}, {_number(self.high)}]"
        return f"at least {_number(self.low)}" if self.low is not None else f"at most {_number(self.high)}"

    def check(self, value) -> None:
        """Raises SamError (one line naming the parameter, its flag and its range) for a value out of range."""
        if self.kind is bool:
            if not (isinstance(value, bool) or type(value).__name__ == "bool_"):  # numpy's bool too
                raise SamError(f"{self.name} ({self.cli_flag}) must be true or false, got {value!r}")
            return
        integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if not (integral or (self.kind is float and isinstance(value, numbers.Real) and not isinstance(value, bool))):
            raise SamError(f"{self.name} ({self.cli_flag}) must be {'an integer' if self.kind is int else 'a number'}, "
                           f"got {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high) \
                or value != value:
            raise SamError(f"{self.name} must lie in {self.range_text()} ({self.cli_flag}), got {value}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


#: every parameter of the two generators, in SamAutomaticMaskGenerator's order, then SAM 2's own
GENERATOR_PARAMS: tuple[GeneratorParam, ...] = (
    GeneratorParam("points_per_side", int, 32, "prompts per image side (a grid of N×N points per crop)", 1, 128),
    GeneratorParam("points_per_batch", int, 64, "prompts decoded at once (memory, not masks)", 1, 4096,
                   in_result_key=False),
    GeneratorParam("pred_iou_thresh", float, 0.88, "keep masks whose predicted IoU is at least this", 0.0, 1.0,
                   sam2_default=0.8, step=0.01),
    GeneratorParam("stability_score_thresh", float, 0.95, "keep masks whose stability score is at least this",
                   0.0, 1.0, step=0.01),
    GeneratorParam("stability_score_offset", float, 1.0, "logit offset of the stability score", 0.0, None, step=0.1),
    GeneratorParam("box_nms_thresh", float, 0.7, "box IoU above which duplicate masks are dropped", 0.0, 1.0,
                   step=0.01),
    GeneratorParam("crop_n_layers", int, 0, "layers of image crops to run on as well (layer n: 4ⁿ crops)", 0, 4),
    GeneratorParam("crop_nms_thresh", float, 0.7, "box IoU above which duplicates across crops are dropped",
                   0.0, 1.0, step=0.01),
    GeneratorParam("crop_overlap_ratio", float, 512 / 1500, "overlap of neighbouring crops (share of the crop)",
                   0.0, 1.0, step=0.01),
    GeneratorParam("crop_n_points_downscale_factor", int, 1, "points per side divided by this in each crop layer",
                   1, 8),
    GeneratorParam("min_mask_region_area", int, 0, "fill holes and remove islands smaller than this (pixels)", 0),
    GeneratorParam("mask_threshold", float, 0.0, "logit threshold of a mask", -20.0, 20.0, sam2_only=True, step=0.1),
    GeneratorParam("use_m2m", bool, False, "one refinement step, each mask fed back as a prompt", sam2_only=True),
    GeneratorParam("multimask_output", bool, True, "three masks per point (--single-mask: one)", sam2_only=True,
                   flag="--single-mask"),
    GeneratorParam("hq_token_only", bool, False, "HQ-SAM: the HQ output token's mask alone (default: HQ + SAM's mask)",
                   hq_only=True),
)
PARAMS_BY_NAME = {p.name: p for p in GENERATOR_PARAMS}
#: the parameters only SAM 2's generator has
SAM2_ONLY_PARAMS = tuple(p.name for p in GENERATOR_PARAMS if p.sam2_only)
#: the parameters only HQ-SAM's generator has
HQ_ONLY_PARAMS = tuple(p.name for p in GENERATOR_PARAMS if p.hq_only)


class _GeneratorParamsBase:
    """What both parameter classes do: check every value, and say which of them key the mask cache."""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            PARAMS_BY_NAME[field.name].check(getattr(self, field.name))

    def as_dict(self) -> dict:
        return asdict(self)

    def result_key(self) -> dict:
        """The parameters that change which masks come out (``points_per_batch`` does not)."""
        return {name: value for name, value in self.as_dict().items() if PARAMS_BY_NAME[name].in_result_key}

    def stock_kwargs(self) -> dict:
        """Keyword arguments for the official generator."""
        return self.as_dict()


def _params_class(name: str, sam2: bool, bases: tuple, doc: str):
    own = [p for p in GENERATOR_PARAMS if (sam2 or not p.sam2_only) and not p.hq_only]
    if sam2:  # the subclass declares only what differs from SAM's (a changed default, a new parameter)
        own = [p for p in own if p.sam2_only or not p.same_default]
    fields = [(p.name, p.kind, dataclasses.field(default=p.default_for(sam2))) for p in own]
    cls = dataclasses.make_dataclass(name, fields, bases=bases, frozen=True)
    cls.__module__, cls.__qualname__, cls.__doc__ = __name__, name, doc  # picklable by name (Ray), documented
    return cls


AmgParams = _params_class("AmgParams", False, (_GeneratorParamsBase,),
                          "Every ``SamAutomaticMaskGenerator`` parameter, with SAM's defaults (the paper's strategy); "
                          "see :data:`GENERATOR_PARAMS`.")


class _Sam2Key:
    def result_key(self) -> dict:
        """As SAM's, and with ``min_mask_region_area`` the hole filling that went with it: masks cached
        before samis filled holes on the CPU too (sam2 skipped it there) no longer count as done."""
        key = super().result_key()
        if self.min_mask_region_area > 0:
            key["hole_filling"] = "8-connected"
        return key


Sam2AmgParams = _params_class(
    "Sam2AmgParams", True, (_Sam2Key, AmgParams),
    "Every ``SAM2AutomaticMaskGenerator`` parameter, with its defaults (``pred_iou_thresh`` 0.8, not SAM's 0.88).\n\n"
    "Beyond SAM's: ``mask_threshold``, ``use_m2m`` and ``multimask_output`` (see :data:`GENERATOR_PARAMS`). "
    "``min_mask_region_area`` also fills holes and removes sprinkles in the low-resolution masks; sam2 does "
    "that with its optional CUDA extension, samis with OpenCV where the extension cannot run.")


HqAmgParams = dataclasses.make_dataclass(
    "HqAmgParams", [(p.name, p.kind, dataclasses.field(default=p.default)) for p in GENERATOR_PARAMS if p.hq_only],
    bases=(AmgParams,), frozen=True)
HqAmgParams.__module__, HqAmgParams.__qualname__ = __name__, "HqAmgParams"
HqAmgParams.__doc__ = ("HQ-SAM's ``SamAutomaticMaskGenerator`` parameters: SAM's, and ``hq_token_only`` (the HQ token's "
                       "mask alone, passed to its predictor).")


def params_for_model(model, values: dict | None = None) -> AmgParams:
    """The generator parameters of a model: given values over its family's defaults.

    Args:
        model: a :class:`samis.models.ModelSpec` (its ``params_class`` is the schema).
        values: parameter name → value; None values take the family's default.

    Raises:
        SamError: a SAM 2-only parameter set for a SAM model, or a value out of range (one line).
    """
    given = {name: value for name, value in (values or {}).items() if value is not None}
    schema = model.params_class
    extra = [name for name in SAM2_ONLY_PARAMS if name in given and not issubclass(schema, Sam2AmgParams)]
    if extra:
        raise SamError(f"{extra[0]} is a SAM 2.1 generator parameter; {_title(model)}'s generator has none (drop it "
                       "or choose a SAM 2.1 model)")
    extra = [name for name in HQ_ONLY_PARAMS if name in given and not issubclass(schema, HqAmgParams)]
    if extra:
        raise SamError(f"{extra[0]} is an HQ-SAM generator parameter; {_title(model)}'s generator has none (drop it "
                       "or choose an HQ-SAM model)")
    return schema(**given)


def _title(model) -> str:
    return getattr(getattr(model, "code", None), "title", "this model")


def as_model_params(model, params: AmgParams | None) -> AmgParams:
    """``params`` for a model's schema: SAM 2 models get :class:`Sam2AmgParams` (SAM-only values kept as given)."""
    schema = model.params_class
    if params is None:
        return schema()
    if type(params) is schema:
        return params
    values = {k: v for k, v in params.as_dict().items() if k not in HQ_ONLY_PARAMS or issubclass(schema, HqAmgParams)}
    if issubclass(schema, Sam2AmgParams):
        return Sam2AmgParams(**values)
    return params_for_model(model, {k: v for k, v in values.items()
                                    if k not in SAM2_ONLY_PARAMS or v != PARAMS_BY_NAME[k].default})
