"""Great-circle distance between commune centroids (plain haversine: no extension needed)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)

FloatArray = npt.NDArray[np.float64]


def haversine_km(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """Distance in km between points given in degrees; arrays broadcast.

    Paris to Lyon, about 391.5 km as the crow flies:

    >>> d = float(haversine_km(np.array(48.8566), np.array(2.3522), np.array(45.764), np.array(4.8357)))
    >>> 390 < d < 393
    True
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64)


# Planar cells used only to find candidates: x shrinks with cos(latitude), so measuring x with the
# cosine of the northernmost metropolitan latitude never overstates an east-west gap (no pair within
# the radius is ever missed); the exact haversine then filters.
KM_PER_DEGREE = 111.19
NORTHERNMOST_LATITUDE = 52.0  # north of Dunkerque (51.1), with margin for great-circle bowing


def planar_km(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Conservative planar coordinates in km for blocking (never larger than true distances)."""
    x = np.asarray(lon, dtype=np.float64) * KM_PER_DEGREE * np.cos(np.radians(NORTHERNMOST_LATITUDE))
    y = np.asarray(lat, dtype=np.float64) * KM_PER_DEGREE
    return x, y


def z_order(fx: npt.NDArray[np.int64], fy: npt.NDArray[np.int64], *, bits: int = 16) -> npt.NDArray[np.int64]:
    """Morton code of non-negative cell coordinates (``bits`` bits each): nearby cells get nearby codes.

    The bits of x and y are interleaved, x first:

    >>> z_order(np.array([0, 1, 0, 1, 2]), np.array([0, 0, 1, 1, 0])).tolist()
    [0, 1, 2, 3, 4]
    """
    code = np.zeros(len(fx), dtype=np.int64)
    for bit in range(bits):
        code |= ((fx >> bit) & 1) << (2 * bit) | ((fy >> bit) & 1) << (2 * bit + 1)
    return code
