"""The simulated shop: offline logs, online responses to served slates, and the ground truth.

A white-box generative shop calibrated to OTTO's published marginals (why a simulated
shop, and which simulators it borrows from: the book's method page, section *Why a
simulated shop* (``method-shop``)). The same world writes the offline logs (the embedded
default data set), answers the slates of any policy in an online experiment, and knows
every latent parameter, so offline↔online alignment can be checked against the truth.

Public API (stable; the online layer codes against it)
------------------------------------------------------
Configuration
    ``ShopConfig``                 the ``[shop]`` table (pydantic, unknown keys rejected;
                                   every knob documented with default and range).
    ``World.build(cfg) -> World``  deterministic in ``cfg.seed``: catalogue, calibrated
                                   offsets (``world.offsets``), logging policy.

Offline logs
    ``world.simulate_offline() -> OfflineLogs`` with ``.dataset`` (train / test
    ``SessionLog`` + ``stats()``), ``.impressions`` (DataFrame: ``session_id, split, ts,
    page_aid, position`` 1..K, ``aid, propensity, random_slate, clicked``),
    ``.truth_items`` (``aid, category, attractiveness, utility, log_popularity, price,
    click_base, p_order_given_cart, logging_clicks_past, v0..``), ``.truth_shoppers``
    (``shopper_id`` = session id, ``split, start_ms, budget, price_sensitivity,
    buy_propensity, fav_category_f, fav_weight_f, u0..``), ``.channel[split]`` (int8 per
    event: ``CHANNEL_NAMES``).
    ``write_offline(world, out_dir, otto_jsonl=False) -> OfflineLogs`` writes
    ``train.parquet, test.parquet, stats.json`` (``paretoalign.data.save_dataset``),
    ``impressions.parquet, truth_items.parquet, truth_shoppers.parquet`` and optionally
    ``otto-recsys-train.jsonl, otto-recsys-test.jsonl`` (OTTO's 0-based aids).
    ``calibrate(world) -> dict``: ``{"checks": [{"name", "sim", "otto", "tolerance",
    "rule", "ok"}], "all_ok": bool, ...}`` (``calibration_checks``).

Online experiment
    ``world.experiment_population(days, seed, sessions_per_day=None) -> ShopperPopulation``
        new shoppers arriving in the ``days`` days after the test period (ids from
        ``EXPERIMENT_ID_OFFSET`` = 10**9; ``day`` 0 = first experiment day), drawn and
        keyed by the experiment ``seed``.
    A *policy* is any callable ``policy(state: SessionState) -> int32[B, K]`` (item ids
        1..N, best first, ``K = cfg.slate_size``). ``SessionState`` fields, B rows each:
        ``shopper_id int64[B]``, ``history int32[B, L]`` (last L clicked items,
        left-padded with 0, last column = current page item), ``day int32[B]``,
        ``current_item int32[B]``, ``page_view int32[B]``, ``ts int64[B]``. Batches mix
        shoppers of all groups; a routing policy dispatches on ``shopper_id``.
    ``world.run_online(policy, population, *, history_len=50, batch_size=4096,
        record_expected=False, item_impressions=True) -> OnlineResult`` with DataFrames
        (every one has ``shopper_id`` int64 and ``day`` int32):
        ``slates`` (``ts, page_view, page_aid, clicked_position`` 0 = none / 1..K),
        ``impressions`` (``ts, page_view, position`` 1..K, ``aid, clicked``),
        ``clicks`` (widget clicks: ``ts, page_view, aid, position, carted, ordered``),
        ``organic_views`` (``ts, page_view, aid, channel`` entry/organic/repeat),
        ``carts`` (``ts, aid, channel``), ``orders`` (``ts, aid, units, price, revenue,
        wishlist, rec_clicked``), ``sessions`` (one row per shopper: ``day, start_ts,
        end_ts, page_views, slates, rec_clicks, carts, order_lines, units, revenue``).
        With ``record_expected=True``, ``slates`` and ``impressions`` also carry the exact
        ``p_click, p_cart, p_order`` (per impression; per slate: sums over positions):
        P(click), P(click and cart on that page), P(click, cart there and that item
        ordered at checkout); the sampled twins are ``clicked``, ``clicks.carted`` and
        ``clicks.carted & clicks.ordered``.
        Every page view shows a slate, the session's last one included (the shopper then
        leaves: zero click probability), so ``len(slates)`` = page views. Sessions that
        start in the window run to their checkout (``day`` may pass ``days - 1``). A
        session's events depend only on its seed and the slates it gets, never on
        ``batch_size`` or on the other sessions of a batch.
    ``world.open_shop(population, **same) -> OnlineShop`` for stepping by hand:
        ``.done``, ``.state() -> SessionState``, ``.step(slates)``,
        ``.expected(slates) -> ExpectedResponse`` (exact ``p_click, p_cart, p_order``
        float64[B, K] for the current states, no sampling, no advance),
        ``.replicate(n, seed) -> OnlineShop`` (Monte-Carlo copies), ``.result()``.
    ``world.logging_policy(seed)`` / ``world.popularity_policy()``: baseline policies.

Response model (one page view; details in ``kernels`` and ``config``)
    click utility ``U_j = beta_m <z, v_j> + beta_a a_j + beta_b b_j - beta_p gamma log p_j``;
    ``pbm``: ``P(click k) = theta^(k-1) e^U_k / (e^u0 + sum_m theta^(m-1) e^U_m)``, the rest
    goes organic; ``cascade``: ``theta^(k-1) alpha_k prod_{m<k} (1 - alpha_m)``,
    ``alpha = sigmoid(U - u0)``. Cart on every viewed item with ``sigmoid(c0 + c_q q_j +
    c_m <u_s, v_j> - c_p gamma log p_j + logit pi_s)``; at checkout each carted item is
    ordered with ``sigmoid(o0 + o_q q_j)``, ``1 + Poisson(lambda)`` units. Clicks follow
    attractiveness ``a``, purchases utility ``q`` (correlation ``rho_aq``).
"""

from paretoalign.world.calibration import OTTO, calibration_checks, log_statistics
from paretoalign.world.catalogue import Catalogue
from paretoalign.world.config import ShopConfig
from paretoalign.world.io import calibrate, write_offline
from paretoalign.world.kernels import CHANNEL_NAMES
from paretoalign.world.offline import OfflineLogs
from paretoalign.world.online import (
    ExpectedResponse,
    OnlineResult,
    OnlineShop,
    Policy,
    SessionState,
    run_online,
)
from paretoalign.world.records import Offsets
from paretoalign.world.shoppers import ShopperPopulation
from paretoalign.world.world import EXPERIMENT_ID_OFFSET, World

__all__ = [
    "CHANNEL_NAMES",
    "EXPERIMENT_ID_OFFSET",
    "OTTO",
    "Catalogue",
    "ExpectedResponse",
    "OfflineLogs",
    "Offsets",
    "OnlineResult",
    "OnlineShop",
    "Policy",
    "SessionState",
    "ShopConfig",
    "ShopperPopulation",
    "World",
    "calibrate",
    "calibration_checks",
    "log_statistics",
    "run_online",
    "write_offline",
]
