"""Spectral residual (SR): X. Hou, L. Zhang, "Saliency Detection: A Spectral Residual Approach",
CVPR 2007.

The log amplitude spectrum of natural images is smooth; what sticks out of it (the *spectral
residual*) belongs to the unexpected, salient parts. Following the authors' published MATLAB code:

1. grayscale in [0, 1], resized to 64 pixels wide (aspect kept);
2. A = log|F|, P = angle(F) of the 2-D FFT; R = A - (3x3 mean of A, border replicated);
3. S = |IFFT(exp(R + iP))|^2, filtered with a 10x10 Gaussian (sigma 2.5, zero border);
4. scaled to [0, 1] and resized back to the input size (bilinear).
"""

from __future__ import annotations

import cv2
import numpy as np

from samis.baselines._image import is_constant, normalize_map, to_gray, to_uint8

WIDTH = 64
GAUSSIAN_SIZE, GAUSSIAN_SIGMA = 10, 2.5

#: settings recorded in each prediction manifest
SETTINGS = {"width": WIDTH, "spectral_filter": "3x3 mean, border replicate",
            "gaussian": {"size": GAUSSIAN_SIZE, "sigma": GAUSSIAN_SIGMA}}


def _gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    # MATLAB fspecial('gaussian', [size size], sigma): centred grid, also for an even size
    axis = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    kernel = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2.0 * sigma * sigma))
    return (kernel / kernel.sum()).astype(np.float32)


_KERNEL = _gaussian_kernel(GAUSSIAN_SIZE, GAUSSIAN_SIGMA)


def spectral_residual_saliency(image: np.ndarray) -> np.ndarray:
    """SR saliency of one image.

    Args:
        image: grayscale (H, W) or colour (H, W, 3/4) array, uint8, 16-bit, bool or float.

    Returns:
        float32 (H, W) map in [0, 1]; all zeros for a constant image.

    Raises:
        ValueError: ``image`` is not an image array.
    """
    gray = to_gray(to_uint8(image))
    height, width = gray.shape
    if is_constant(gray):
        return np.zeros((height, width), dtype=np.float32)
    small_height = max(1, int(round(height * WIDTH / width)))
    shrinking = width > WIDTH
    small = cv2.resize(gray.astype(np.float32) / np.float32(255.0), (WIDTH, small_height),
                       interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    spectrum = np.fft.fft2(small)
    # a zero coefficient has log amplitude -inf; a tiny floor keeps the 3x3 mean finite
    log_amplitude = np.log(np.maximum(np.abs(spectrum), 1e-12)).astype(np.float32)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3), borderType=cv2.BORDER_REPLICATE)
    saliency = np.abs(np.fft.ifft2(np.exp(residual.astype(np.float64) + 1j * np.angle(spectrum)))) ** 2
    # MATLAB imfilter: correlation, zero padding, an even kernel anchored at index size/2 - 1
    anchor = (GAUSSIAN_SIZE // 2 - 1, GAUSSIAN_SIZE // 2 - 1)
    saliency = cv2.filter2D(saliency.astype(np.float32), -1, _KERNEL, anchor=anchor, borderType=cv2.BORDER_CONSTANT)
    saliency = normalize_map(saliency)
    return normalize_map(cv2.resize(saliency, (width, height), interpolation=cv2.INTER_LINEAR))
