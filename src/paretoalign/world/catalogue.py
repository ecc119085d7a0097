"""The catalogue: items in categories with latent vectors, popularity, price and two qualities.

Generative model (specified here; the book's method page, section *Why a simulated shop*
(``method-shop``), gives its purpose), all draws from one
``np.random.Generator`` seeded by ``(world seed, CATALOGUE stream)`` in a fixed order, so
changing one knob (say ``rho_aq``) leaves every other draw unchanged:

* category sizes ``n_c ∝ (c + 1)^-zipf`` (largest remainder, every category >= 1 item);
  items are assigned to categories in a random order of ids;
* category centres ``mu_c = normalize(N(0, I_d))``;
  item vectors ``v_i = normalize(mu_c + spread * eps_i / sqrt(d))``, ``eps ~ N(0, I_d)``;
* ``(a_i, q_i, b_i / sigma_b) ~ N(0, R)`` with ``R`` the correlation matrix of
  ``rho_aq, rho_ab, rho_qb`` (Cholesky of the same standard normals): click
  attractiveness ``a``, purchase utility ``q``, log-popularity ``b``;
* ``log p_i = log(price_median) + m_c + price_item_sigma * eps``,
  ``m_c ~ N(0, price_category_sigma^2)``; prices are rounded to cents (>= 0.01).

Arrays are indexed by item id with a padding row 0 (``vectors[0] = 0``, ``category[0] =
-1``), so kernels index them with raw ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paretoalign.world.config import ShopConfig
from paretoalign.world.records import CATALOGUE_STREAM


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Items 1..N with their latent parameters (row 0 = padding)."""

    category: np.ndarray  # int32[N+1]
    vectors: np.ndarray  # float64[N+1, d]
    attractiveness: np.ndarray  # float64[N+1]
    utility: np.ndarray  # float64[N+1]
    log_popularity: np.ndarray  # float64[N+1]
    price: np.ndarray  # float64[N+1]
    category_centres: np.ndarray  # float64[C, d]
    category_ptr: np.ndarray  # int64[C+1]: items of category c are category_items[ptr[c]:ptr[c+1]]
    category_items: np.ndarray  # int32[N]

    @property
    def n_items(self) -> int:
        return len(self.category) - 1

    @property
    def n_categories(self) -> int:
        return len(self.category_centres)

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]


def category_sizes(n_items: int, n_categories: int, zipf: float) -> np.ndarray:
    """Zipf-like sizes summing to ``n_items``, each >= 1, largest first (int64[C])."""
    if n_categories < 1 or n_items < n_categories:
        raise ValueError(f"need 1 <= n_categories <= n_items, got {n_categories}, {n_items}")
    weights = (np.arange(n_categories, dtype=np.float64) + 1.0) ** -zipf
    spare = n_items - n_categories
    raw = weights / weights.sum() * spare
    sizes = np.floor(raw).astype(np.int64)
    remainder = spare - int(sizes.sum())
    order = np.lexsort((np.arange(n_categories), -(raw - sizes)))
    sizes[order[:remainder]] += 1
    return sizes + 1


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def build_catalogue(cfg: ShopConfig) -> Catalogue:
    """Draw the catalogue of ``cfg`` (deterministic in ``cfg.seed``)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([cfg.seed, CATALOGUE_STREAM])))
    n, c, d = cfg.n_items, cfg.n_categories, cfg.dim
    sizes = category_sizes(n, c, cfg.category_zipf)
    cat = rng.permutation(np.repeat(np.arange(c, dtype=np.int32), sizes))
    centres = _normalize_rows(rng.standard_normal((c, d)))
    eps = rng.standard_normal((n, d))
    vectors = _normalize_rows(centres[cat] + cfg.item_spread * eps / np.sqrt(d))
    z = rng.standard_normal((n, 3))
    chol = np.linalg.cholesky(cfg.quality_correlation())
    aqb = z @ chol.T
    price_level = cfg.price_category_sigma * rng.standard_normal(c)
    log_price = (
        np.log(cfg.price_median) + price_level[cat] + cfg.price_item_sigma * rng.standard_normal(n)
    )
    price = np.maximum(np.round(np.exp(log_price), 2), 0.01)

    def pad(x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        return np.concatenate([np.full((1, *x.shape[1:]), fill, dtype=x.dtype), x])

    order = np.argsort(cat, kind="stable")
    ptr = np.zeros(c + 1, np.int64)
    np.cumsum(sizes, out=ptr[1:])
    return Catalogue(
        category=pad(cat, -1).astype(np.int32),
        vectors=pad(vectors),
        attractiveness=pad(aqb[:, 0]),
        utility=pad(aqb[:, 1]),
        log_popularity=pad(cfg.popularity_sigma * aqb[:, 2]),
        price=pad(price, 0.0),
        category_centres=centres,
        category_ptr=ptr,
        category_items=(order + 1).astype(np.int32),
    )
