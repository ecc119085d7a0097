"""The jitted session kernels (offline and online) against the plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest

from paretoalign.world import World
from paretoalign.world.offline import population_windows, run_sessions
from paretoalign.world.reference import simulate_session_reference


def _kernel_events(out, s):
    start = int(out.n_events[:s].sum())
    stop = start + int(out.n_events[s])
    return [
        (int(out.aid[e]), int(out.ts[e]), int(out.type[e]), int(out.channel[e]), int(out.units[e]))
        for e in range(start, stop)
    ]


def _kernel_impressions(out, s):
    start = int(out.n_impressions[:s].sum())
    stop = start + int(out.n_impressions[s])
    return [
        (int(out.imp_ts[j]), int(out.imp_page[j]), int(out.imp_position[j]), int(out.imp_aid[j]),
         bool(out.imp_random[j]), bool(out.imp_clicked[j]))
        for j in range(start, stop)
    ]  # fmt: skip


def _compare_offline(world, pop, lo, hi, sessions):
    out = run_sessions(
        world, pop, world.logging_table, lo, hi, log_impressions=np.ones(len(pop), bool)
    )
    W = world.packed_items()
    par, ipar = world.packed_params()
    S = world.packed_shoppers(pop)
    checked = 0
    for s in sessions:
        ref = simulate_session_reference(
            W, par, ipar, S, s, table=world.logging_table, window=(int(lo[s]), int(hi[s]))
        )
        assert _kernel_events(out, s) == ref.events, f"session {s}"
        assert _kernel_impressions(out, s) == ref.impressions, f"session {s}"
        assert bool(out.checked_out[s]) == ref.checked_out
        checked += len(ref.events)
    return checked


def test_offline_kernel_equals_reference_with_windows(tiny_world):
    pop = tiny_world.offline_population()
    lo, hi = population_windows(tiny_world.cfg, pop)
    # every burn-in, crossing and test session among the first and last shoppers
    sessions = list(range(40)) + list(range(len(pop) - 20, len(pop)))
    sessions += np.flatnonzero(np.diff((pop.start_ms < tiny_world.cfg.split_ms).astype(int)))[
        :1
    ].tolist()
    assert _compare_offline(tiny_world, pop, lo, hi, sessions) > 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"click_model": "cascade", "theta": 0.6, "intent_noise": 0.0, "dim": 7},
        {"logging_random_share": 0.5, "repeat_prob": 0.9, "intent_switch_prob": 0.5},
        {"wishlist_share": 0.4, "quantity_poisson": 3.0, "cart_offset": 1.0},
    ],
)
def test_offline_kernel_equals_reference_variants(tiny_config, overrides):
    world = World.build(tiny_config(calibration_sessions=300, logging_history_sessions=300,
                                    calibration_rounds=1, **overrides))  # fmt: skip
    pop = world.offline_population().take(np.arange(30))
    n = len(pop)
    lo = np.full(n, np.iinfo(np.int64).min, np.int64)
    hi = np.full(n, np.iinfo(np.int64).max, np.int64)
    assert _compare_offline(world, pop, lo, hi, range(n)) > 100


def _policy_for_reference(table, kk):
    def policy(history, page_view):
        item = history[-1]
        return [int(x) for x in np.roll(table[item], page_view % kk)]

    return policy


def test_online_kernel_equals_reference(tiny_world):
    pop = tiny_world.experiment_population(days=1, seed=5, sessions_per_day=40)
    table = tiny_world.logging_table
    kk = table.shape[1]
    hl = 4

    def batch_policy(state):
        rows = [np.roll(table[h[-1]], p % kk) for h, p in zip(state.history, state.page_view)]
        return np.array(rows, dtype=np.int32)

    res = tiny_world.run_online(batch_policy, pop, history_len=hl, batch_size=7)
    W = tiny_world.packed_items()
    par, ipar = tiny_world.packed_params()
    S = tiny_world.packed_shoppers(pop)
    ref_policy = _policy_for_reference(table, kk)
    for s in range(len(pop)):
        ref = simulate_session_reference(W, par, ipar, S, s, policy=ref_policy, history_len=hl)
        sid = pop.shopper_id[s]
        views = pd_concat_views(res, sid)
        ref_views = [(a, t) for a, t, typ, _, _ in ref.events if typ == 0]
        assert views == ref_views
        carts = res.carts[res.carts.shopper_id == sid]
        assert list(zip(carts.aid, carts.ts)) == [
            (a, t) for a, t, typ, _, _ in ref.events if typ == 1
        ]
        orders = res.orders[res.orders.shopper_id == sid]
        ref_orders = [(a, t, u) for a, t, typ, _, u in ref.events if typ == 2]
        assert list(zip(orders.aid, orders.ts, orders.units)) == ref_orders
        slates = res.slates[res.slates.shopper_id == sid]
        ref_pos = [0 if p < 0 else p + 1 for _, _, p, _ in ref.slates]
        assert slates.clicked_position.tolist() == ref_pos


def pd_concat_views(res, sid):
    """All page views of one shopper (organic + widget) as (aid, ts), in time order."""
    o = res.organic_views[res.organic_views.shopper_id == sid]
    c = res.clicks[res.clicks.shopper_id == sid]
    rows = sorted(zip(o.page_view, o.aid, o.ts)) + sorted(zip(c.page_view, c.aid, c.ts))
    rows.sort()
    return [(int(a), int(t)) for _, a, t in rows]


def test_online_with_logging_slates_equals_offline_kernel(tiny_config):
    world = World.build(tiny_config(logging_random_share=0.0, calibration_sessions=300,
                                    logging_history_sessions=300, calibration_rounds=1))  # fmt: skip
    pop = world.experiment_population(days=1, seed=9, sessions_per_day=60)
    n = len(pop)
    lo = np.full(n, np.iinfo(np.int64).min, np.int64)
    hi = np.full(n, np.iinfo(np.int64).max, np.int64)
    out = run_sessions(world, pop, world.logging_table, lo, hi)
    res = world.run_online(world.logging_policy(seed=0), pop, batch_size=16)
    for s in range(n):
        sid = pop.shopper_id[s]
        ev = _kernel_events(out, s)
        assert pd_concat_views(res, sid) == [(a, t) for a, t, typ, _, _ in ev if typ == 0]
        orders = res.orders[res.orders.shopper_id == sid]
        assert list(zip(orders.aid, orders.ts)) == [(a, t) for a, t, typ, _, _ in ev if typ == 2]
