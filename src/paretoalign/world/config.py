"""`ShopConfig`: every knob of the simulated shop (the ``[shop]`` table of a profile).

Each field documents its meaning, default and the range worth sweeping. Values outside the
hard bounds (``ge``/``le``/``gt``/``lt``) are rejected with a ``ValidationError`` naming the
field; unknown keys are rejected too (``extra="forbid"``), so a misspelt knob never falls
back silently to its default.

The defaults are the ``default`` profile's world: about 20k items and 200k train sessions
(4 weeks of train, 1 week of test after a 3-day burn-in), calibrated to OTTO's published
marginals (the book's method page, section *Why a simulated shop*, ``method-shop``;
the calibration table of the data chapter).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: 2022-07-31 22:00:00 UTC in Unix milliseconds: the first timestamp of OTTO's train week 1.
OTTO_START_MS = 1_659_304_800_000


class ShopConfig(BaseModel):
    """Knobs of the simulated shop. See the module docstring and ``paretoalign.world``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # ------------------------------------------------------------------ world seed
    seed: int = Field(0, ge=0, lt=2**63, description="World seed: catalogue, shoppers, logs.")
    """World seed (default 0). Fixes the catalogue, the offline shoppers, the logging policy
    and every offline log. Experiments take their own seed
    (``World.experiment_population(days, seed)``).
    Range: any non-negative integer; sweep >= 3 world seeds per setting."""

    # ------------------------------------------------------------------ catalogue
    n_items: int = Field(20_000, ge=20, le=5_000_000)
    """Items N (default 20,000; sweep 5k–100k). Ids are 1..N, 0 is padding."""
    n_categories: int = Field(50, ge=1, le=10_000)
    """Categories K (default 50). Sizes follow a Zipf law over category rank. Range: 10–200."""
    category_zipf: float = Field(1.0, ge=0.0, le=3.0)
    """Zipf exponent of category sizes (default 1.0; 0 = equal sizes; range 0–2)."""
    dim: int = Field(16, ge=2, le=256)
    """Dimension d of the latent item / taste / intent vectors (default 16). Range: 8–64."""
    item_spread: float = Field(0.7, ge=0.0, le=5.0)
    """Spread of item vectors around their category centre: ``v = normalize(mu_c +
    spread * eps / sqrt(d))`` (default 0.7: cosine of two items of one category ~0.67).
    Range: 0.3–1.5."""
    popularity_sigma: float = Field(1.7, ge=0.0, le=4.0)
    """Standard deviation of the log-popularity ``b_i`` (default 1.7, from OTTO's
    events-per-item quantiles; range 1–2.5)."""
    rho_aq: float = Field(0.2, ge=-0.9, le=0.9)
    """Correlation of click attractiveness ``a`` and purchase utility ``q`` (default 0.2;
    sweep -0.6 (click-bait world) … 0.8)."""
    rho_ab: float = Field(0.3, ge=-0.9, le=0.9)
    """Correlation of attractiveness and log-popularity (default 0.3). Range: 0–0.5."""
    rho_qb: float = Field(0.1, ge=-0.9, le=0.9)
    """Correlation of utility and log-popularity (default 0.1). Range: 0–0.5."""
    price_median: float = Field(30.0, gt=0.0, le=1e6)
    """Median price (default 30); ``log p = log(price_median) + m_c + item noise``. Range:
    any positive price."""
    price_category_sigma: float = Field(0.7, ge=0.0, le=3.0)
    """Standard deviation of the category log-price level ``m_c`` (default 0.7). Range:
    0–1.5."""
    price_item_sigma: float = Field(0.6, ge=0.0, le=3.0)
    """Standard deviation of an item's log-price around its category level (default 0.6).
    Range: 0–1.5."""

    # ------------------------------------------------------------------ shoppers
    favourite_categories: int = Field(3, ge=1, le=64)
    """Favourite categories per shopper, drawn by category size (default 3). Range: 1–10."""
    favourite_concentration: float = Field(1.0, gt=0.0, le=100.0)
    """Dirichlet concentration of the weights over the favourites (default 1.0; small =
    one dominant favourite). Range: 0.3–5."""
    taste_noise: float = Field(0.3, ge=0.0, le=5.0)
    """Noise of the taste vector around the weighted favourite centres (default 0.3).
    Range: 0–1."""
    price_sensitivity_sigma: float = Field(0.5, ge=0.0, le=3.0)
    """Price sensitivity ``gamma ~ LogNormal(0, sigma)`` (default 0.5). Range: 0–1."""
    buy_propensity_a: float = Field(1.2, gt=0.0, le=100.0)
    """Buy propensity ``pi ~ Beta(a, b)``: a (default 1.2). Range: 0.5–5."""
    buy_propensity_b: float = Field(6.0, gt=0.0, le=100.0)
    """Buy propensity ``pi ~ Beta(a, b)``: b (default 6.0). Range: 2–20."""

    # ------------------------------------------------------------------ sessions
    session_length_mu: float = Field(math.log(6.0), ge=0.0, le=6.0)
    """Event budget ``L ~ round(LogNormal(mu, sigma))`` clipped to [2, max]: mu (default
    ln 6, which reproduces OTTO's events-per-session quantiles 6/15/39/68). Range: ln 3 –
    ln 12."""
    session_length_sigma: float = Field(1.46, ge=0.0, le=4.0)
    """Sigma of the event budget (default 1.46). Range: 1–2."""
    session_length_max: int = Field(500, ge=2, le=100_000)
    """Largest event budget (default 500, OTTO's maximum). Range: 100–1000."""
    intent_memory: float = Field(0.7, ge=0.0, le=1.0)
    """lambda of the intent drift ``z <- normalize(lambda z + (1-lambda) v_item + tau xi)``
    after every page view (default 0.7). Range: 0.5–0.95."""
    intent_noise: float = Field(0.1, ge=0.0, le=5.0)
    """tau of the intent drift (default 0.1; 0 switches the noise off). The noise ``xi``
    has independent zero-mean, unit-variance (uniform) components. Range: 0–0.5."""
    intent_switch_prob: float = Field(0.05, ge=0.0, le=1.0)
    """Probability that an organic step switches the intent to another favourite category
    (default 0.05). Range: 0–0.2."""
    repeat_prob: float = Field(0.25, ge=0.0, le=1.0)
    """Probability that an organic step revisits an item already viewed in the session
    (default 0.25; sweep 0–0.4)."""
    repeat_recency: float = Field(0.6, ge=0.0, lt=1.0)
    """Recency decay of repeat views: the item ``a`` page views back is revisited with
    weight ``recency^(a-1)`` (default 0.6). Range: 0.3–0.9."""
    gap_median_s: float = Field(45.0, gt=0.0, le=86_400.0)
    """Median gap between page views within a visit, seconds (default 45). Range: 10–300."""
    gap_sigma: float = Field(1.0, ge=0.0, le=4.0)
    """Log-normal sigma of the within-visit gap (default 1.0). Range: 0.5–1.5."""
    break_prob: float = Field(0.06, ge=0.0, le=1.0)
    """Probability that the next page view comes after a break (a later visit of the same
    session, as OTTO's sessions span days; default 0.06). Range: 0.02–0.15."""
    break_median_h: float = Field(20.0, gt=0.0, le=24.0 * 60)
    """Median break length in hours (default 20). Range: 2–72."""
    break_sigma: float = Field(1.0, ge=0.0, le=4.0)
    """Log-normal sigma of a break (default 1.0). Range: 0.5–1.5."""
    cart_gap_median_s: float = Field(20.0, gt=0.0, le=86_400.0)
    """Median gap from a page view to its cart event, seconds (default 20). Range: 5–120."""
    checkout_gap_median_s: float = Field(120.0, gt=0.0, le=86_400.0)
    """Median gap from the last event to the checkout (orders), seconds (default 120).
    Range: 30–600."""

    # ------------------------------------------------------------------ page view
    slate_size: int = Field(12, ge=1, le=100)
    """Items K in the recommendation widget of a product page (default 12). Range: 4–24."""
    click_model: Literal["pbm", "cascade"] = "pbm"
    """``"pbm"``: position-biased multinomial logit, ``P(k) = e_k w_k / (w0 + sum_m e_m
    w_m)`` with examination weight ``e_k = theta^(k-1)``; ``"cascade"``: top-down scan,
    ``P(k) = theta^(k-1) alpha_k prod_{m<k}(1 - alpha_m)``, ``alpha = w / (w + w0)``.
    Range: both; pbm is the default world, cascade a misspecification check."""
    theta: float = Field(0.85, gt=0.0, le=1.0)
    """Examination decay theta (default 0.85 as SARDINE's tdPBM; sweep 0.6–0.95)."""
    beta_match: float = Field(3.0, ge=0.0, le=50.0)
    """Weight of intent match ``<z, v_j>`` in the click utility (default 3.0). Range: 1–5."""
    beta_attract: float = Field(1.0, ge=0.0, le=50.0)
    """Weight of attractiveness ``a_j`` in the click utility (default 1.0). Range: 0–3."""
    beta_pop: float = Field(0.3, ge=0.0, le=50.0)
    """Weight of log-popularity ``b_j`` in the click utility (default 0.3). Range: 0–1."""
    beta_price: float = Field(0.5, ge=0.0, le=50.0)
    """Weight of ``gamma_s log(p_j / price_median)`` in the click utility (default 0.5).
    Range: 0–1."""
    organic_candidates: int = Field(16, ge=1, le=4096)
    """Search/list results M the organic channel draws per step, by popularity, from the
    current category; the shopper picks one of them by relevance (default 16, one results
    page; larger M makes the pick more relevance-driven and the simulation slower). Range:
    8–64."""
    organic_pop: float = Field(0.875, ge=0.0, le=10.0)
    """Popularity exponent of the organic candidate draw: ``P(i) ∝ exp(organic_pop b_i)``
    within the category: the source of popularity bias in the logs (default 0.875,
    calibrated so events per item have OTTO's p90/p50 ratio 183/20; range 0.5–1.2)."""
    organic_match: float = Field(3.0, ge=0.0, le=50.0)
    """Weight of intent match when the shopper picks among the organic results (default 3).
    Range: 1–5."""
    organic_attract: float = Field(0.5, ge=0.0, le=50.0)
    """Weight of attractiveness when picking among the organic results (default 0.5: the
    organic channel is more popularity-driven than the widget). Range: 0–1."""
    rec_share_target: float = Field(0.20, gt=0.0, lt=1.0)
    """Share of page views that come from the widget under the logging policy (default
    0.20 as at OTTO; sweep 0.1–0.4). The organic utility ``u0`` is solved for it at build."""
    organic_utility: float | None = None
    """Fix ``u0`` instead of solving it for ``rec_share_target`` (default None: solve).
    Range: None, or a fixed value within a few units of the solved one."""

    # ------------------------------------------------------------------ carts and orders
    cart_utility: float = Field(1.0, ge=-50.0, le=50.0)
    """c_q: weight of utility ``q_j`` in the cart logit (default 1.0). Range: 0–2 (0: carts
    ignore utility, the 'decoupled' world)."""
    cart_match: float = Field(1.0, ge=-50.0, le=50.0)
    """c_m: weight of taste match ``<u_s, v_j>`` in the cart logit (default 1.0). Range: 0–2."""
    cart_price: float = Field(0.3, ge=0.0, le=50.0)
    """c_p: weight of ``gamma_s log(p_j / price_median)`` in the cart logit (default 0.3).
    Range: 0–1."""
    cart_share_target: float = Field(0.078, gt=0.0, lt=0.5)
    """Carts as a share of all events (default 0.078, OTTO). Solves the cart offset c0.
    Range: 0.05–0.12."""
    cart_offset: float | None = None
    """Fix the cart offset c0 instead of solving it (default None: solve). Range: None, or
    a fixed value (about -2 at the default world)."""
    order_utility: float = Field(1.0, ge=-50.0, le=50.0)
    """o_q: weight of utility in the order logit ``sigma(o0 + o_q q_j)`` (default 1.0).
    Range: 0–2 (0: orders ignore utility)."""
    order_cart_ratio_target: float = Field(0.30, gt=0.0, lt=1.0)
    """Orders ÷ carts (default 0.30, OTTO). Solves the order offset o0. Range: 0.2–0.5."""
    order_offset: float | None = None
    """Fix the order offset o0 instead of solving it (default None: solve). Range: None, or
    a fixed value (about -1.3 at the default world)."""
    quantity_poisson: float = Field(0.1, ge=0.0, le=10.0)
    """Units per order line: ``1 + Poisson(lambda)`` (default 0.1). Range: 0–1."""
    wishlist_share: float = Field(0.02, ge=0.0, lt=0.5)
    """Share of order lines bought straight from the wishlist, with no click or cart of the
    item in the session (default 0.02; each converted cart line brings a wishlist line with
    odds ``w / (1 - w)``). In the logs the share of orders without an earlier click or cart
    of the item is a little higher (about 3 % by default): a session that began before its
    window (burn-in) may have carted before the window and check out inside it. Range:
    0–0.05."""

    # ------------------------------------------------------------------ logging policy
    logging_covis_share: float = Field(0.5, ge=0.0, le=1.0)
    """Share of the logging slate's positions filled by co-visitation neighbours of the
    current item; the rest is category popularity (default 0.5). Range: 0–1."""
    logging_random_share: float = Field(0.05, ge=0.0, le=1.0)
    """Share of page views that get a uniformly random slate (default 0.05). Range: 0–0.2."""
    logging_history_sessions: int = Field(20_000, ge=10, le=10_000_000)
    """Sessions of the shop's past (served by latent-popularity slates) from which the
    co-visitation counts and item popularity of the logging policy are learned (default
    20k). Range: 5k–100k."""
    covis_window: int = Field(3, ge=1, le=50)
    """Co-visitation counts pairs of clicks at most this many clicks apart (default 3).
    Range: 1–10."""

    # ------------------------------------------------------------------ time and volume
    start_ms: int = Field(OTTO_START_MS, ge=0)
    """Unix ms of the start of the burn-in (default 2022-07-31 22:00 UTC, OTTO's start).
    Range: any Unix ms."""
    burn_in_days: int = Field(3, ge=0, le=365)
    """Days simulated before the train period; only their events inside it are logged.
    Range: 0–7 (default 3)."""
    train_days: int = Field(28, ge=1, le=3650)
    """Length of the train period in days (default 28, as OTTO). Range: 7–56."""
    test_days: int = Field(7, ge=1, le=3650)
    """Length of the test period in days (default 7, as OTTO). Range: 1–14."""
    sessions_per_day: float = Field(7_000.0, gt=0.0, le=1e8)
    """New sessions (= shoppers) starting per day (default 7,000: ~200k train sessions).
    Range: 300 (smoke) – 30,000."""
    impression_log_share: float = Field(0.1, ge=0.0, le=1.0)
    """Share of sessions whose slate impressions go to ``impressions.parquet`` (default
    0.1: a full log would be slate_size rows per page view). Range: 0–1."""

    # ------------------------------------------------------------------ calibration
    calibration_sessions: int = Field(20_000, ge=100, le=10_000_000)
    """Pilot sessions used to solve u0, c0 and o0 for their targets (default 20k). Range:
    2k–100k."""
    calibration_rounds: int = Field(3, ge=1, le=20)
    """Solve / re-simulate rounds of the pilot (default 3). Range: 2–5."""
    chunk_sessions: int = Field(32_768, ge=1, le=10_000_000)
    """Sessions simulated per kernel call (bounds memory; results do not depend on it).
    Range: 1k–100k (default 32,768)."""

    @model_validator(mode="after")
    def _check(self) -> ShopConfig:
        if self.n_categories > self.n_items:
            raise ValueError(f"n_categories={self.n_categories} > n_items={self.n_items}")
        if self.slate_size >= self.n_items:
            raise ValueError(f"slate_size={self.slate_size} must be < n_items={self.n_items}")
        if self.favourite_categories > self.n_categories:
            raise ValueError(
                f"favourite_categories={self.favourite_categories} > "
                f"n_categories={self.n_categories}"
            )
        corr = self.quality_correlation()
        if np.linalg.eigvalsh(corr).min() <= 1e-9:
            raise ValueError(
                "rho_aq, rho_ab, rho_qb do not form a positive definite correlation matrix "
                f"({self.rho_aq}, {self.rho_ab}, {self.rho_qb})"
            )
        return self

    def quality_correlation(self) -> np.ndarray:
        """Correlation matrix of (attractiveness, utility, log-popularity), float64[3, 3]."""
        return np.array(
            [
                [1.0, self.rho_aq, self.rho_ab],
                [self.rho_aq, 1.0, self.rho_qb],
                [self.rho_ab, self.rho_qb, 1.0],
            ]
        )

    # ------------------------------------------------------------------ derived
    @property
    def day_ms(self) -> int:
        return 86_400_000

    @property
    def train_start_ms(self) -> int:
        """Start of the train period (after the burn-in)."""
        return self.start_ms + self.burn_in_days * self.day_ms

    @property
    def split_ms(self) -> int:
        """End of train = start of test."""
        return self.train_start_ms + self.train_days * self.day_ms

    @property
    def end_ms(self) -> int:
        """End of the test period = start of any online experiment."""
        return self.split_ms + self.test_days * self.day_ms
