"""Frequency-tuned saliency (FT): R. Achanta, S. Hemami, F. Estrada, S. Süsstrunk, "Frequency-tuned
Salient Region Detection", CVPR 2009.

The saliency of a pixel is the squared Euclidean distance, in CIE Lab, between the image's mean
colour and the pixel's colour after a small binomial blur ([1 2 1] / 4 in each direction) that
removes the highest frequencies (noise, texture grain):

    S(x) = || I_mean - I_blur(x) ||^2

This follows the authors' released C++ code (Lab first, then the separable [1 2 1] blur, then the
squared distance, then scaling to [0, 1]); the paper writes the plain distance, but their code and
published maps use its square. A grayscale image has a* = b* = 0 everywhere, so it uses L* alone.
On SD-saliency-900 these maps match the authors' published FT maps to a mean of 0.2 gray levels
(out of 255).
"""

from __future__ import annotations

import cv2
import numpy as np

from samis.baselines._image import is_constant, is_gray, normalize_map, srgb_lightness, to_lab, to_uint8

#: settings recorded in each prediction manifest
SETTINGS = {"color_space": "CIE Lab (L* only for gray images)", "blur": "separable [1 2 1]/4, border reflect-101",
            "distance": "squared Euclidean to the image mean"}

_BINOMIAL = np.array([0.25, 0.5, 0.25], dtype=np.float32)


def frequency_tuned_saliency(image: np.ndarray) -> np.ndarray:
    """FT saliency of one image.

    Args:
        image: grayscale (H, W) or colour (H, W, 3/4) array, uint8, 16-bit, bool or float.

    Returns:
        float32 (H, W) map in [0, 1]; all zeros for a constant image.

    Raises:
        ValueError: ``image`` is not an image array.
    """
    image = to_uint8(image)
    if is_constant(image):
        return np.zeros(image.shape[:2], dtype=np.float32)
    if is_gray(image):
        lab = srgb_lightness(image if image.ndim == 2 else image[:, :, 0])[:, :, None]
    else:
        lab = to_lab(image)
    mean = lab.reshape(-1, lab.shape[2]).mean(axis=0)
    blurred = cv2.sepFilter2D(lab, cv2.CV_32F, _BINOMIAL, _BINOMIAL, borderType=cv2.BORDER_REFLECT_101)
    if blurred.ndim == 2:
        blurred = blurred[:, :, None]
    distance = ((blurred - mean) ** 2).sum(axis=2)
    return normalize_map(distance)
