"""Input and output conventions shared by the built-in baselines.

Every baseline accepts whatever an image loader may hand it — uint8 or 16-bit, grayscale (H, W),
(H, W, 1), gray+alpha, RGB or RGBA, bool or float — and returns a float32 map in [0, 1] of the
same height and width. These helpers do that conversion once, the same way
:mod:`samis.imageio` reads files (16-bit keeps the top 8 bits of its range, alpha is composited
over black), so a map computed from an array equals one computed from the file.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from samis.imageio import to_uint8 as scale_to_uint8


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image as uint8 (H, W) or (H, W, 3); alpha composited over black, extra axes dropped.

    Raises:
        ValueError: the array is not an image (not 2-D or 3-D, empty, or 2/3/4-D with a strange
            number of channels).
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got {array.shape}")
    if array.ndim == 3 and array.shape[2] not in (2, 3, 4):
        raise ValueError(f"expected 1, 2, 3 or 4 channels, got {array.shape[2]}")
    array = scale_to_uint8(array)  # the same rule as samis.imageio, so files and arrays agree
    if array.ndim == 3 and array.shape[2] in (2, 4):
        # gray+alpha or RGBA: composite over black, as samis.imageio.read_gray/read_rgb do
        alpha = array[:, :, -1:].astype(np.float32) / 255.0
        array = (array[:, :, :-1].astype(np.float32) * alpha).round().astype(np.uint8)
        if array.shape[2] == 1:
            array = array[:, :, 0]
    return np.ascontiguousarray(array)


def is_gray(image: np.ndarray) -> bool:
    """True for (H, W) images and for RGB images whose three channels are equal."""
    if image.ndim == 2:
        return True
    return bool(np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 1], image[:, :, 2]))


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W) luma of a :func:`to_uint8` image (ITU-R 601, as PIL's ``convert("L")``)."""
    if image.ndim == 2:
        return image
    if is_gray(image):
        return np.ascontiguousarray(image[:, :, 0])
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) of a :func:`to_uint8` image."""
    if image.ndim == 3:
        return image
    return np.repeat(image[:, :, None], 3, axis=2)


def srgb_lightness(gray: np.ndarray) -> np.ndarray:
    """CIE L* (0..100, float32) of 8-bit sRGB gray levels — the L channel of Lab for R = G = B.

    A gray pixel has a* = b* = 0, so for grayscale images Lab reduces to this one channel. Uses
    the sRGB transfer curve and the CIE cube root exactly as OpenCV's float RGB→Lab does, so a
    gray image gives the same L as ``cv2.cvtColor(rgb / 255, COLOR_RGB2Lab)``.
    """
    return _lightness_table()[gray]


@functools.cache
def _lightness_table() -> np.ndarray:
    # built on first use, not at import: OpenCV's first colour conversion takes ~0.1 s, which every
    # CLI command would pay for (the ``baseline`` command's help lists the baselines)
    levels = np.arange(256, dtype=np.float32).reshape(1, 256, 1) / np.float32(255.0)
    rgb = np.repeat(levels, 3, axis=2)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[0, :, 0].astype(np.float32)



def to_lab(rgb: np.ndarray) -> np.ndarray:
    """float32 CIE Lab (H, W, 3) of an 8-bit sRGB image (L in 0..100)."""
    return cv2.cvtColor(rgb.astype(np.float32) / np.float32(255.0), cv2.COLOR_RGB2Lab)


def normalize_map(saliency: np.ndarray) -> np.ndarray:
    """Min-max scale a raw map to float32 [0, 1]; a flat (or non-finite) map becomes all zeros."""
    values = np.nan_to_num(np.asarray(saliency, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if not high - low > 1e-12 * max(1.0, abs(high)):
        return np.zeros(values.shape, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def is_constant(image: np.ndarray) -> bool:
    """True when every pixel (all channels) has the same value: such an image has no salient region."""
    return bool(image.min() == image.max())
