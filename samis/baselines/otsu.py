"""Otsu reference: Otsu's threshold on each pixel's deviation from the image's median intensity.

A naive, parameter-free reference that every learned or designed method should beat: defects on
a steel strip are pixels that are unusually bright or dark, so score |I - median(I)| and split it
in two with N. Otsu's method ("A Threshold Selection Method from Gray-Level Histograms", IEEE
Trans. SMC 9(1), 1979). The output is binary (0 or 1), so its F- and E-measure curves are flat.
"""

from __future__ import annotations

import cv2
import numpy as np

from samis.baselines._image import is_constant, to_gray, to_uint8

#: settings recorded in each prediction manifest
SETTINGS = {"score": "|gray - median(gray)|", "threshold": "Otsu (256-bin histogram)", "output": "binary"}


def otsu_deviation_map(image: np.ndarray) -> np.ndarray:
    """Binary map of pixels whose deviation from the median exceeds Otsu's threshold.

    Args:
        image: grayscale (H, W) or colour (H, W, 3/4) array, uint8, 16-bit, bool or float.

    Returns:
        float32 (H, W) map of 0 and 1; all zeros for a constant image.

    Raises:
        ValueError: ``image`` is not an image array.
    """
    gray = to_gray(to_uint8(image))
    if is_constant(gray):
        return np.zeros(gray.shape, dtype=np.float32)
    deviation = np.abs(gray.astype(np.int16) - int(np.median(gray))).astype(np.uint8)
    if is_constant(deviation):
        # two gray levels at equal distance from the median: nothing stands out
        return np.zeros(gray.shape, dtype=np.float32)
    _, binary = cv2.threshold(deviation, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return binary.astype(np.float32)
