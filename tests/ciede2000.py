"""CIEDE2000 colour difference, written from Sharma, Wu and Dalal (2005), "The CIEDE2000 colour-difference
formula: implementation notes, supplementary test data, and mathematical observations" (eqs. 1–17),
and sRGB → CIELAB (D65). Used by the palette tests; skimage's ``deltaE_ciede2000`` is only a cross-check.
"""

from __future__ import annotations

import math


def hex_to_lab(color: str) -> tuple[float, float, float]:
    """``#RRGGBB`` (sRGB) → CIELAB under D65."""
    rgb = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124564 * lin[0] + 0.3575761 * lin[1] + 0.1804375 * lin[2]) / 0.95047
    y = 0.2126729 * lin[0] + 0.7151522 * lin[1] + 0.0721750 * lin[2]
    z = (0.0193339 * lin[0] + 0.1191920 * lin[1] + 0.9503041 * lin[2]) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def ciede2000(lab1, lab2, kl: float = 1.0, kc: float = 1.0, kh: float = 1.0) -> float:
    """ΔE00 between two CIELAB colours (Sharma et al. 2005, eqs. 1–17)."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar ** 7 / (c_bar ** 7 + 25 ** 7)))  # eq. 3
    a1p, a2p = (1 + g) * a1, (1 + g) * a2  # eq. 4
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)  # eq. 5
    h1p = 0.0 if a1p == 0 and b1 == 0 else math.degrees(math.atan2(b1, a1p)) % 360  # eq. 6
    h2p = 0.0 if a2p == 0 and b2 == 0 else math.degrees(math.atan2(b2, a2p)) % 360
    dl = l2 - l1  # eq. 8
    dc = c2p - c1p  # eq. 9
    if c1p * c2p == 0:  # eq. 10
        dh = 0.0
    elif abs(h2p - h1p) <= 180:
        dh = h2p - h1p
    elif h2p - h1p > 180:
        dh = h2p - h1p - 360
    else:
        dh = h2p - h1p + 360
    dH = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))  # eq. 11
    lp = (l1 + l2) / 2  # eq. 12
    cp = (c1p + c2p) / 2  # eq. 13
    if c1p * c2p == 0:  # eq. 14
        hp = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hp = (h1p + h2p) / 2
    elif h1p + h2p < 360:
        hp = (h1p + h2p + 360) / 2
    else:
        hp = (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(hp - 30)) + 0.24 * math.cos(math.radians(2 * hp))
         + 0.32 * math.cos(math.radians(3 * hp + 6)) - 0.20 * math.cos(math.radians(4 * hp - 63)))  # eq. 15
    d_theta = 30 * math.exp(-(((hp - 275) / 25) ** 2))  # eq. 16
    rc = 2 * math.sqrt(cp ** 7 / (cp ** 7 + 25 ** 7))  # eq. 17
    sl = 1 + 0.015 * (lp - 50) ** 2 / math.sqrt(20 + (lp - 50) ** 2)  # eq. 18
    sc = 1 + 0.045 * cp  # eq. 19
    sh = 1 + 0.015 * cp * t  # eq. 20
    rt = -math.sin(math.radians(2 * d_theta)) * rc  # eq. 21
    return math.sqrt((dl / (kl * sl)) ** 2 + (dc / (kc * sc)) ** 2 + (dH / (kh * sh)) ** 2
                     + rt * (dc / (kc * sc)) * (dH / (kh * sh)))  # eq. 22


def hex_distance(first: str, second: str) -> float:
    """ΔE00 between two ``#RRGGBB`` colours."""
    return ciede2000(hex_to_lab(first), hex_to_lab(second))
