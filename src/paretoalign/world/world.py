"""`World`: the catalogue, the calibrated response offsets and the logging policy.

``World.build(cfg)`` is deterministic in ``cfg`` (``cfg.seed`` fixes every draw):

1. draw the catalogue (:mod:`paretoalign.world.catalogue`);
2. solve the organic utility ``u0`` / cart offset ``c0`` / order offset ``o0`` on a pilot
   served by latent-popularity slates (the shop's past recommender);
3. simulate ``logging_history_sessions`` past sessions under those slates and learn the
   logging policy from their clicks (co-visitation + popularity,
   :mod:`paretoalign.world.logging_policy`);
4. re-solve the offsets on pilots served by the logging policy, ``calibration_rounds``
   times, so that under the logging policy widget clicks are ``rec_share_target`` of page
   views, carts ``cart_share_target`` of events and orders ÷ carts
   ``order_cart_ratio_target`` (each offset given explicitly in the config is kept).

Pilots are ordinary offline simulations of shoppers drawn from their own streams, over the
same timeline and with the same trimming as the logs, so the solved offsets match the
statistics :mod:`paretoalign.world.calibration` checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from paretoalign.world import kernels as K
from paretoalign.world.calibration import solve_offsets
from paretoalign.world.catalogue import Catalogue, build_catalogue
from paretoalign.world.config import ShopConfig
from paretoalign.world.logging_policy import (
    LoggingPolicy,
    PopularityPolicy,
    build_slate_table,
    category_rankings,
    covisitation,
    popularity_order,
    popularity_table,
)
from paretoalign.world.offline import (
    OfflineLogs,
    population_windows,
    run_sessions,
    simulate_offline,
)
from paretoalign.world.online import OnlineResult, OnlineShop, Policy, run_online
from paretoalign.world.records import (
    EXPERIMENT_STREAM,
    HISTORY_STREAM,
    OFFLINE_STREAM,
    PILOT_STREAM,
    Items,
    Offsets,
    Shoppers,
)
from paretoalign.world.rng import make_key
from paretoalign.world.shoppers import ShopperPopulation, draw_shoppers

#: Experiment shopper ids start here (offline ids are 0..S-1).
EXPERIMENT_ID_OFFSET = 1_000_000_000


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True, eq=False)
class World:
    """A simulated shop (see the module docstring). Build with :meth:`World.build`."""

    cfg: ShopConfig
    catalogue: Catalogue
    offsets: Offsets
    logging_table: np.ndarray  # int32[N+1, K]
    history_table: np.ndarray  # int32[N+1, K]: the past's latent-popularity slates
    item_clicks: np.ndarray  # int64[N+1]: clicks per item in the past (logging popularity)
    build_info: dict

    @property
    def n_items(self) -> int:
        return self.catalogue.n_items

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, cfg: ShopConfig) -> World:
        """Draw and calibrate the world of ``cfg`` (see the module docstring)."""
        if not isinstance(cfg, ShopConfig):
            raise TypeError(f"World.build needs a ShopConfig, got {type(cfg).__name__}")
        cat = build_catalogue(cfg)
        offsets = Offsets(
            organic_utility=0.0 if cfg.organic_utility is None else cfg.organic_utility,
            cart_offset=-2.5 if cfg.cart_offset is None else cfg.cart_offset,
            order_offset=-1.0 if cfg.order_offset is None else cfg.order_offset,
        )
        hist_table = popularity_table(
            cat.category, cat.log_popularity, cfg.n_categories, cfg.slate_size
        )
        zeros = np.zeros(cat.n_items + 1, np.int64)
        world = cls(cfg, cat, offsets, hist_table, hist_table, zeros, {})
        info: dict = {"rounds": []}

        def pilot(round_no: int, table: np.ndarray) -> Offsets:
            pop = world._draw(cfg.calibration_sessions, (PILOT_STREAM, round_no), 0)
            lo, hi = population_windows(cfg, pop)
            every = np.ones(len(pop), np.bool_)
            out = run_sessions(world, pop, table, lo, hi, log_impressions=every, record=True)
            solved, diag = solve_offsets(cfg, out, world.offsets, cfg.slate_size)
            info["rounds"].append({"round": round_no, **diag})
            return solved

        world = replace(world, offsets=pilot(0, hist_table))
        hist_pop = world._draw(cfg.logging_history_sessions, (HISTORY_STREAM,), 0)
        lo = np.full(len(hist_pop), np.iinfo(np.int64).min, np.int64)
        hi = np.full(len(hist_pop), np.iinfo(np.int64).max, np.int64)
        past = run_sessions(world, hist_pop, hist_table, lo, hi)
        clicks = past.type == K.T_CLICK
        click_ptr = np.zeros(len(hist_pop) + 1, np.int64)
        np.cumsum(
            np.bincount(past.session_index[clicks], minlength=len(hist_pop)), out=click_ptr[1:]
        )
        click_aid = past.aid[clicks]
        item_clicks = np.bincount(click_aid, minlength=cat.n_items + 1).astype(np.int64)
        item_clicks[0] = 0
        nbr_ptr, nbr_ids, _ = covisitation(
            click_ptr, click_aid, cat.n_items, cfg.covis_window, cfg.slate_size
        )
        order = popularity_order(item_clicks.astype(np.float64))
        cat_ptr, cat_ranked = category_rankings(cat.category, order, cfg.n_categories)
        table = build_slate_table(
            cat.category,
            nbr_ptr,
            nbr_ids,
            cat_ptr,
            cat_ranked,
            order,
            cfg.slate_size,
            cfg.logging_covis_share,
        )
        world = replace(world, logging_table=table, item_clicks=item_clicks)
        for r in range(1, cfg.calibration_rounds + 1):
            world = replace(world, offsets=pilot(r, table))
        info["history_events"] = len(past.aid)
        info["items_with_covis"] = int((np.diff(nbr_ptr) > 0).sum())
        return replace(world, build_info=info)

    def _draw(
        self, n: int, stream: tuple[int, ...], first_id: int, *, start_ms: int | None = None
    ) -> ShopperPopulation:
        cfg = self.cfg
        lo = cfg.start_ms if start_ms is None else start_ms
        span = cfg.end_ms - cfg.start_ms
        parts = (cfg.seed, *stream)
        return draw_shoppers(
            cfg,
            self.catalogue,
            n=n,
            start_lo_ms=lo,
            span_ms=span,
            first_id=first_id,
            seed_parts=parts,
            stream_key=make_key(*parts),
            day0_ms=cfg.train_start_ms,
        )

    # ------------------------------------------------------------------ packing
    @cached_property
    def _packed_items(self) -> Items:
        return self._pack_items()

    def packed_items(self) -> Items:
        """The item record ``W`` of :mod:`paretoalign.world.kernels` (cached; read-only)."""
        return self._packed_items

    def _pack_items(self) -> Items:
        cfg, cat, off = self.cfg, self.catalogue, self.offsets
        a, q, b = cat.attractiveness, cat.utility, cat.log_popularity
        price_idx = np.zeros_like(cat.price)
        price_idx[1:] = np.log(cat.price[1:] / cfg.price_median)
        order_base = cfg.order_utility * q
        items = cat.category_items
        w = cfg.organic_pop * b[items]
        starts = cat.category_ptr[:-1]
        sizes = np.diff(cat.category_ptr)
        group = np.repeat(np.arange(len(sizes)), sizes)
        w = np.exp(w - np.maximum.reduceat(w, starts)[group])
        alias_prob, alias_idx = K.build_alias(w, np.ascontiguousarray(cat.category_ptr))
        return Items(
            vec=np.ascontiguousarray(cat.vectors),
            cat=np.ascontiguousarray(cat.category),
            click_base=cfg.beta_attract * a + cfg.beta_pop * b,
            price_idx=price_idx,
            cart_base=cfg.cart_utility * q,
            p_order=_sigmoid(off.order_offset + order_base),
            organic_base=cfg.organic_attract * a,
            cat_ptr=np.ascontiguousarray(cat.category_ptr),
            cat_items=np.ascontiguousarray(items),
            alias_prob=alias_prob,
            cat_mu=np.ascontiguousarray(cat.category_centres),
            order_base=order_base,
            alias_idx=alias_idx,
            vec_cat=np.ascontiguousarray(cat.vectors[items]),
            organic_cat=cfg.organic_attract * a[items],
        )

    def packed_params(self) -> tuple[np.ndarray, np.ndarray]:
        """The scalar knobs ``(par float64[N_PAR], ipar int64[N_IPAR])``."""
        cfg, off = self.cfg, self.offsets
        par = np.zeros(K.N_PAR)
        par[K.P_LOG_THETA] = math.log(cfg.theta)
        par[K.P_THETA] = cfg.theta
        par[K.P_U0] = off.organic_utility
        par[K.P_BETA_M] = cfg.beta_match
        par[K.P_BETA_P] = cfg.beta_price
        par[K.P_KAPPA_M] = cfg.organic_match
        par[K.P_C0] = off.cart_offset
        par[K.P_C_M] = cfg.cart_match
        par[K.P_C_P] = cfg.cart_price
        par[K.P_LAMBDA] = cfg.intent_memory
        par[K.P_TAU] = cfg.intent_noise
        par[K.P_SWITCH] = cfg.intent_switch_prob
        par[K.P_REPEAT] = cfg.repeat_prob
        par[K.P_RECENCY] = cfg.repeat_recency
        par[K.P_GAP_MU] = math.log(cfg.gap_median_s * 1000.0)
        par[K.P_GAP_SIGMA] = cfg.gap_sigma
        par[K.P_BREAK_P] = cfg.break_prob
        par[K.P_BREAK_MU] = math.log(cfg.break_median_h * 3_600_000.0)
        par[K.P_BREAK_SIGMA] = cfg.break_sigma
        par[K.P_CART_GAP_MU] = math.log(cfg.cart_gap_median_s * 1000.0)
        par[K.P_CHECKOUT_MU] = math.log(cfg.checkout_gap_median_s * 1000.0)
        par[K.P_QTY] = cfg.quantity_poisson
        par[K.P_WISH_ODDS] = cfg.wishlist_share / (1.0 - cfg.wishlist_share)
        par[K.P_RANDOM_SHARE] = cfg.logging_random_share
        ipar = np.zeros(K.N_IPAR, np.int64)
        ipar[K.I_MODEL] = K.MODEL_PBM if cfg.click_model == "pbm" else K.MODEL_CASCADE
        ipar[K.I_M] = cfg.organic_candidates
        return par, ipar

    @staticmethod
    def packed_shoppers(pop: ShopperPopulation) -> Shoppers:
        """The shopper record ``S`` of :mod:`paretoalign.world.kernels`."""
        pi = pop.buy_propensity
        return Shoppers(
            taste=np.ascontiguousarray(pop.taste, dtype=np.float64),
            gamma=np.ascontiguousarray(pop.price_sensitivity, dtype=np.float64),
            logit_pi=np.log(pi / (1.0 - pi)),
            fav_cat=np.ascontiguousarray(pop.favourite_categories, dtype=np.int32),
            fav_cum=pop.favourite_cumulative,
            start_ms=np.ascontiguousarray(pop.start_ms, dtype=np.int64),
            budget=np.ascontiguousarray(pop.budget, dtype=np.int32),
            seed=np.ascontiguousarray(pop.seed, dtype=np.uint64),
        )

    # ------------------------------------------------------------------ populations
    def offline_population(self) -> ShopperPopulation:
        """The shoppers of the offline logs: ids 0..S-1 arriving over burn-in, train, test."""
        cfg = self.cfg
        days = cfg.burn_in_days + cfg.train_days + cfg.test_days
        return self._draw(round(cfg.sessions_per_day * days), (OFFLINE_STREAM,), 0)

    def experiment_population(
        self, days: int, seed: int, *, sessions_per_day: float | None = None
    ) -> ShopperPopulation:
        """New shoppers arriving during ``days`` days after the test period.

        Drawn from the world's shopper distribution with the experiment ``seed`` (which also
        keys their sessions' random streams); ids start at ``EXPERIMENT_ID_OFFSET``; ``day``
        counts from the end of the test period. ``sessions_per_day`` defaults to the
        world's arrival rate.
        """
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        rate = self.cfg.sessions_per_day if sessions_per_day is None else sessions_per_day
        if rate <= 0:
            raise ValueError(f"sessions_per_day must be > 0, got {rate}")
        cfg = self.cfg
        parts = (cfg.seed, EXPERIMENT_STREAM, seed)
        return draw_shoppers(
            cfg,
            self.catalogue,
            n=round(rate * days),
            start_lo_ms=cfg.end_ms,
            span_ms=days * cfg.day_ms,
            first_id=EXPERIMENT_ID_OFFSET,
            seed_parts=parts,
            stream_key=make_key(*parts),
            day0_ms=cfg.end_ms,
        )

    # ------------------------------------------------------------------ policies
    def logging_policy(self, seed: int) -> LoggingPolicy:
        """The logging policy as an online policy (its random slates keyed by ``seed``)."""
        return LoggingPolicy(self.logging_table, self.cfg.logging_random_share, seed)

    def popularity_policy(self) -> PopularityPolicy:
        """The ``K`` most clicked items of the shop's past, for every session."""
        return PopularityPolicy(
            popularity_order(self.item_clicks.astype(np.float64)), self.cfg.slate_size
        )

    # ------------------------------------------------------------------ simulation
    def simulate_offline(self) -> OfflineLogs:
        """The offline logs (see :func:`paretoalign.world.offline.simulate_offline`)."""
        return simulate_offline(self)

    def open_shop(self, population: ShopperPopulation, **kwargs) -> OnlineShop:
        """An :class:`OnlineShop` for stepping by hand (keyword arguments as there)."""
        return OnlineShop(self, population, **kwargs)

    def run_online(self, policy: Policy, population: ShopperPopulation, **kwargs) -> OnlineResult:
        """Serve ``population`` with ``policy`` to the end (see :func:`run_online`)."""
        return run_online(self, policy, population, **kwargs)
