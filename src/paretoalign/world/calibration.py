"""Calibration: solve the response offsets on a pilot, and check the logs against OTTO.

**Solving** (:func:`solve_offsets`, used by ``World.build``). From a pilot simulation with
recorded utilities:

* ``u0``: the expected number of widget clicks, ``sum over page views with a choice of
  P_rec(u0)``, equals ``rec_share_target * clicks``; ``P_rec`` is exact
  (``sigmoid(logsumexp_k(U_k + k log theta) - u0)`` for ``pbm``, ``1 - sum`` of the
  cascade's non-click mass for ``cascade``);
* ``c0``: ``mean over clicks of sigmoid(c0 + x) = carts / clicks`` with
  ``carts / clicks = s_cart / (1 - s_cart (1 + r))`` for the target cart share ``s_cart``
  and orders ÷ carts ``r``;
* ``o0``: ``sum over first carts of checked-out sessions of sigmoid(o0 + o_q q) /
  (1 - wishlist_share) = r * carts``.

Each is a monotone equation in one unknown, solved by Brent's method.

**Checking** (:func:`calibration_checks`): the statistics of the train log against the
published statistics of the OTTO data set (:data:`OTTO`; OTTO's ``recsys-dataset``
repository, cited in the book's method page, section *Why a simulated shop*
(``method-shop``)), each with its tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logsumexp

from paretoalign.data import CART, CLICK, ORDER, SessionLog
from paretoalign.world import kernels as K
from paretoalign.world.config import ShopConfig
from paretoalign.world.records import Offsets

#: OTTO's published statistics (train split) used as calibration targets.
OTTO = {
    "clicks_share_pct": 89.9,
    "carts_share_pct": 7.8,
    "orders_share_pct": 2.35,
    "orders_per_cart": 0.30,
    "events_per_session_p50": 6.0,
    "events_per_session_p75": 15.0,
    "events_per_session_p90": 39.0,
    "events_per_session_p95": 68.0,
    "events_per_item_p50": 20.0,
    "events_per_item_p90": 183.0,
    "rec_share_of_page_views_pct": 20.0,
}


# ---------------------------------------------------------------------- statistics
def log_statistics(log: SessionLog, channel: np.ndarray, units: np.ndarray) -> dict[str, Any]:
    """Statistics of one split: event mix, lengths, item counts, channels, repeats.

    ``channel`` / ``units`` are aligned with the log's events (``OfflineLogs``). Quantiles
    use linear interpolation (pandas ``describe``). ``events_per_item`` counts items with at
    least one event. ``repeat_view_rate`` is the share of clicks on an item already clicked
    earlier in the same session; ``wishlist_order_share`` the share of order lines whose
    item has no click or cart in the session.
    """
    n = max(log.n_events, 1)
    counts = np.bincount(log.type.astype(np.int64), minlength=3)
    lengths = log.lengths
    per_item = np.bincount(log.aid, minlength=log.n_items + 1)[1:]
    per_item = per_item[per_item > 0]
    clicks = log.type == CLICK
    sess = log.session_index()
    width = log.n_items + 1
    # (session, item) keys; sessions are contiguous, so the keys are nearly sorted already
    click_keys = np.sort(sess[clicks] * width + log.aid[clicks])
    n_clicks = max(int(clicks.sum()), 1)
    distinct_clicks = int(np.count_nonzero(np.diff(click_keys))) + 1 if len(click_keys) else 0
    orders = log.type == ORDER
    seen_keys = np.sort(sess[~orders] * width + log.aid[~orders])
    order_keys = sess[orders] * width + log.aid[orders]
    at = np.minimum(np.searchsorted(seen_keys, order_keys), max(len(seen_keys) - 1, 0))
    unseen = seen_keys[at] != order_keys if len(seen_keys) else np.ones(len(order_keys), bool)

    def q(x: np.ndarray, p: float) -> float:
        return float(np.quantile(x, p)) if len(x) else float("nan")

    return {
        "sessions": int(log.n_sessions),
        "events": int(log.n_events),
        "clicks_share_pct": 100.0 * counts[CLICK] / n,
        "carts_share_pct": 100.0 * counts[CART] / n,
        "orders_share_pct": 100.0 * counts[ORDER] / n,
        "orders_per_cart": float(counts[ORDER] / max(counts[CART], 1)),
        "events_per_session_mean": float(lengths.mean()) if len(lengths) else float("nan"),
        **{f"events_per_session_p{p}": q(lengths, p / 100) for p in (50, 75, 90, 95)},
        "events_per_session_max": int(lengths.max()) if len(lengths) else 0,
        **{f"events_per_item_p{p}": q(per_item, p / 100) for p in (50, 75, 90, 95)},
        "items_with_events": len(per_item),
        "rec_share_of_page_views_pct": 100.0
        * float((channel[clicks] == K.CH_REC).sum())
        / n_clicks,
        "repeat_view_rate": 1.0 - distinct_clicks / n_clicks,
        "wishlist_order_share": float(unseen.mean()) if orders.any() else 0.0,
        "units_per_order_line": float(units[orders].mean()) if orders.any() else float("nan"),
        "days": float((log.ts.max() - log.ts.min()) / 86_400_000) if log.n_events else 0.0,
    }


def calibration_checks(stats: dict[str, Any], *, relax: float = 1.0) -> list[dict[str, Any]]:
    """The calibration table: ``{"name", "sim", "otto", "tolerance", "rule", "ok"}`` rows.

    ``rule`` is ``"abs"`` (``|sim - otto| <= tolerance``), ``"rel"`` (``|sim / otto - 1|
    <= tolerance``) or ``"report"`` (no target: ``tolerance`` and ``ok`` are null).
    ``relax`` multiplies every tolerance (1: the tolerances written below).
    """
    rows: list[dict[str, Any]] = []

    def check(name: str, sim: float, otto: float | None, tol: float | None, rule: str) -> None:
        if rule == "report":
            ok = None
        elif rule == "abs":
            ok = bool(abs(sim - otto) <= tol * relax)
        else:
            ok = bool(abs(sim / otto - 1.0) <= tol * relax)
        rows.append(
            {
                "name": name,
                "sim": float(sim),
                "otto": otto,
                "tolerance": None if tol is None else tol * relax,
                "rule": rule,
                "ok": ok,
            }
        )

    for name in ("clicks_share_pct", "carts_share_pct", "orders_share_pct"):
        check(name, stats[name], OTTO[name], 1.5, "abs")
    check("orders_per_cart", stats["orders_per_cart"], OTTO["orders_per_cart"], 0.05, "abs")
    for p in (50, 75, 90, 95):
        name = f"events_per_session_p{p}"
        check(name, stats[name], OTTO[name], 0.20, "rel")
    ratio = stats["events_per_item_p90"] / stats["events_per_item_p50"]
    otto_ratio = OTTO["events_per_item_p90"] / OTTO["events_per_item_p50"]
    check("events_per_item_p90_over_p50", ratio, otto_ratio, 0.30, "rel")
    check(
        "events_per_item_p50",
        stats["events_per_item_p50"],
        OTTO["events_per_item_p50"],
        None,
        "report",
    )
    check(
        "events_per_item_p90",
        stats["events_per_item_p90"],
        OTTO["events_per_item_p90"],
        None,
        "report",
    )
    name = "rec_share_of_page_views_pct"
    check(name, stats[name], OTTO[name], 4.0, "abs")
    check("repeat_view_rate", stats["repeat_view_rate"], None, None, "report")
    check("wishlist_order_share", stats["wishlist_order_share"], None, None, "report")
    check("units_per_order_line", stats["units_per_order_line"], None, None, "report")
    return rows


# ---------------------------------------------------------------------- solving
def cart_rate_target(cfg: ShopConfig) -> float:
    """Carts per click implied by the cart share and orders ÷ carts targets."""
    s, r = cfg.cart_share_target, cfg.order_cart_ratio_target
    denominator = 1.0 - s * (1.0 + r)
    if denominator <= s:
        raise ValueError(f"cart_share_target={s} with order_cart_ratio_target={r} is infeasible")
    return s / denominator


def rec_probability(util: np.ndarray, u0: float, theta: float, model: str) -> np.ndarray:
    """Exact P(widget click) of each row of slate utilities ``util`` (float64[P, K])."""
    kk = util.shape[1]
    if model == "pbm":
        lse = logsumexp(util + np.arange(kk) * math.log(theta), axis=1)
        return expit(lse - u0)
    alpha = expit(util - u0)
    reach = np.cumprod(
        np.concatenate([np.ones((len(util), 1)), (1 - alpha[:, :-1]) * theta], axis=1), axis=1
    )
    return (reach * alpha).sum(axis=1)


def _solve(fn, target: float, lo: float = -60.0, hi: float = 60.0) -> float:
    f_lo, f_hi = fn(lo) - target, fn(hi) - target
    if f_lo * f_hi > 0:
        raise ValueError(
            f"calibration target {target:.4g} is out of reach (range {fn(lo):.4g}..{fn(hi):.4g})"
        )
    return float(brentq(lambda v: fn(v) - target, lo, hi, xtol=1e-10))


def solve_offsets(
    cfg: ShopConfig, out, offsets: Offsets, slate_size: int
) -> tuple[Offsets, dict[str, Any]]:
    """Solve the offsets left free in ``cfg`` on a recorded pilot ``out`` (``SimOutput``).

    Returns ``(Offsets, diagnostics)``; diagnostics hold the pilot's realised shares under
    the *old* offsets and the solved values.
    """
    clicks = out.type == CLICK
    carts = out.type == CART
    n_clicks, n_carts = int(clicks.sum()), int(carts.sum())
    n_orders = int((out.type == ORDER).sum())
    if n_clicks == 0:
        raise ValueError("the calibration pilot produced no clicks (increase calibration_sessions)")
    diag: dict[str, Any] = {
        "clicks": n_clicks,
        "rec_share": float((out.channel[clicks] == K.CH_REC).sum() / n_clicks),
        "carts_per_click": n_carts / n_clicks,
        "orders_per_cart": n_orders / max(n_carts, 1),
    }
    u0, c0, o0 = offsets.organic_utility, offsets.cart_offset, offsets.order_offset
    if cfg.organic_utility is None:
        choice = out.imp_choice.reshape(-1, slate_size)[:, 0]
        util = out.imp_util.reshape(-1, slate_size)[choice]
        want = cfg.rec_share_target * n_clicks
        if cfg.click_model == "pbm":  # P_rec = sigmoid(lse - u0): reduce the slates once
            lse = logsumexp(util + np.arange(slate_size) * math.log(cfg.theta), axis=1)
            u0 = _solve(lambda v: float(expit(lse - v).sum()), want)
        else:
            u0 = _solve(
                lambda v: float(rec_probability(util, v, cfg.theta, cfg.click_model).sum()), want
            )
    if cfg.cart_offset is None:
        x = out.x[clicks]
        target = cart_rate_target(cfg)
        c0 = _solve(lambda v: float(expit(v + x).mean()), target)
    if cfg.order_offset is None:
        session = out.session_index
        first = carts & out.first_cart & out.checked_out[session]
        y = out.x[first]
        if len(y) == 0:
            raise ValueError("the calibration pilot produced no checked-out carts")
        # carts of the solved c0 scale with the carts-per-click change; use the target rate
        expected_carts = cart_rate_target(cfg) * n_clicks if cfg.cart_offset is None else n_carts
        scale = expected_carts / max(n_carts, 1)
        want = cfg.order_cart_ratio_target * expected_carts * (1.0 - cfg.wishlist_share)
        o0 = _solve(lambda v: float(expit(v + y).sum()) * scale, want)
    diag.update({"organic_utility": u0, "cart_offset": c0, "order_offset": o0})
    return Offsets(organic_utility=u0, cart_offset=c0, order_offset=o0), diag
