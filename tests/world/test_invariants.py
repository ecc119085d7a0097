"""Invariants of the offline logs and online runs: order, ranges, provenance, determinism."""

from __future__ import annotations

from dataclasses import replace

import numba
import numpy as np
import pytest

from paretoalign.data import CART, CLICK, ORDER
from paretoalign.world import World, write_offline
from paretoalign.world import kernels as K
from paretoalign.world.offline import population_windows, run_sessions


def test_logs_are_valid_sorted_and_in_range(tiny_world, tiny_logs):
    cfg = tiny_world.cfg
    windows = {"train": (cfg.train_start_ms, cfg.split_ms), "test": (cfg.split_ms, cfg.end_ms)}
    for split, (lo, hi) in windows.items():
        log = getattr(tiny_logs.dataset, split)
        log.validate()
        assert log.n_sessions > 100
        assert log.n_items == cfg.n_items
        assert (log.aid >= 1).all() and (log.aid <= cfg.n_items).all()
        assert (log.ts >= lo).all() and (log.ts < hi).all()
        same = log.session_index()[1:] == log.session_index()[:-1]
        assert (np.diff(log.ts)[same] >= 0).all()
        assert (log.lengths >= 2).all()
        assert set(np.unique(log.type)) == {CLICK, CART, ORDER}
        assert len(tiny_logs.channel[split]) == log.n_events
    train_ids = set(tiny_logs.dataset.train.session_id.tolist())
    assert train_ids.isdisjoint(tiny_logs.dataset.test.session_id.tolist())


def _unpreceded_orders(log):
    """Boolean per order event: no click or cart of the same item earlier in its session."""
    sess = log.session_index()
    width = log.n_items + 1
    key = sess * width + log.aid
    first_seen = {}
    out = []
    for e in range(log.n_events):
        if log.type[e] == ORDER:
            out.append(first_seen.get(int(key[e]), e) >= e)
        else:
            first_seen.setdefault(int(key[e]), e)
    return np.array(out)


def test_orders_are_preceded_by_click_or_cart_except_wishlist(tiny_world, tiny_logs):
    cfg = tiny_world.cfg
    log = tiny_logs.dataset.train
    pop = tiny_logs.population
    start = dict(zip(pop.shopper_id.tolist(), pop.start_ms.tolist()))
    no_burn_in = np.array([start[int(s)] >= cfg.train_start_ms for s in log.session_id])
    orders = log.type == ORDER
    unpreceded = _unpreceded_orders(log)
    order_sess = log.session_index()[orders]
    wishlist = tiny_logs.channel["train"][orders] == K.CH_WISHLIST
    # in sessions wholly inside the window, only wishlist lines lack a click or cart (a
    # session begun in the burn-in may also have carted before the window)
    inside = no_burn_in[order_sess]
    assert not (unpreceded & inside & ~wishlist).any()
    assert orders.sum() > 100
    ws, n_inside = cfg.wishlist_share, inside.sum()
    assert unpreceded[inside].mean() <= ws + 4 * np.sqrt(ws / n_inside)
    # wishlist lines are about wishlist_share of the order lines
    assert abs(wishlist.mean() - ws) < 4 * np.sqrt(ws / orders.sum())


def test_impressions_table(tiny_world, tiny_logs):
    imp = tiny_logs.impressions
    kk = tiny_world.cfg.slate_size
    assert len(imp) % kk == 0 and len(imp) > 0
    assert imp.position.min() == 1 and imp.position.max() == kk
    assert imp.aid.between(1, tiny_world.n_items).all()
    assert ((imp.propensity > 0) & (imp.propensity <= 1)).all()
    # non-random slates are the logging table's; their propensity is (1 - eps) + eps / N
    det = imp[~imp.random_slate]
    np.testing.assert_array_equal(
        tiny_world.logging_table[det.page_aid.to_numpy(), det.position.to_numpy() - 1],
        det.aid.to_numpy(),
    )
    eps = tiny_world.cfg.logging_random_share
    np.testing.assert_allclose(det.propensity, 1 - eps + eps / tiny_world.n_items, rtol=1e-6)
    # one click at most per slate; clicked impressions are widget clicks in the log
    per_slate = imp.clicked.to_numpy().reshape(-1, kk).sum(axis=1)
    assert per_slate.max() <= 1
    # in the test split (no session starts before its window) every widget click of the
    # log has its clicked impression and vice versa
    test = tiny_logs.dataset.test
    rec_clicks = int(((tiny_logs.channel["test"] == K.CH_REC) & (test.type == CLICK)).sum())
    assert rec_clicks > 50
    assert int(imp.clicked[imp.split == "test"].sum()) == rec_clicks


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path, tiny_config):
    cfg = tiny_config(calibration_sessions=400, logging_history_sessions=400, calibration_rounds=1,
                      sessions_per_day=60.0)  # fmt: skip
    a = write_offline(World.build(cfg), tmp_path / "a")
    write_offline(World.build(cfg), tmp_path / "b")
    for name in ("train.parquet", "test.parquet", "stats.json", "impressions.parquet",
                 "truth_items.parquet", "truth_shoppers.parquet"):  # fmt: skip
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    other = World.build(cfg.model_copy(update={"seed": 1})).simulate_offline()
    assert other.dataset.train != a.dataset.train
    assert not np.array_equal(other.truth_items.utility, a.truth_items.utility)


