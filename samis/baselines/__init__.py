"""Built-in classical saliency baselines: published, training-free algorithms on numpy / OpenCV.

Each baseline is a function from an image — grayscale (H, W) or colour (H, W, 3/4), uint8,
16-bit, bool or float — to a float32 saliency map in [0, 1] of the same height and width; a
constant image gives all zeros. They have no learned parameters. :data:`BASELINES` lists them by
the method name they get in the prediction store; :func:`samis.baselines.run.compute_baseline`
runs one over a dataset split.

======  ==============================================================  =====================
name    method                                                          module
======  ==============================================================  =====================
ft      frequency-tuned saliency (Achanta et al., CVPR 2009)            :mod:`.ft`
sr      spectral residual (Hou & Zhang, CVPR 2007)                      :mod:`.sr`
hc      histogram-based contrast (Cheng et al., CVPR 2011)              :mod:`.hc`
mbd     minimum barrier distance, FastMBD (Zhang et al., ICCV 2015)     :mod:`.mbd`
otsu    Otsu threshold of |intensity - median| (naive reference)        :mod:`.otsu`
======  ==============================================================  =====================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from samis.baselines import ft, hc, mbd, otsu, sr
from samis.errors import SamisError

#: bumped when an algorithm changes its output, so stored maps of an older version are recomputed
ALGORITHM_VERSION = 1


@dataclass(frozen=True)
class Baseline:
    """One built-in method: its store name, a title, the citation, the function and its settings."""

    name: str
    title: str
    reference: str
    function: Callable[[np.ndarray], np.ndarray]
    settings: dict = field(default_factory=dict)
    #: no learned weights: what the speed table reports as the parameter count
    n_parameters: int = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.function(image)


BASELINES: dict[str, Baseline] = {
    "ft": Baseline(
        "ft", "Frequency-tuned saliency (FT)",
        "R. Achanta, S. Hemami, F. Estrada, S. Süsstrunk, Frequency-tuned Salient Region Detection, CVPR 2009",
        ft.frequency_tuned_saliency, ft.SETTINGS),
    "sr": Baseline(
        "sr", "Spectral residual (SR)",
        "X. Hou, L. Zhang, Saliency Detection: A Spectral Residual Approach, CVPR 2007",
        sr.spectral_residual_saliency, sr.SETTINGS),
    "hc": Baseline(
        "hc", "Histogram-based contrast (HC)",
        "M.-M. Cheng, G.-X. Zhang, N. J. Mitra, X. Huang, S.-M. Hu, Global Contrast based Salient Region "
        "Detection, CVPR 2011",
        hc.histogram_contrast_saliency, hc.SETTINGS),
    "mbd": Baseline(
        "mbd", "Minimum barrier distance (MB, FastMBD)",
        "J. Zhang, S. Sclaroff, Z. Lin, X. Shen, B. Price, R. Mech, Minimum Barrier Salient Object Detection "
        "at 80 FPS, ICCV 2015",
        mbd.minimum_barrier_saliency, mbd.SETTINGS),
    "otsu": Baseline(
        "otsu", "Otsu threshold of the deviation from the median",
        "N. Otsu, A Threshold Selection Method from Gray-Level Histograms, IEEE Trans. SMC 9(1), 1979 "
        "(naive reference)",
        otsu.otsu_deviation_map, otsu.SETTINGS),
}


def get_baseline(name: str) -> Baseline:
    """The baseline called ``name``.

    Raises:
        SamisError: no built-in baseline has that name.
    """
    if name not in BASELINES:
        raise SamisError(f"unknown baseline {name!r}; built-in baselines: {', '.join(BASELINES)}")
    return BASELINES[name]


def resolve_baselines(names: list[str] | str | None) -> list[Baseline]:
    """Baselines named in a list (or comma list); ``all`` or None means every one, in table order.

    Raises:
        SamisError: a name is not a built-in baseline.
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names or names == ["all"]:
        return list(BASELINES.values())
    resolved = []
    for name in names:
        baseline = get_baseline(name)
        if baseline not in resolved:
            resolved.append(baseline)
    return resolved
