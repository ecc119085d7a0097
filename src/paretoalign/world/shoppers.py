"""Shoppers: who arrives when, with which taste, price sensitivity, buy propensity and budget.

In OTTO a *session* is all activity of one user in the period, so here one shopper = one
session. Generative model (specified here; the book's method page, section *Why a
simulated shop* (``method-shop``), gives its purpose), drawn in a fixed order from one
``np.random.Generator``:

* start time uniform over the arrival window (sorted, so ids follow arrival order);
* event budget ``L = clip(round(LogNormal(mu, sigma)), 2, max)`` (clicks + carts the
  shopper makes before leaving; orders come on top at checkout);
* ``F`` favourite categories drawn without replacement with probability proportional to
  category size (:func:`draw_favourites`), weights ``w ~ Dirichlet(concentration * 1_F)``;
* taste ``u = normalize(sum_f w_f mu_{c_f} + taste_noise * xi / sqrt(d))``;
* price sensitivity ``gamma ~ LogNormal(0, sigma_gamma)``, buy propensity
  ``pi ~ Beta(a, b)``;
* the session's random stream seed ``mix64(mix64(key) + (id + 1) * golden)``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from paretoalign.world.catalogue import Catalogue
from paretoalign.world.config import ShopConfig
from paretoalign.world.rng import seeds_for

_FAV_CHUNK = 65_536


@dataclass(frozen=True, eq=False)
class ShopperPopulation:
    """``S`` shoppers (one session each); every array has ``S`` rows.

    Attributes
    ----------
    shopper_id : int64[S]      unique ids (offline: 0..; experiments: ``>= 10**9``)
    start_ms : int64[S]        Unix ms of the session's first page view
    budget : int32[S]          clicks + carts before the shopper leaves (>= 2)
    taste : float64[S, d]      unit taste vector ``u_s``
    price_sensitivity : float64[S]   ``gamma_s``
    buy_propensity : float64[S]      ``pi_s`` in (0, 1)
    favourite_categories : int32[S, F]
    favourite_weights : float64[S, F]   rows sum to 1
    seed : uint64[S]           seed of the session's random stream
    day0_ms : int              the time origin of ``day`` (``day = (ts - day0_ms) // 86.4e6``)
    """

    shopper_id: np.ndarray
    start_ms: np.ndarray
    budget: np.ndarray
    taste: np.ndarray
    price_sensitivity: np.ndarray
    buy_propensity: np.ndarray
    favourite_categories: np.ndarray
    favourite_weights: np.ndarray
    seed: np.ndarray
    day0_ms: int

    def __len__(self) -> int:
        return len(self.shopper_id)

    def take(self, idx: np.ndarray) -> ShopperPopulation:
        """The shoppers at integer indices (or a boolean mask) ``idx``, in that order."""
        idx = np.asarray(idx)
        kw = {f.name: getattr(self, f.name)[idx] for f in fields(self) if f.name != "day0_ms"}
        return ShopperPopulation(**kw, day0_ms=self.day0_ms)

    @property
    def favourite_cumulative(self) -> np.ndarray:
        """Cumulative favourite weights, float64[S, F] (last column exactly 1)."""
        cum = np.cumsum(self.favourite_weights, axis=1)
        cum[:, -1] = 1.0
        return np.ascontiguousarray(cum)


def draw_budgets(cfg: ShopConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Event budgets ``clip(round(LogNormal(mu, sigma)), 2, max)``, int32[n]."""
    raw = np.round(rng.lognormal(cfg.session_length_mu, cfg.session_length_sigma, n))
    return np.clip(raw, 2, cfg.session_length_max).astype(np.int32)


def draw_favourites(rng: np.random.Generator, p: np.ndarray, n: int, f: int) -> np.ndarray:
    """``f`` distinct categories per row, drawn one after another with probability ``∝ p``
    among those not yet drawn (successive sampling without replacement), int32[n, f].

    Few favourites among many categories: every pending row draws from ``p`` and rejects
    a repeat, which samples from ``p`` restricted to the rest. Otherwise (``2 f > C``) the
    equivalent Gumbel-top-f order of ``log p + Gumbel`` keys.
    """
    c = len(p)
    if not 1 <= f <= c:
        raise ValueError(f"need 1 <= favourites <= categories, got {f} and {c}")
    fav = np.full((n, f), -1, np.int32)
    if 2 * f > c:
        for lo in range(0, n, _FAV_CHUNK):
            hi = min(n, lo + _FAV_CHUNK)
            keys = np.log(p)[None, :] + rng.gumbel(size=(hi - lo, c))
            fav[lo:hi] = np.argsort(-keys, axis=1, kind="stable")[:, :f]
        return fav
    cum = np.cumsum(p)
    cum[-1] = 1.0
    count = np.zeros(n, np.int64)
    pending = np.arange(n)
    while len(pending):
        cand = np.minimum(np.searchsorted(cum, rng.random(len(pending)), side="right"), c - 1)
        fresh = ~(fav[pending] == cand[:, None]).any(axis=1)
        rows = pending[fresh]
        fav[rows, count[rows]] = cand[fresh]
        count[rows] += 1
        pending = pending[count[pending] < f]
    return fav


def draw_shoppers(
    cfg: ShopConfig,
    catalogue: Catalogue,
    *,
    n: int,
    start_lo_ms: int,
    span_ms: int,
    first_id: int,
    seed_parts: tuple[int, ...],
    stream_key: int,
    day0_ms: int,
) -> ShopperPopulation:
    """Draw ``n`` shoppers arriving uniformly in ``[start_lo_ms, start_lo_ms + span_ms)``.

    ``seed_parts`` seeds the NumPy generator of the shopper parameters; ``stream_key`` keys
    the per-session random streams; ids are ``first_id .. first_id + n - 1`` in arrival
    order.
    """
    if n < 0 or span_ms <= 0:
        raise ValueError(f"need n >= 0 and span_ms > 0, got n={n}, span_ms={span_ms}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(seed_parts))))
    d, f_count = catalogue.dim, cfg.favourite_categories
    start = np.sort(start_lo_ms + np.floor(rng.random(n) * span_ms).astype(np.int64))
    budget = draw_budgets(cfg, n, rng)
    sizes = np.diff(catalogue.category_ptr).astype(np.float64)
    fav = draw_favourites(rng, sizes / sizes.sum(), n, f_count)
    g = rng.gamma(cfg.favourite_concentration, size=(n, f_count))
    weights = g / np.maximum(g.sum(axis=1, keepdims=True), 1e-300)
    weights[~np.isfinite(weights).all(axis=1)] = 1.0 / f_count
    taste = np.einsum("sf,sfd->sd", weights, catalogue.category_centres[fav])
    taste += cfg.taste_noise * rng.standard_normal((n, d)) / np.sqrt(d)
    norm = np.linalg.norm(taste, axis=1, keepdims=True)
    taste /= np.where(norm > 0, norm, 1.0)
    gamma = rng.lognormal(0.0, cfg.price_sensitivity_sigma, n)
    pi = np.clip(rng.beta(cfg.buy_propensity_a, cfg.buy_propensity_b, n), 1e-6, 1 - 1e-6)
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    return ShopperPopulation(
        shopper_id=ids,
        start_ms=start,
        budget=budget,
        taste=np.ascontiguousarray(taste),
        price_sensitivity=gamma,
        buy_propensity=pi,
        favourite_categories=fav,
        favourite_weights=weights,
        seed=seeds_for(stream_key, ids),
        day0_ms=int(day0_ms),
    )