def test_logs_do_not_depend_on_chunks_or_threads(tiny_world):
    pop = tiny_world.offline_population()
    lo, hi = population_windows(tiny_world.cfg, pop)
    imp = np.ones(len(pop), bool)
    # one chunk on the parallel kernel vs small chunks on the serial twin, on one thread
    big = replace(tiny_world, cfg=tiny_world.cfg.model_copy(update={"chunk_sessions": 10**6}))
    assert len(pop) >= K.PARALLEL_MIN_ROWS
    ref = run_sessions(big, pop, big.logging_table, lo, hi, log_impressions=imp)
    small = replace(tiny_world, cfg=tiny_world.cfg.model_copy(update={"chunk_sessions": 37}))
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        other = run_sessions(small, pop, small.logging_table, lo, hi, log_impressions=imp)
    finally:
        numba.set_num_threads(threads)
    for name in ("n_events", "aid", "ts", "type", "channel", "units", "imp_aid", "imp_clicked"):
        np.testing.assert_array_equal(getattr(ref, name), getattr(other, name), err_msg=name)


def _sorted(frame):
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_online_does_not_depend_on_batch_size(tiny_world, monkeypatch):
    pop = tiny_world.experiment_population(days=1, seed=3, sessions_per_day=300)
    pol = tiny_world.popularity_policy()
    a = tiny_world.run_online(pol, pop, batch_size=5, history_len=3)  # serial kernels
    monkeypatch.setattr(K, "ONLINE_PARALLEL_MIN_ROWS", 100)  # parallel ones from 100 rows
    b = tiny_world.run_online(pol, pop, batch_size=300, history_len=3, record_expected=True)
    exp = b.impressions.pop("p_click"), b.impressions.pop("p_cart"), b.impressions.pop("p_order")
    for name in ("p_click", "p_cart", "p_order"):
        b.slates.pop(name)
    assert exp[0].sum() > 0
    for name in ("slates", "impressions", "clicks", "organic_views", "carts", "orders", "sessions"):
        left, right = getattr(a, name), getattr(b, name)
        assert len(left) == len(right), name
        assert _sorted(left).equals(_sorted(right)), name
    assert len(a.sessions) == len(pop)
    assert (a.sessions.page_views == a.sessions.slates).all()


def test_online_with_no_shoppers(tiny_world):
    pop = tiny_world.experiment_population(days=1, seed=3, sessions_per_day=10).take(
        np.zeros(0, np.int64)
    )
    shop = tiny_world.open_shop(pop)
    assert shop.done and shop.n_open == 0
    res = shop.result()
    assert len(res.slates) == len(res.sessions) == len(res.orders) == 0


def test_online_tables_are_consistent(tiny_world):
    pop = tiny_world.experiment_population(days=2, seed=4, sessions_per_day=60)
    res = tiny_world.run_online(tiny_world.logging_policy(seed=1), pop, batch_size=32)
    s = res.sessions
    assert len(s) == len(pop) and s.shopper_id.is_unique
    assert s.rec_clicks.sum() == len(res.clicks)
    assert s.page_views.sum() == len(res.clicks) + len(res.organic_views)
    assert s.carts.sum() == len(res.carts) and s.order_lines.sum() == len(res.orders)
    assert s.units.sum() == res.orders.units.sum() and (res.orders.units >= 1).all()
    np.testing.assert_allclose(res.orders.revenue, res.orders.price * res.orders.units)
    assert len(res.impressions) == len(res.slates) * tiny_world.cfg.slate_size
    assert res.impressions.clicked.sum() == len(res.clicks)
    assert (res.slates.day >= 0).all() and res.slates.day.dtype == np.int32
    assert res.clicks.shopper_id.isin(pop.shopper_id).all()
    # an order of a widget-clicked item is flagged on both sides
    ordered_clicks = res.clicks[res.clicks.ordered]
    keys = set(zip(res.orders.shopper_id, res.orders.aid))
    assert all(k in keys for k in zip(ordered_clicks.shopper_id, ordered_clicks.aid))
    assert res.orders.rec_clicked.sum() >= 1


@pytest.mark.parametrize(
    "bad, error",
    [
        (lambda st: np.zeros((len(st), 6), np.int32), ValueError),
        (lambda st: np.ones((len(st), 5), np.int32), ValueError),
        (lambda st: np.ones((len(st), 6), np.float64), TypeError),
        (lambda st: [[1] * 6] * len(st), TypeError),
        (lambda st: np.full((len(st), 6), 10**6, np.int64), ValueError),
    ],
)
def test_bad_policy_output_raises(tiny_world, bad, error):
    pop = tiny_world.experiment_population(days=1, seed=3, sessions_per_day=10)
    with pytest.raises(error):
        tiny_world.run_online(bad, pop)
