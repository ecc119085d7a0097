"""The online experiment on a tiny shop with an untrained model (fast, end to end)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paretoalign.front.groups import Arm
from paretoalign.front.policies import ConditionedPolicy, ModelServer
from paretoalign.online.assignment import assign_groups
from paretoalign.online.events import GroupLookup, shopper_day_summary
from paretoalign.online.experiment import analyse, build_policies, simulate, take_state_rows
from paretoalign.online.kpis import KPIS, compute_kpis, omnibus_table

PI_CLICKS = (0.9, 0.1)
PI_ORDERS = (0.1, 0.9)


@pytest.fixture(scope="module")
def ab_run(tiny_world, tiny_model):
    arms = [
        Arm("control", "control", "logging"),
        Arm("front_1", "model", "front", pi=PI_CLICKS),
        Arm("front_2", "model", "front", pi=PI_ORDERS),
    ]
    server = ModelServer(tiny_model, threads=1)
    policies = build_policies(
        arms, server=server, exclude="current", baselines={}, world=tiny_world, seed=0
    )
    population = tiny_world.experiment_population(2, 0, sessions_per_day=400)
    sim = simulate(
        tiny_world,
        population,
        [a.name for a in arms],
        policies,
        salt="test-ab",
        history_len=50,
        open_sessions=256,
        impression_log_share=0.2,
        threads=1,
    )
    return sim, analyse(sim, days=2, control="control")


def test_tables_are_consistent(ab_run):
    sim, t = ab_run
    res = sim.result
    summary = t["summary"]
    assert summary["impressions"].sum() == len(res.slates) == sim.loop.page_views
    assert summary["rec_clicks"].sum() == len(res.clicks) == (res.slates.clicked_position > 0).sum()
    assert summary["units"].sum() == res.orders["units"].sum()
    assert summary["page_views"].sum() == len(res.clicks) + len(res.organic_views)
    assert summary["sessions"].sum() == len(res.sessions) == len(sim.lookup.ids)
    events = t["events"]
    assert (events.groupby("shopper_id")["group"].nunique() == 1).all()
    counts = events["event"].value_counts()
    assert counts["slate"] == len(res.slates) and counts["order"] == len(res.orders)
    # the served slates never contain the current page's item (exclude = "current")
    imp = sim.loop.sampled_impressions()
    assert len(imp) > 0
    assert set(events["group"].astype(str)) == {"control", "front_1", "front_2"}


def test_kpi_table_schema(ab_run):
    _, t = ab_run
    kpis = t["kpis"]
    assert list(kpis.columns[:7]) == ["group", "day", "kpi", "value", "ci_low", "ci_high", "n"]
    assert set(kpis.kpi) == set(KPIS)
    assert set(kpis.day) == {-1, 0, 1}
    whole = kpis[kpis.day == -1]
    assert (whole.ci_low <= whole.value).all() and (whole.value <= whole.ci_high).all()
    assert not t["srm"]["flagged"]
    assert set(t["uplift"].group) == {"front_1", "front_2"}


def test_observed_ctr_agrees_with_the_exact_expectation(ab_run):
    _, t = ab_run
    obs = t["kpis"].query("day == -1 and kpi == 'ctr'").set_index("group")
    exp = t["expected"].query("day == -1 and kpi == 'expected_ctr'").set_index("group")
    z = (obs["value"] - exp["value"]) / obs["se"]
    assert (z.abs() < 4).all(), z.to_dict()


def test_different_pi_give_different_slates_and_expected_kpis(tiny_world, tiny_model):
    shop = tiny_world.open_shop(tiny_world.experiment_population(1, 0, sessions_per_day=300))
    for _ in range(3):  # move past the landing pages
        shop.step(tiny_world.logging_policy(0)(shop.state()))
    state = shop.state()
    server = ModelServer(tiny_model)
    a = ConditionedPolicy(server, PI_CLICKS).recommend(state.history, 12)
    b = ConditionedPolicy(server, PI_ORDERS).recommend(state.history, 12)
    assert np.mean(np.any(a != b, axis=1)) > 0.5
    ea, eb = shop.expected(a), shop.expected(b)
    assert abs(ea.p_click.sum() - eb.p_click.sum()) > 1e-3 * ea.p_click.sum()
    assert abs(ea.p_order.sum() - eb.p_order.sum()) > 1e-6


def test_take_state_rows(tiny_world):
    shop = tiny_world.open_shop(tiny_world.experiment_population(1, 0, sessions_per_day=50))
    state = shop.state()
    sub = take_state_rows(state, np.array([2, 0]))
    assert sub.shopper_id.tolist() == state.shopper_id[[2, 0]].tolist()
    np.testing.assert_array_equal(sub.history, state.history[[2, 0]])


def test_aa_false_positive_rate_in_the_shop(tiny_world):
    """A/A in the real shop: every group gets the logging policy, so the shop's output does
    not depend on the assignment; 50 re-randomisations (salts) of the same traffic give 50
    A/A experiments. The omnibus per-KPI test must reject at most 10 % of the time."""
    population = tiny_world.experiment_population(3, 0, sessions_per_day=700)
    result = tiny_world.run_online(tiny_world.logging_policy(0), population, item_impressions=False)
    ids = population.shopper_id
    base = shopper_day_summary(result, GroupLookup(ids, np.zeros(len(ids), int), ["all"]))
    rejections = []
    for r in range(50):
        g = assign_groups(ids, 3, f"aa-{r}")
        summary = base.copy()
        summary["group"] = np.asarray(["g0", "g1", "g2"])[
            g[np.searchsorted(ids, summary.shopper_id)]
        ]
        table = omnibus_table(compute_kpis(summary, per_day=False))
        rejections.append(table.set_index("kpi")["significant"])
    frame = pd.DataFrame(rejections)
    assert frame.to_numpy().mean() <= 0.10, frame.mean().to_dict()
