"""Counter-based random numbers: every draw is a pure function of (seed, stream, day, entity, k).

Why not one ``numpy.random.Generator`` per day: its draws depend on how many numbers earlier
entities consumed, so changing one keyword's bid (or adding a keyword) would reshuffle the noise of
every other keyword. Hashing the coordinates gives each (day, entity) its own stream, so any day is
computable on its own, in any query order, and a mutation moves only the entities it touches
(common random numbers: a policy comparison sees the same luck on both sides).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import special

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / float(1 << 53)

# Stream tags: one per kind of randomness, so draws for different purposes never correlate.
DEMAND = 1
CLICKS = 2
NONCLICK_IMPRESSIONS = 3
CONVERSIONS = 4
CVR_SHOCK = 5
CPC_NOISE = 6
LAG = 7
VALUE = 8
STRUCTURE = 9
OVERDELIVERY = 10  # a campaign-day's overdelivery factor (intraday.py)
CONVERSION_TIME = 11  # a conversion's time of day (intraday.py)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64 finaliser (bijective, good avalanche)."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def hash64(
    seed: int, stream: int, day: int, entity: NDArray[np.integer], k: NDArray[np.integer] | int = 0
) -> NDArray[np.uint64]:
    """A 64-bit hash of the coordinates, vectorised over ``entity`` (and ``k``)."""
    with np.errstate(over="ignore"):
        head = _mix(np.asarray([(seed * 1_000_003 + stream) & 0xFFFFFFFFFFFFFFFF], np.uint64))
        head = _mix(head ^ (np.uint64(day & 0xFFFFFFFFFFFFFFFF) * _GOLDEN))
        x = _mix(head ^ np.asarray(entity).astype(np.uint64))
        if not (isinstance(k, int) and k == 0):
            x = _mix(x ^ (np.asarray(k).astype(np.uint64) * _GOLDEN))
    return x


def uniform(
    seed: int, stream: int, day: int, entity: NDArray[np.integer], k: NDArray[np.integer] | int = 0
) -> NDArray[np.float64]:
    """Uniform(0, 1) draws, never exactly 0 or 1 (safe for inverse CDFs)."""
    bits = hash64(seed, stream, day, entity, k) >> _S11
    return (bits.astype(np.float64) + 0.5) * _INV53


def gamma_shock(u: NDArray[np.float64], shape: float | NDArray[np.float64]) -> NDArray[np.float64]:
    """Gamma(shape, 1/shape) by inversion: mean 1, variance 1/shape (the over-dispersion)."""
    shape_arr = np.broadcast_to(np.asarray(shape, np.float64), u.shape)
    return special.gammaincinv(shape_arr, u) / shape_arr


def poisson_inv(u: NDArray[np.float64], lam: NDArray[np.float64]) -> NDArray[np.int64]:
    """Poisson(lam) by inversion of the CDF at ``u``: exact for lam <= 40, Cornish-Fisher above.

    Inversion (not a sampler) keeps each draw a function of its own uniform only.
    """
    lam = np.maximum(np.asarray(lam, np.float64), 0.0)
    out = np.zeros(lam.shape, np.int64)
    small = lam <= 40.0
    idx = np.flatnonzero(small & (lam > 0))
    if idx.size:
        lam_s = lam[idx]
        u_s = u[idx]
        p = np.exp(-lam_s)
        cdf = p.copy()
        k = np.zeros(idx.size, np.int64)
        active = np.flatnonzero(u_s > cdf)
        step = 0
        while active.size and step < 200:
            step += 1
            k[active] += 1
            p[active] *= lam_s[active] / k[active]
            cdf[active] += p[active]
            active = active[u_s[active] > cdf[active]]
        out[idx] = k
    big = np.flatnonzero(~small)
    if big.size:
        lam_b = lam[big]
        z = special.ndtri(u[big])
        x = lam_b + np.sqrt(lam_b) * z + (z * z - 1.0) / 6.0
        out[big] = np.maximum(np.floor(x + 0.5), 0).astype(np.int64)
    return out
