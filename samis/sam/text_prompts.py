"""SAM 3's concept prompts as samis runs them: the vocabulary, the modes, the method ids, instances → one map.

* **text** (deployable): every image is prompted with *every* term of the vocabulary, so nothing about the image
  (its label, its ground truth) is used. The vocabulary defaults to the dataset's defect class names (Magnetic
  Tile's defect-free class is not a term); ``--vocabulary "scratch,crack"`` gives another.
* **text-own** (``--text-per-class``, †): each image gets only its own class's name: that reads the image's label,
  so its rows are upper bounds.
* **exemplar** (†): one ground-truth box of the image (its largest component) as a positive exemplar of the concept.
* **box**, **point** (†): SAM-style prompts per ground-truth component through SAM 3's instance predictor.

A map is the per-pixel maximum of score × mask over the instances with score ≥ the threshold (``max``, default), or
their binary union (``union``). The method id names the mode and, for a vocabulary, its hash
(``sam3-tiny-random+text-1a2b3c4d``); the manifest keeps the vocabulary, and a second vocabulary under the same id
is refused. No torch here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from samis.datasets import MT_FREE_CLASS, Dataset
from samis.errors import SamError
from samis.methods import PROMPT_KINDS, SAM3_PROMPT_KINDS

#: SAM 3's modes in samis → whether its maps use the image's label or ground truth (an upper bound, †)
SAM3_MODES = {**SAM3_PROMPT_KINDS, **PROMPT_KINDS}
#: how a map is made of instances
COMBINES = ("max", "union")
DEFAULT_SCORE_THRESHOLD = 0.5
#: the class a dataset without class names gives every image (``folder`` layout without classes.csv)
NO_CLASS = "all"


def parse_vocabulary(text: str, where: str = "--vocabulary") -> tuple[str, ...]:
    """The terms of a comma-separated vocabulary, whitespace tidied, repeats dropped (first kept).

    Raises:
        SamError: an empty vocabulary or an empty term (one line naming it).
    """
    if text is None or not str(text).strip():
        raise SamError(f"{where}: the vocabulary is empty; give terms such as \"scratch,crack\"")
    terms: list[str] = []
    for position, raw in enumerate(str(text).split(","), start=1):
        term = " ".join(raw.split())
        if not term:
            raise SamError(f"{where}: term {position} of {text!r} is empty")
        if term not in terms:
            terms.append(term)
    return tuple(terms)


def class_term(cls: str) -> str:
    """The text prompt of a class name (``Blowhole`` → ``blowhole``; SD-saliency-900's are words already)."""
    return " ".join(cls.replace("_", " ").split()).lower()


#: class names that mean "no defect" (as terms): never a term of the default vocabulary. Magnetic Tile's "Free",
#: the demo's "undamaged", MVTec AD's "good" and the usual others.
DEFECT_FREE_TERMS = frozenset({class_term(MT_FREE_CLASS), "undamaged", "good", "ok", "normal", "defect free",
                               "no defect", "non defective"})


def default_vocabulary(dataset: Dataset) -> tuple[str, ...]:
    """The dataset's defect class names as terms; a class whose name means "no defect" (:data:`DEFECT_FREE_TERMS`:
    MT's "Free", the demo's "undamaged", …) is not a term.

    Raises:
        SamError: the dataset has no class names (one line saying to give ``--vocabulary``).
    """
    classes = [c for c in dataset.classes if c != NO_CLASS and class_term(c) not in DEFECT_FREE_TERMS]
    if not classes:
        raise SamError(f"dataset {dataset.id!r} has no defect class names to prompt SAM 3 with; give --vocabulary "
                       "\"scratch,crack,…\"")
    return tuple(dict.fromkeys(class_term(c) for c in classes))


@dataclass(frozen=True)
class Sam3Request:
    """How SAM 3 is prompted over a dataset.

    Attributes:
        mode: one of :data:`SAM3_MODES`.
        vocabulary: the terms (text mode; the class names' terms for text-own; empty for the others).
        threshold: instances scoring below it are dropped (0 to 1).
        combine: ``max`` (score × mask, per-pixel maximum) or ``union`` (binary).
    """

    mode: str
    vocabulary: tuple[str, ...] = ()
    threshold: float = DEFAULT_SCORE_THRESHOLD
    combine: str = "max"

    def checked(self) -> "Sam3Request":
        """Raises SamError (one line) for an unknown mode or combine, a threshold outside [0, 1], an empty term."""
        if self.mode not in SAM3_MODES:
            raise SamError(f"--prompts: SAM 3 has no {self.mode!r} mode; it has {', '.join(SAM3_MODES)}")
        if self.combine not in COMBINES:
            raise SamError(f"--combine: {self.combine!r} is not one of {', '.join(COMBINES)}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise SamError(f"--score-threshold: {self.threshold} is outside 0 to 1")
        if self.mode == "text" or (self.mode == "text-own" and self.vocabulary):
            for term in self.vocabulary or ("",):
                parse_vocabulary(term)
        return self

    @property
    def upper_bound(self) -> bool:
        return SAM3_MODES[self.mode]

    @property
    def vocabulary_hash(self) -> str:
        """8 hex digits of the vocabulary (its terms in order, as given)."""
        return hashlib.sha256("\n".join(self.vocabulary).encode("utf-8")).hexdigest()[:8]

    def how(self) -> str:
        """The part of the method id after the model: ``text-1a2b3c4d``, ``text-own``, ``exemplar-union-s0.3`` …"""
        how = f"text-{self.vocabulary_hash}" if self.mode == "text" else self.mode
        if self.mode in ("box", "point"):
            return how  # one mask per ground-truth component, united: no threshold, no combine
        if self.combine != "max":
            how += f"-{self.combine}"
        if float(self.threshold) != DEFAULT_SCORE_THRESHOLD:
            how += f"-s{float(self.threshold):g}"
        return how

    def uses(self) -> str:
        """What the maps were made from, for manifests and tables."""
        return {"text": "every vocabulary term on every image: no label, no ground truth",
                "text-own": "each image's own class name: reads the image's label (upper bound)",
                "exemplar": "one ground-truth box of the image as a positive exemplar (upper bound)",
                "box": "one box per ground-truth component (upper bound)",
                "point": "one point per ground-truth component (upper bound)"}[self.mode]


def check_same_vocabulary(manifest: dict, request: Sam3Request, method: str) -> None:
    """Refuse writing ``method`` with another vocabulary than its stored maps were made with.

    Raises:
        SamError: one line naming the method and both vocabularies.
    """
    stored = manifest.get("vocabulary")
    if stored is not None and tuple(stored) != tuple(request.vocabulary):
        raise SamError(f"method {method}: its maps were made with the vocabulary {', '.join(stored)}, not "
                       f"{', '.join(request.vocabulary)}; delete the method or use another vocabulary id")


def instances_to_map(masks: np.ndarray, scores: np.ndarray, threshold: float, combine: str,
                     shape: tuple[int, int]) -> np.ndarray:
    """One map from instances: float32 in [0, 1] (``max``: score × mask, per-pixel maximum) or bool (``union``).

    Args:
        masks: (n, H, W) bool; scores: (n,).
    """
    keep = np.asarray(scores) >= threshold
    if not keep.any():
        return np.zeros(shape, np.float32 if combine == "max" else bool)
    masks, scores = np.asarray(masks, bool)[keep], np.asarray(scores, np.float32)[keep]
    if combine == "union":
        return masks.any(axis=0)
    return (masks * scores[:, None, None]).max(axis=0).astype(np.float32)
