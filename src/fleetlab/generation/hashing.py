"""Keyed hashing, vectorised: the 64-bit keys every generated value derives from.

Organization o of a fleet has the key K(o) = child(root(seed), o), factory f of it K(o, f), gateway
g of that K(o, f, g); a field's value is a hash of the entity's key and the field's name (`draw`,
`unit`, `pick`, `weighted`). splitmix64 on numpy uint64 arrays: stable across numpy and polars
versions (unlike polars' own hash), and fast enough for millions of rows.
"""

from __future__ import annotations

import hashlib
import math
from functools import cache

import numpy as np

from ..model.counts import Count

U64 = np.uint64
GOLDEN = 0x9E3779B97F4A7C15


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wrapping arithmetic): a stable 64-bit hash."""
    x = np.asarray(x, dtype=U64)
    x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


@cache
def tag(name: str) -> np.uint64:
    """A field's or level's 64-bit constant (blake2b of its name: stable, independent of order)."""
    return U64(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little"))


def root(seed: int, lane: str) -> np.ndarray:
    """The key of the fleet for `seed`; `lane` keeps independent key chains (ids vs. values)."""
    return mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=U64) ^ tag(lane))


def child(parent: np.ndarray, index: np.ndarray, level: str) -> np.ndarray:
    """Keys of children `index` (0-based) of `parent` keys at `level` ("org", "factory", "gateway")."""
    idx = np.asarray(index, dtype=U64)
    return mix(parent ^ mix((idx + U64(1)) * U64(GOLDEN) ^ tag(level)))


def draw(keys: np.ndarray, name: str) -> np.ndarray:
    """The 64-bit hash of field `name` for entities `keys`."""
    return mix(keys ^ tag(name))


def unit(keys: np.ndarray, name: str) -> np.ndarray:
    """A keyed uniform float in [0, 1) per entity."""
    return (draw(keys, name) >> U64(11)).astype(np.float64) * (1.0 / (1 << 53))


def pick(keys: np.ndarray, name: str, n: int) -> np.ndarray:
    """A keyed index in range(n) per entity."""
    return (draw(keys, name) % U64(n)).astype(np.int64)


def weighted(keys: np.ndarray, name: str, weights: list[float]) -> np.ndarray:
    """A keyed index into `weights`, chosen in proportion to them."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, unit(keys, name), side="right"), len(weights) - 1)


def counts_for(keys: np.ndarray, name: str, count: Count) -> np.ndarray:
    """Keyed draws of `count` (fixed, uniform, poisson or empirical) per parent."""
    n = len(keys)
    if count.kind == "fixed":
        return np.full(n, count.low, dtype=np.int64)
    if count.kind == "uniform":
        return count.low + pick(keys, name, count.high - count.low + 1)
    if count.kind == "empirical":
        lo, hi, w = (np.array(c) for c in zip(*count.bins, strict=True))
        b = weighted(keys, name, list(w))
        return (lo[b] + pick(keys, f"{name}:within", 1 << 30) % (hi[b] - lo[b] + 1)).astype(np.int64)
    return poisson_quantile(unit(keys, name), count.mean)


def poisson_quantile(u: np.ndarray, mean: float) -> np.ndarray:
    """The Poisson(mean) quantile of `u` (inverse CDF, so a keyed uniform gives a keyed draw)."""
    if mean <= 0:
        return np.zeros(len(u), dtype=np.int64)
    if mean > 10_000:  # the normal approximation is exact enough here, and needs no huge table
        from statistics import NormalDist

        z = np.array([NormalDist().inv_cdf(x) for x in np.clip(u, 1e-12, 1 - 1e-12)])
        return np.maximum(np.rint(mean + math.sqrt(mean) * z), 0).astype(np.int64)
    hi = int(mean + 12 * math.sqrt(mean) + 20)
    k = np.arange(hi + 1)
    logpmf = k * math.log(mean) - mean - np.array([math.lgamma(i + 1) for i in k])
    cdf = np.cumsum(np.exp(logpmf))
    return np.searchsorted(cdf, u * cdf[-1], side="right").clip(0, hi).astype(np.int64)
