"""What a method id means: the one place that reads method names.

A method id is the name a method's maps carry in the prediction store (and a row's id in a table):

- ``sam-<model>+<strategy>``: SAM's automatic masks of ``<model>`` (``vit_h``, ``vit_l``, ``vit_b``,
  ``tiny-random``) turned into maps by a selection strategy (``oracle``, ``best-single``,
  ``inside-gt``, ``small-union``, ``contrast``), e.g. ``sam-vit_h+oracle``;
- ``sam2.1-<model>+<strategy or prompt>``: the same with SAM 2.1 (``hiera_t``, ``hiera_s``, ``hiera_b+``,
  ``hiera_l``), e.g. ``sam2.1-hiera_l+oracle``; ``sam2-tiny-random+…`` is the test-size SAM 2 (random
  weights). A model label is matched whole, so ``sam2.1-hiera_b++box`` reads as model ``hiera_b+``;
- ``sam-<model>+<prompt>``: SAM prompted from the ground truth (``box``, ``point``);
- ``sam-<model>+box:jitter=<P>:seed=<N>``: ground-truth boxes with each side moved at random by up to P % (an
  upper bound still: the boxes come from the ground truth);
- ``sam-<model>+box:from=<source>``: boxes of the regions of another method's maps, no ground truth: a deployable
  row when the source is one. The source id is the whole rest of the id, ``+`` included, and is read before
  anything else (``sam-vit_b+box:from=sam-vit_b+small-union`` has source ``sam-vit_b+small-union``, no strategy);
- ``sam-<model>``: the model alone (speed rows);
- a built-in baseline (``ft``, ``sr``, ``hc``, ``mbd``, ``otsu``);
- anything else: maps imported from elsewhere (``MCITF``, the paper's ids such as ``SCRN``); the
  paper's own SAM row is ``SAM``.

:func:`describe` turns an id into a :class:`MethodInfo` (family, SAM model, strategy or prompt, and
the flags *uses the ground truth* — an upper bound, not a deployable result — and *random
weights*). Tables, selection, prompts, speed and every page ask it; nothing else matches method
names by string.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from samis.models import RUNNABLE_MODELS, ModelSpec, find_model

#: selection strategy → whether it looks at the ground truth
SELECTION_STRATEGIES = {"oracle": True, "best-single": True, "inside-gt": True, "small-union": False,
                        "contrast": False}
#: prompt kind → whether it looks at the ground truth (prompts are made from ground-truth components)
PROMPT_KINDS = {"box": True, "point": True}
#: SAM 3's concept prompts → whether they look at the image's label or ground truth (``text``: every vocabulary
#: term on every image, deployable; ``text-own``: the image's own class name, †; ``exemplar``: a ground-truth box, †)
SAM3_PROMPT_KINDS = {"text-own": True, "text": False, "exemplar": True}
LABEL_UPPER_BOUND_NOTE = "upper bound: uses the image's class label"
#: the paper's SAM row id (its table marks it as an upper bound: the masks were chosen by hand)
PAPER_SAM = "SAM"

UPPER_BOUND_NOTE = "upper bound: uses the ground truth"
PAPER_SAM_NOTE = "upper bound: the paper chose SAM's masks by hand against the ground truth"
RANDOM_WEIGHTS_NOTE = "test-size SAM with random weights: not SAM's accuracy"
RANDOM_WEIGHTS_SAM2_NOTE = "test-size SAM 2 with random weights: not SAM 2.1's accuracy"

_SAM_PREFIX = "sam-"
#: how a box-protocol id's prompt part starts (see the module docstring)
BOX_SOURCE_PREFIX = "box:from="
BOX_JITTER_PREFIX = "box:jitter="
# a strategy may carry a variant after one of these (``oracle-10``, ``contrast:ring=5``)
_VARIANT_SEPARATORS = ("-", "_", ":", "=")


@dataclass(frozen=True)
class MethodInfo:
    """What one method id is.

    Attributes:
        id: the method id as given.
        family: ``sam`` (SAM or SAM 2.1 run here, or the paper's ``SAM`` row), ``baseline`` (built in) or
            ``imported`` (maps from elsewhere).
        model: the SAM or SAM 2 model (None for other families, and for the paper's ``SAM``); its
            ``family`` tells ``sam`` from ``sam2.1`` (and ``sam2``, the test-size SAM 2).
        strategy: the selection strategy (``oracle`` …) when the id names one.
        prompt: the prompt kind (``box``, ``point``) when the id names one.
        uses_ground_truth: the maps were made looking at the ground truth: an upper bound.
        random_weights: the maps come from a test-size model with random weights (or their prompts do).
        prompt_source: the method whose maps gave the box prompts (``box:from=…``), else None.
        box_jitter, jitter_seed: the box jitter in percent and its seed (``box:jitter=…:seed=…``), else None.
    """

    id: str
    family: str
    model: ModelSpec | None = None
    strategy: str | None = None
    prompt: str | None = None
    uses_ground_truth: bool = False
    random_weights: bool = False
    prompt_source: str | None = None
    box_jitter: float | None = None
    jitter_seed: int | None = None

    @property
    def is_sam(self) -> bool:
        return self.family == "sam"

    @property
    def upper_bound(self) -> bool:
        return self.uses_ground_truth

    @property
    def note(self) -> str:
        """The remark every table and view shows with this method ("" for a plain method)."""
        notes = []
        if self.random_weights:
            notes.append(self.model.random_weights_note if self.model.code.backend and not self.model.runs_on_sam2
                         else RANDOM_WEIGHTS_SAM2_NOTE if self.model.runs_on_sam2 else RANDOM_WEIGHTS_NOTE)
        if self.uses_ground_truth:
            notes.append(LABEL_UPPER_BOUND_NOTE if self.prompt == "text-own" else UPPER_BOUND_NOTE)
        if self.prompt_source:
            notes.append(f"box prompts from the maps of {self.prompt_source}"
                         + ("" if self.uses_ground_truth else ", no ground truth"))
        return "; ".join(notes)


def _variant_of(text: str, names: Iterable[str]) -> str | None:
    """The registered name that ``text`` is, or is a variant of (``oracle-10`` → ``oracle``)."""
    for name in names:
        if text == name or text.startswith(tuple(name + s for s in _VARIANT_SEPARATORS)):
            return name
    return None


def describe(method: str) -> MethodInfo:
    """What a method id means (never raises: an unknown id is an imported method).

    Args:
        method: a method id such as ``sam-vit_h+oracle``, ``sam-tiny-random+box``, ``ft``, ``MCITF``.

    Returns:
        the :class:`MethodInfo`.
    """
    if method == PAPER_SAM:
        # the id alone says nothing of how its masks were chosen: the paper's table marks its own row
        return MethodInfo(method, "sam")
    model = _model_of_id(method)
    if model is not None or method.lower().startswith(_SAM_PREFIX):
        if model is not None:
            how = method[len(model.label) + 1:]
        else:
            how = method.partition("+")[2]
        if how.startswith(BOX_SOURCE_PREFIX) or how.startswith(BOX_JITTER_PREFIX):
            return _describe_box(method, model, how)
        strategy = _variant_of(how, SELECTION_STRATEGIES) if how else None
        kinds = {**SAM3_PROMPT_KINDS, **PROMPT_KINDS}  # text-own before text: the longer name first
        prompt = _variant_of(how, kinds) if how and strategy is None else None
        uses_gt = (SELECTION_STRATEGIES[strategy] if strategy else False) or (kinds[prompt] if prompt else False)
        return MethodInfo(method, "sam", model=model, strategy=strategy or (how if how and not prompt else None),
                          prompt=prompt, uses_ground_truth=uses_gt,
                          random_weights=bool(model and model.random_weights))
    from samis.baselines import BASELINES  # OpenCV: only when a non-SAM id is asked about

    return MethodInfo(method, "baseline" if method in BASELINES else "imported")


def _describe_box(method: str, model: ModelSpec | None, how: str) -> MethodInfo:
    """A box-protocol id: ``box:from=<source>`` (the rest of the id, whole) or ``box:jitter=<P>:seed=<N>``."""
    random = bool(model and model.random_weights)
    if how.startswith(BOX_SOURCE_PREFIX):
        source = how[len(BOX_SOURCE_PREFIX):]
        origin = describe(source) if source else MethodInfo(source, "imported")
        return MethodInfo(method, "sam", model=model, prompt="box", uses_ground_truth=origin.uses_ground_truth,
                          random_weights=random or origin.random_weights, prompt_source=source)
    fields = dict(part.partition("=")[::2] for part in how[len("box:"):].split(":"))
    try:
        jitter, seed = float(fields.get("jitter", "")), int(fields.get("seed", "0"))
    except ValueError:
        jitter, seed = None, None
    return MethodInfo(method, "sam", model=model, prompt="box", uses_ground_truth=True, random_weights=random,
                      box_jitter=jitter, jitter_seed=seed)


def box_method_id(model: str, *, jitter: float | None = None, seed: int = 0, source: str | None = None) -> str:
    """The id of box-prompted maps with a jitter (``sam-vit_b+box:jitter=10:seed=0``) or a prompt source
    (``sam-vit_b+box:from=ft``).

    Raises:
        ValueError: unknown model, or both or neither of jitter and source.
    """
    if (jitter is None) == (source is None):
        raise ValueError("a box method id has a jitter or a prompt source, not both")
    if source is not None:
        return f"{sam_method_id(model, 'box')[:-len('box')]}{BOX_SOURCE_PREFIX}{source}"
    return f"{sam_method_id(model, 'box')}:jitter={jitter:g}:seed={int(seed)}"


def _model_of_id(method: str) -> ModelSpec | None:
    """The model whose label starts a method id (``sam2.1-hiera_b++oracle`` → hiera_b+), the longest label first."""
    lowered = method.lower()
    for model in sorted(RUNNABLE_MODELS.values(), key=lambda m: -len(m.label)):
        if lowered == model.label or lowered.startswith(model.label + "+"):
            return model
    return None


def sam_method_id(model: str, how: str | None = None) -> str:
    """The id of SAM maps: ``sam_method_id("vit_h", "oracle")`` → ``sam-vit_h+oracle``.

    Args:
        model: a ``--model`` key (``vit_h``, ``tiny``, ``hiera_l``) or a model label (``sam-vit_h``, ``sam2.1-hiera_l``).
        how: a selection strategy or prompt kind (None: the model alone).

    Raises:
        ValueError: unknown model, strategy or prompt kind.
    """
    found = find_model(model)
    if found is None:
        raise ValueError(f"unknown SAM model {model!r} (choose from {', '.join(RUNNABLE_MODELS)})")
    if how is None:
        return found.label
    if how not in SELECTION_STRATEGIES and how not in PROMPT_KINDS:
        raise ValueError(f"unknown selection strategy or prompt kind {how!r} "
                         f"(choose from {', '.join([*SELECTION_STRATEGIES, *PROMPT_KINDS])})")
    return f"{found.label}+{how}"


def sam_model_of(text: str) -> ModelSpec | None:
    """The SAM model a user named: a key (``vit_b``, ``tiny``, ``hiera_l``), a label (``sam-vit_b``,
    ``sam2.1-hiera_l``) or ``sam-tiny``."""
    text = text.strip().lower()
    bare = text[len(_SAM_PREFIX):] if text.startswith(_SAM_PREFIX) else text
    return find_model(text) or find_model(bare)


def first_sam_method(methods: Iterable[str]) -> str | None:
    """The method a SAM comparison is about: the paper's ``SAM`` row, else the first SAM method; None if none."""
    methods = list(methods)
    if PAPER_SAM in methods:
        return PAPER_SAM
    return next((m for m in methods if describe(m).is_sam), None)


def upper_bound_methods(methods: Iterable[str]) -> list[str]:
    """The methods among ``methods`` that use the ground truth."""
    return [m for m in methods if describe(m).uses_ground_truth]


def random_weight_methods(methods: Iterable[str]) -> list[str]:
    """The methods among ``methods`` made by a model with random weights."""
    return [m for m in methods if describe(m).random_weights]
