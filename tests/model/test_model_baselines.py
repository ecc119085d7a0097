"""Baselines: hand-checked rankings, a plain-Python co-visitation reference, validation."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from paretoalign.data import SessionLog
from paretoalign.model import CovisitationRecommender, PopularityRecommender
from paretoalign.model.synthetic import synthetic_sessions

CLK, CRT, ORD = 0, 1, 2


def make_log(sessions, n_items):
    lens = [len(s) for s in sessions]
    ptr = np.r_[0, np.cumsum(lens)]
    aid = [a for s in sessions for a, _ in s]
    kind = [t for s in sessions for _, t in s]
    return SessionLog.from_arrays(ptr, aid, np.arange(len(aid)), kind, n_items=n_items)


def left_pad(rows, length):
    out = np.zeros((len(rows), length), np.int32)
    for i, row in enumerate(rows):
        if row:
            out[i, -len(row) :] = row
    return out


def test_popularity_counts_clicks_and_breaks_ties_by_id():
    log = make_log([[(3, CLK), (3, CLK), (2, CLK), (5, ORD)], [(4, CLK), (2, CLK), (4, CRT)]], 6)
    rec = PopularityRecommender().fit(log)
    assert rec.counts.tolist() == [0, 0, 2, 2, 1, 0, 0]
    assert rec.ranking.tolist() == [2, 3, 4, 1, 5, 6]
    ids = rec.recommend(left_pad([[1], []], 4), 5)
    assert ids.dtype == np.int32 and ids.tolist() == [[2, 3, 4, 1, 5]] * 2


def test_covisitation_by_hand():
    # clicks: session A = 1 2 3, session B = 2 4; window 1, unnormalised counts:
    # C[1,2]=1 C[2,1]=1 C[2,3]=1 C[3,2]=1 C[2,4]=1 C[4,2]=1
    log = make_log([[(1, CLK), (2, CLK), (3, CLK)], [(2, CLK), (9, CRT), (4, CLK)]], 9)
    rec = CovisitationRecommender(window=1, n_recent=2, decay=0.5, normalise=False).fit(log)
    assert rec.matrix[2].toarray().ravel().tolist() == [0, 1, 0, 1, 1, 0, 0, 0, 0, 0]
    # history ... 1, 2 (latest): score = C[2,.] + 0.5 C[1,.] = {1: 1, 3: 1, 4: 1, 2: 0.5}
    # -> 1, 3, 4 (ties by id), then 2, then popular fill: 2 is taken, so 1? taken... -> 5
    ids = rec.recommend(left_pad([[1, 2]], 5), 5)
    assert ids.tolist() == [[1, 3, 4, 2, 5]]
    # an unknown item votes for nothing: all popular (clicks: 2 x2, then 1, 3, 4 once)
    assert rec.recommend(left_pad([[7], []], 5), 3).tolist() == [[2, 1, 3], [2, 1, 3]]


def covisitation_reference(log, window, n_recent, decay, max_neighbours, normalise):
    """Dictionaries and loops: the specification of CovisitationRecommender."""
    counts = defaultdict(lambda: defaultdict(float))
    for s in range(log.n_sessions):
        lo, hi = log.session_ptr[s], log.session_ptr[s + 1]
        clicks = [int(a) for a, t in zip(log.aid[lo:hi], log.type[lo:hi]) if t == CLK]
        for i in range(len(clicks)):
            for j in range(len(clicks)):
                if 0 < abs(i - j) <= window:
                    counts[clicks[i]][clicks[j]] += 1.0
    matrix = {}
    for a, row in counts.items():
        total = sum(row.values()) if normalise else 1.0
        ranked = sorted(row.items(), key=lambda kv: (-kv[1] / total, kv[0]))
        matrix[a] = {b: w / total for b, w in ranked[:max_neighbours]}
    clicks_all = log.aid[log.type == CLK]
    pop_counts = np.bincount(clicks_all, minlength=log.n_items + 1)
    popular = sorted(range(1, log.n_items + 1), key=lambda i: (-pop_counts[i], i))

    def recommend(history, k):
        out = []
        for row in history:
            recent = [int(x) for x in row if x][::-1][:n_recent]
            scores = defaultdict(float)
            for r, a in enumerate(recent):
                for b, w in matrix.get(a, {}).items():
                    scores[b] += decay**r * w
            rounded = {b: round(v, 10) for b, v in scores.items()}
            ranked = [
                b for b, v in sorted(rounded.items(), key=lambda kv: (-kv[1], kv[0])) if v > 0
            ]
            ranked = ranked[:k]
            ranked += [p for p in popular if p not in ranked][: k - len(ranked)]
            out.append(ranked)
        return np.array(out)

    return recommend


@pytest.mark.parametrize(
    "params",
    [
        dict(window=3, n_recent=3, decay=0.5, max_neighbours=100, normalise=True),
        dict(window=1, n_recent=1, decay=1.0, max_neighbours=4, normalise=False),
        dict(window=5, n_recent=4, decay=0.7, max_neighbours=2, normalise=True),
    ],
)
def test_covisitation_equals_plain_reference(params, rng):
    log = synthetic_sessions(120, 40, seed=3, n_categories=4, mean_clicks=5)
    rec = CovisitationRecommender(**params).fit(log)
    reference = covisitation_reference(log, **params)
    histories = rng.integers(0, 41, size=(60, 7)).astype(np.int32)
    histories[:, :3] = 0  # left padding
    histories[:5] = 0  # empty histories
    histories[5:10, :6] = 0  # one click
    for k in (1, 10, 40):
        np.testing.assert_array_equal(rec.recommend(histories, k), reference(histories, k))


def test_recommendations_are_distinct_and_never_padding(rng):
    log = synthetic_sessions(300, 60, seed=4, n_categories=3)
    histories = rng.integers(0, 61, size=(50, 10)).astype(np.int32)
    for rec in (PopularityRecommender().fit(log), CovisitationRecommender().fit(log)):
        ids = rec.recommend(histories, 60)
        assert ids.shape == (50, 60) and (ids >= 1).all() and (ids <= 60).all()
        assert all(len(set(row)) == 60 for row in ids.tolist())


@pytest.mark.parametrize(
    ("history", "k", "exc", "match"),
    [
        (np.zeros((2, 3), np.int32), 0, ValueError, "k must be"),
        (np.zeros((2, 3), np.int32), 11, ValueError, "k must be"),
        (np.zeros((2, 3), np.int32), 2.0, TypeError, "k must be an int"),
        (np.zeros(3, np.int32), 2, ValueError, "2-D"),
        (np.zeros((2, 3)), 2, TypeError, "integer"),
        (np.full((2, 3), 11), 2, ValueError, "outside"),
    ],
)
def test_recommend_validates(history, k, exc, match):
    log = synthetic_sessions(20, 10, seed=0, n_categories=2)
    for rec in (PopularityRecommender().fit(log), CovisitationRecommender().fit(log)):
        with pytest.raises(exc, match=match):
            rec.recommend(history, k)


def test_covisitation_parameters_validated():
    with pytest.raises(ValueError, match="window"):
        CovisitationRecommender(window=0)
    with pytest.raises(ValueError, match="decay"):
        CovisitationRecommender(decay=0.0)
    with pytest.raises(TypeError, match="SessionLog"):
        PopularityRecommender().fit([1, 2])
