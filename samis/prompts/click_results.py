"""What a click run measured: NoC@t, NoF@t and the mean IoU after k clicks, per image and per class, with
bootstrap intervals (images resampled within their class, as :mod:`samis.stats` does)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samis.prompts.clicks import DEFAULT_TARGETS, clicks_to_reach, failed
from samis.runs import Report
from samis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, percentile_interval, resample_indices

#: what every view says beside a test-size model's clicks
RANDOM_WEIGHTS_CLICKS_NOTE = "random weights: these clicks test the pipeline, not the model's accuracy"


@dataclass
class ImageClicks:
    """One image's session: its clicks ``[x, y, 1 positive / 0 negative]`` and the IoU after each."""

    image: str
    cls: str
    clicks: list[list[int]]
    ious: list[float]

    def iou_at(self, max_clicks: int) -> np.ndarray:
        """The IoU after k = 1 … max_clicks (the last value carried where the mask was already exact)."""
        values = np.asarray(self.ious, float)
        return np.concatenate([values, np.full(max_clicks - len(values), values[-1])])


@dataclass
class ClickResult(Report):
    """The clicks of one model on one split.

    Attributes:
        images: the defect images' sessions, in the split's order.
        skipped: the defect-free images (empty ground truth), not clicked on.
        random_weights: the model is a test-size one with random weights (its numbers are not the model's).
    """

    dataset: str
    split: str
    model: str
    max_clicks: int
    mask_input: bool
    images: list[ImageClicks]
    skipped: list[str] = field(default_factory=list)
    random_weights: bool = False
    computed: int = 0
    cached: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        noc = ", ".join(f"NoC@{round(t * 100)} {self.noc(t):.2f}" for t in DEFAULT_TARGETS)
        note = f"  [{RANDOM_WEIGHTS_CLICKS_NOTE}]" if self.random_weights else ""
        return (f"{self.model} clicks on {self.dataset} ({self.split}): {len(self.images)} images, {noc}, "
                f"{len(self.skipped)} defect-free skipped; {self.computed} computed, {self.cached} cached{note}")

    # ---- per image ------------------------------------------------------------------------------
    def noc_per_image(self, target: float) -> np.ndarray:
        return np.array([clicks_to_reach(i.iou_at(self.max_clicks), target, self.max_clicks) for i in self.images],
                        float)

    def iou_matrix(self) -> np.ndarray:
        """(images, max_clicks): the IoU of each image after k clicks."""
        return np.stack([i.iou_at(self.max_clicks) for i in self.images])

    # ---- the dataset ----------------------------------------------------------------------------
    def noc(self, target: float) -> float:
        return float(self.noc_per_image(target).mean())

    def nof(self, target: float) -> int:
        return sum(failed(i.ious, target) for i in self.images)

    def miou_at(self) -> list[float]:
        return self.iou_matrix().mean(axis=0).tolist()

    def _resamples(self, resamples: int, seed: int) -> np.ndarray:
        return resample_indices(len(self.images), resamples, seed, [i.cls for i in self.images])

    def noc_interval(self, target: float, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> list[float]:
        """95 % percentile bootstrap interval of NoC@target."""
        values = self.noc_per_image(target)[self._resamples(resamples, seed)].mean(axis=1)
        return percentile_interval(values).tolist()

    def miou_interval(self, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> list[list[float]]:
        """95 % intervals of the mean IoU after k clicks: ``[[low, high] for k = 1 … max]``."""
        values = self.iou_matrix()[self._resamples(resamples, seed)].mean(axis=1)  # (B, max_clicks)
        return percentile_interval(values).T.tolist()

    def per_class(self, targets=DEFAULT_TARGETS) -> dict[str, dict]:
        """NoC, NoF and mIoU@k of each defect class."""
        out = {}
        for cls in sorted({i.cls for i in self.images}):
            part = ClickResult(self.dataset, self.split, self.model, self.max_clicks, self.mask_input,
                               [i for i in self.images if i.cls == cls])
            out[cls] = {"images": len(part.images), "noc": {_t(t): part.noc(t) for t in targets},
                        "nof": {_t(t): part.nof(t) for t in targets}, "miou_at": part.miou_at()}
        return out

    def document(self, targets=DEFAULT_TARGETS, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> dict:
        """The ``clicks`` command's JSON document."""
        return {
            "dataset": self.dataset, "split": self.split, "model": self.model, "max_clicks": self.max_clicks,
            "mask_input": self.mask_input,
            "note": RANDOM_WEIGHTS_CLICKS_NOTE if self.random_weights else "",
            "noc": {_t(t): self.noc(t) for t in targets},
            "noc_ci": {_t(t): self.noc_interval(t, resamples, seed) for t in targets},
            "nof": {_t(t): self.nof(t) for t in targets},
            "miou_at": self.miou_at(), "miou_ci": self.miou_interval(resamples, seed),
            "per_class": self.per_class(targets),
            "skipped_defect_free": len(self.skipped),
            "interval": f"95 % percentile bootstrap, {resamples} resamples within classes, seed {seed}",
            "images": [{"image": i.image, "class": i.cls, "clicks": i.clicks, "iou": i.ious} for i in self.images],
        }


def _t(target: float) -> str:
    """A target as the document's key: ``0.85``, ``0.9``."""
    return repr(float(target))
