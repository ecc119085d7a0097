from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paretoalign.online.kpis import KPIS, SUMMARY_COLUMNS, compute_kpis, per_shopper, uplift_table


def _two_shoppers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shopper_id": [1, 1, 2],
            "group": ["a", "a", "a"],
            "day": [0, 1, 0],
            "impressions": [10, 20, 30],
            "rec_clicks": [1, 2, 6],
            "rec_click_orders": [0, 1, 3],
            "units": [1, 2, 3],
            "revenue": [10.0, 20.0, 30.0],
            "page_views": [12, 22, 33],
            "organic_views": [11, 20, 27],
            "sessions": [1, 2, 3],
        }
    )


def test_kpis_by_hand():
    kpis = compute_kpis(_two_shoppers())
    whole = kpis[kpis.day == -1].set_index("kpi")["value"]
    assert whole["ctr"] == pytest.approx(9 / 60)
    assert whole["post_click_cvr"] == pytest.approx(4 / 9)
    assert whole["units_per_shopper"] == pytest.approx(6 / 2)
    assert whole["units_per_1k_impressions"] == pytest.approx(1000 * 6 / 60)
    assert whole["revenue_per_shopper"] == pytest.approx(30.0)
    assert whole["session_depth"] == pytest.approx(67 / 6)
    assert whole["organic_share"] == pytest.approx(58 / 67)
    day0 = kpis[kpis.day == 0].set_index("kpi")
    assert day0.loc["ctr", "value"] == pytest.approx(7 / 40)
    assert day0.loc["units_per_shopper", "n"] == 2
    assert kpis[kpis.day == 1].set_index("kpi").loc["ctr", "n"] == 1
    assert list(kpis.columns[:8]) == [
        "group",
        "day",
        "kpi",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "se",
    ]
    assert set(kpis.kpi) == set(KPIS)


def test_whole_experiment_treats_the_shopper_as_one_unit():
    per = per_shopper(_two_shoppers())
    assert len(per) == 2
    assert per.set_index("shopper_id").loc[1, "impressions"] == 30


def test_summary_validation():
    bad = _two_shoppers().drop(columns=["units"])
    with pytest.raises(ValueError, match="units"):
        compute_kpis(bad)
    neg = _two_shoppers()
    neg.loc[1, "rec_clicks"] = -1
    with pytest.raises(ValueError, match="rec_clicks"):
        compute_kpis(neg)
    moved = _two_shoppers()
    moved.loc[1, "group"] = "b"
    with pytest.raises(ValueError, match="sticky"):
        compute_kpis(moved)
    dup = pd.concat([_two_shoppers(), _two_shoppers().iloc[:1]])
    with pytest.raises(ValueError, match="duplicated"):
        compute_kpis(dup)
    with pytest.raises(ValueError, match="unknown KPIs"):
        compute_kpis(_two_shoppers(), kpis=["ctr", "nps"])


def test_uplift_table_shapes(synth):
    summary = synth(3000, ["control", "b", "c"], 3, np.random.default_rng(3))
    kpis = compute_kpis(summary)
    up = uplift_table(kpis, "control")
    assert set(up.group) == {"b", "c"}
    assert len(up) == 2 * len(KPIS) * 4
    assert up.p_holm.ge(up.p_value - 1e-15).all()
    with pytest.raises(ValueError, match="control group"):
        uplift_table(kpis, "nobody")
    assert set(SUMMARY_COLUMNS) <= set(summary.columns)


def test_small_cells_are_unreliable_and_never_significant(synth):
    from paretoalign.online.kpis import omnibus_table

    summary = synth(
        600, ["control", "treat"], 3, np.random.default_rng(8), ctr_effect={"treat": 2.0}
    )
    kpis = compute_kpis(summary)
    assert (kpis.n_nonzero <= kpis.n).all()
    cvr = kpis.query("kpi == 'post_click_cvr'")
    assert (cvr.n_nonzero < cvr.n).any()  # shoppers without rec clicks carry no information
    big = uplift_table(kpis, "control", min_shoppers=0)
    strict = uplift_table(kpis, "control", min_shoppers=10_000)
    assert big.query("day == -1 and kpi == 'ctr'").significant.all()
    assert not strict.significant.any() and not strict.reliable.any()
    om = omnibus_table(kpis, min_shoppers=10_000)
    assert not om.significant.any()
    assert (om.n_min <= kpis.groupby(["day", "kpi"]).n_nonzero.min().max()).all()
