"""The shop's ground truth: noise-reduced KPIs of many arms and the true alignment set.

An *arm panel* holds, for A arms (a dense preference grid plus the off-front arms) and one
base population of N shoppers, each shopper's whole-experiment counts under each arm:

``counts[a, i, c]`` = count ``c`` (the shopper-summary columns of
:mod:`paretoalign.online.kpis`: slate impressions, rec clicks, ordered rec clicks, units,
revenue, page views, organic views, sessions) of base shopper ``i`` when served by arm
``a``, plus ``ev_rec_clicks`` = the sum over the shopper's slates of the exact click
probability from the shop's expected-value mode.

The same N shoppers (same ids, same random streams) are served by every arm — common random
numbers: two arms' sessions coincide until their slates make them diverge — so differences
*between* arms carry far less noise than the arms' KPIs themselves.

Oracle KPIs (:func:`oracle_kpis`) are the base population's ratio-of-sums KPIs with the
click numerator replaced by its expectation (Rao–Blackwellised CTR: the exact
per-impression click probabilities of the realised slates). The other KPIs (orders, units,
revenue, depth, organic share) have no exact per-impression expectation over every channel
in the shop's API, so their oracle is the CRN mean over the base population; their Monte-
Carlo error is reported (``se`` columns) and the truth's split-half stability is measured
(:func:`split_half_agreement`).

The **true alignment set** (:func:`true_alignments`) follows simulation-brief §5.8: every
(offline metric m, KPI k) whose Spearman correlation over the arms of the family satisfies
:math:`|\\rho^*_{mk}| \\ge 0.8`, with its sign.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from paretoalign.online.kpis import COUNT_COLUMNS, KPIS

EV_CLICKS = "ev_rec_clicks"
#: Columns of an arm panel's count tensor, in order.
PANEL_COLUMNS: tuple[str, ...] = (*COUNT_COLUMNS, EV_CLICKS)


@dataclass(frozen=True, eq=False)
class ArmPanel:
    """Per-shopper outcomes of A arms on one base population (see the module docstring).

    Attributes
    ----------
    names : tuple of str, length A
        Arm names (unique).
    kinds : tuple of str, length A
        ``model`` / ``baseline`` / ``control`` per arm.
    offline : DataFrame, shape (A, M)
        Offline metrics of each arm on the offline test log (index = ``names``).
    counts : ndarray(float64, shape=(A, N, C))
        ``C = len(PANEL_COLUMNS)`` counts per arm and base shopper.
    shopper_ids : ndarray(int64, shape=(N,))
        The base shoppers, identical for every arm.
    front : ndarray(bool, shape=(A,))
        True for arms that are points of the traced front (candidates for model groups).
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    offline: pd.DataFrame
    counts: np.ndarray
    shopper_ids: np.ndarray
    front: np.ndarray

    def __post_init__(self) -> None:
        a = len(self.names)
        if len(set(self.names)) != a:
            raise ValueError(f"arm names must be unique: {self.names}")
        if len(self.kinds) != a or self.front.shape != (a,):
            raise ValueError("names, kinds and front must have one entry per arm")
        if self.counts.ndim != 3 or self.counts.shape[0] != a:
            raise ValueError(f"counts must be (A={a}, N, C), got {self.counts.shape}")
        if self.counts.shape[2] != len(PANEL_COLUMNS):
            raise ValueError(f"counts must have {len(PANEL_COLUMNS)} columns {PANEL_COLUMNS}")
        if self.counts.shape[1] != len(self.shopper_ids):
            raise ValueError("counts and shopper_ids disagree on the number of base shoppers")
        if not np.all(np.isfinite(self.counts)) or np.any(self.counts < 0):
            raise ValueError("counts must be finite and non-negative")
        if list(self.offline.index) != list(self.names):
            raise ValueError("offline must be indexed by the arm names, in order")

    @property
    def n_arms(self) -> int:
        return len(self.names)

    @property
    def n_shoppers(self) -> int:
        return int(self.counts.shape[1])

    def column(self, name: str) -> int:
        """Index of count column ``name`` in :data:`PANEL_COLUMNS`."""
        return PANEL_COLUMNS.index(name)

    def index(self, names: Sequence[str]) -> np.ndarray:
        """Positions of arms ``names``."""
        lookup = {n: i for i, n in enumerate(self.names)}
        missing = [n for n in names if n not in lookup]
        if missing:
            raise ValueError(f"unknown arms {missing}; known: {list(self.names)}")
        return np.array([lookup[n] for n in names], dtype=np.int64)

    def subset_shoppers(self, rows: np.ndarray) -> ArmPanel:
        """The same arms on a subset of the base shoppers (for split-half checks)."""
        rows = np.asarray(rows, dtype=np.int64)
        return ArmPanel(
            self.names, self.kinds, self.offline, self.counts[:, rows, :],
            self.shopper_ids[rows], self.front,
        )  # fmt: skip


def build_panel(
    per_shopper: Mapping[str, pd.DataFrame],
    offline: pd.DataFrame,
    kinds: Mapping[str, str],
    front: Mapping[str, bool],
    shopper_ids: np.ndarray,
) -> ArmPanel:
    """Assemble an :class:`ArmPanel` from one per-shopper count table per arm.

    Parameters
    ----------
    per_shopper : mapping arm name -> DataFrame
        Columns ``shopper_id`` and :data:`PANEL_COLUMNS`; one row per shopper who had a
        session (absent base shoppers count zeros).
    offline : DataFrame
        Offline metrics, indexed by arm name (must cover every arm).
    kinds, front : mappings arm name -> kind / is-front-point
    shopper_ids : ndarray(int64)
        The base population's ids (every arm was served this population).

    Raises
    ------
    ValueError
        A table lacks a column, has duplicate shoppers or shoppers outside the base.
    """
    names = list(per_shopper)
    ids = np.asarray(shopper_ids, dtype=np.int64)
    order = np.argsort(ids)
    sorted_ids = ids[order]
    counts = np.zeros((len(names), len(ids), len(PANEL_COLUMNS)))
    for a, name in enumerate(names):
        table = per_shopper[name]
        missing = [c for c in ("shopper_id", *PANEL_COLUMNS) if c not in table.columns]
        if missing:
            raise ValueError(f"arm {name!r}: per-shopper table lacks columns {missing}")
        sid = table["shopper_id"].to_numpy(np.int64)
        if len(np.unique(sid)) != len(sid):
            raise ValueError(f"arm {name!r}: duplicate shopper rows")
        pos = np.searchsorted(sorted_ids, sid)
        pos = np.minimum(pos, len(ids) - 1)
        if len(sid) and not np.array_equal(sorted_ids[pos], sid):
            raise ValueError(f"arm {name!r}: shoppers outside the base population")
        counts[a, order[pos], :] = table[list(PANEL_COLUMNS)].to_numpy(np.float64)
    missing_offline = [n for n in names if n not in offline.index]
    if missing_offline:
        raise ValueError(f"no offline metrics for arms {missing_offline}")
    return ArmPanel(
        names=tuple(names),
        kinds=tuple(str(kinds[n]) for n in names),
        offline=offline.loc[names].astype(np.float64),
        counts=counts,
        shopper_ids=ids,
        front=np.array([bool(front[n]) for n in names]),
    )


def kpis_from_sums(
    sums: np.ndarray,
    shoppers: np.ndarray,
    kpi_names: Sequence[str],
    *,
    expected_clicks: bool = False,
) -> np.ndarray:
    """KPI values from per-cell column sums.

    Parameters
    ----------
    sums : ndarray(float64, shape=(..., C))
        Sums of the :data:`PANEL_COLUMNS` over the shoppers of each cell.
    shoppers : ndarray(float64, shape=(...))
        Number of shoppers in each cell (denominator of per-shopper KPIs).
    kpi_names : sequence of str
        Names from :data:`paretoalign.online.kpis.KPIS`.
    expected_clicks : bool
        Use ``ev_rec_clicks`` instead of the realised ``rec_clicks`` in the CTR numerator.

    Returns
    -------
    ndarray(float64, shape=(..., K))
        NaN where a denominator is zero.
    """
    out = np.empty((*sums.shape[:-1], len(kpi_names)))
    for k, name in enumerate(kpi_names):
        if name not in KPIS:
            raise ValueError(f"unknown KPI {name!r}; known: {list(KPIS)}")
        spec = KPIS[name]
        num_col = spec.numerator
        if expected_clicks and name == "ctr":
            num_col = EV_CLICKS
        num = sums[..., PANEL_COLUMNS.index(num_col)] * spec.scale
        den = (
            shoppers
            if spec.denominator is None
            else sums[..., PANEL_COLUMNS.index(spec.denominator)]
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            out[..., k] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def oracle_kpis(panel: ArmPanel, kpi_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Noise-reduced KPI of every arm on the base population (module docstring).

    Returns
    -------
    DataFrame
        Index = arm names; one column per KPI (value) and one ``<kpi>_se`` column per KPI:
        the delta-method standard error over the base shoppers (shopper = unit), an upper
        bound for the Monte-Carlo error of *differences* between arms, which common random
        numbers make smaller.
    """
    names = list(kpi_names) if kpi_names is not None else list(KPIS)
    sums = panel.counts.sum(axis=1)  # (A, C)
    n = np.full(panel.n_arms, float(panel.n_shoppers))
    values = kpis_from_sums(sums, n, names, expected_clicks=True)
    frame = pd.DataFrame(values, index=list(panel.names), columns=names)
    for name in names:
        frame[f"{name}_se"] = ratio_se(panel, name, expected_clicks=True)
    return frame


def ratio_se(panel: ArmPanel, name: str, *, expected_clicks: bool = False) -> np.ndarray:
    """Delta-method standard error of KPI ``name`` of every arm over the base shoppers.

    :math:`\\sqrt{(s_X^2 - 2 R s_{XY} + R^2 s_Y^2) / (n \\bar Y^2)}` with shopper = unit (as
    :func:`paretoalign.online.stats.ratio_estimate`); ``expected_clicks`` uses the expected
    clicks as the CTR numerator. Returns ``float64[A]``.
    """
    spec = KPIS[name]
    num_col = EV_CLICKS if (name == "ctr" and expected_clicks) else spec.numerator
    x = panel.counts[:, :, panel.column(num_col)] * spec.scale
    y = (
        np.ones_like(x)
        if spec.denominator is None
        else panel.counts[:, :, panel.column(spec.denominator)]
    )
    n = x.shape[1]
    if n < 2:
        return np.full(panel.n_arms, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = x.sum(axis=1) / y.sum(axis=1)
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    sxx = (xc * xc).sum(axis=1) / (n - 1)
    syy = (yc * yc).sum(axis=1) / (n - 1)
    sxy = (xc * yc).sum(axis=1) / (n - 1)
    ybar = y.mean(axis=1)
    var = (sxx - 2 * value * sxy + value**2 * syy) / (n * np.where(ybar > 0, ybar, np.nan) ** 2)
    return np.sqrt(np.maximum(var, 0.0))


@dataclass(frozen=True)
class Truth:
    """The true alignment set of one world over one arm family.

    Attributes
    ----------
    rho : DataFrame, shape (M, K)
        Spearman correlation of each offline metric with each oracle KPI over the arms.
    sign : DataFrame, shape (M, K), int8
        +1 / -1 where ``|rho| >= threshold``, else 0 (also 0 where rho is undefined).
    threshold : float
    arms : tuple of str
        The family the correlations run over.
    """

    rho: pd.DataFrame
    sign: pd.DataFrame
    threshold: float
    arms: tuple[str, ...]

    def pairs(self) -> list[tuple[str, str, int]]:
        """The true alignments as ``(metric, kpi, sign)``."""
        stacked = self.sign.stack()
        return [(m, k, int(s)) for (m, k), s in stacked.items() if s != 0]


def true_alignments(
    offline: pd.DataFrame,
    oracle: pd.DataFrame,
    *,
    metrics: Sequence[str],
    kpis: Sequence[str],
    threshold: float = 0.8,
) -> Truth:
    """Signed true alignments: ``|Spearman(metric, KPI)| >= threshold`` over the arms.

    Parameters
    ----------
    offline : DataFrame, shape (A, >= M)
        Offline metrics per arm (index = arm names).
    oracle : DataFrame, shape (A, >= K)
        Oracle KPIs per arm, same index.
    metrics, kpis : sequences of str
        The rows and columns of the alignment table.
    threshold : float in (0, 1]
    """
    from paretoalign.align.correlation import correlation_matrix

    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if list(offline.index) != list(oracle.index):
        raise ValueError("offline and oracle tables must list the same arms in the same order")
    if len(offline) < 3:
        raise ValueError(f"need at least 3 arms for the truth, got {len(offline)}")
    x = offline[list(metrics)].to_numpy(np.float64).T
    y = oracle[list(kpis)].to_numpy(np.float64).T
    rho = correlation_matrix(x, y, "spearman")
    sign = np.where(np.isfinite(rho) & (np.abs(rho) >= threshold), np.sign(rho), 0).astype(np.int8)
    return Truth(
        rho=pd.DataFrame(rho, index=list(metrics), columns=list(kpis)),
        sign=pd.DataFrame(sign, index=list(metrics), columns=list(kpis)),
        threshold=threshold,
        arms=tuple(offline.index),
    )


def split_half_agreement(
    panel: ArmPanel,
    *,
    metrics: Sequence[str],
    kpis: Sequence[str],
    threshold: float = 0.8,
    arms: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Stability of the truth: recompute it on two random halves of the base shoppers.

    Returns the share of (metric, KPI) cells whose signed truth is the same on both halves,
    the number of true pairs on each half, and the largest |rho| difference.
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(panel.n_shoppers)
    half = panel.n_shoppers // 2
    chosen = list(arms) if arms is not None else list(panel.names)
    idx = panel.index(chosen)
    results = []
    for rows in (perm[:half], perm[half:]):
        sub = panel.subset_shoppers(np.sort(rows))
        oracle = oracle_kpis(sub, kpis).iloc[idx]
        results.append(
            true_alignments(
                panel.offline.iloc[idx], oracle, metrics=metrics, kpis=kpis, threshold=threshold
            )
        )
    a, b = results
    return {
        "agreement": float((a.sign.to_numpy() == b.sign.to_numpy()).mean()),
        "true_pairs_half_a": int((a.sign.to_numpy() != 0).sum()),
        "true_pairs_half_b": int((b.sign.to_numpy() != 0).sum()),
        "max_abs_rho_difference": float(np.nanmax(np.abs(a.rho.to_numpy() - b.rho.to_numpy()))),
    }


def save_panel(
    panel: ArmPanel, path: str | Path, *, info: Mapping[str, object] | None = None
) -> Path:
    """Write ``panel`` to one ``.npz`` file atomically (offline metrics as a JSON table).

    ``info`` (JSON-serialisable) is stored alongside and returned by :func:`load_panel`.
    """
    import json

    from paretoalign.io import atomic_path

    path = Path(path)
    meta = {
        "names": list(panel.names),
        "kinds": list(panel.kinds),
        "columns": list(PANEL_COLUMNS),
        "offline": panel.offline.to_json(orient="split"),
        "info": dict(info or {}),
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            counts=panel.counts,
            shopper_ids=panel.shopper_ids,
            front=panel.front,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
    return path


def load_panel(path: str | Path) -> tuple[ArmPanel, dict]:
    """Read a panel written by :func:`save_panel`; returns ``(panel, info)``.

    Raises ValueError naming the file when its count columns differ from
    :data:`PANEL_COLUMNS` (a panel written by another version).
    """
    import io
    import json

    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        if tuple(meta["columns"]) != PANEL_COLUMNS:
            raise ValueError(f"{path}: panel columns {meta['columns']} != {list(PANEL_COLUMNS)}")
        offline = pd.read_json(io.StringIO(meta["offline"]), orient="split")
        panel = ArmPanel(
            names=tuple(meta["names"]),
            kinds=tuple(meta["kinds"]),
            offline=offline,
            counts=data["counts"].astype(np.float64),
            shopper_ids=data["shopper_ids"].astype(np.int64),
            front=data["front"].astype(bool),
        )
    return panel, meta["info"]


def truth_bootstrap(
    panel: ArmPanel,
    truth: Truth,
    *,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """How sure the oracle is of each true / not-true call: a bootstrap over base shoppers.

    Every replicate Poisson-reweights the base shoppers (the same weights for every arm, so
    common random numbers are kept), recomputes the oracle KPIs and the Spearman
    correlations over ``truth.arms``. A cell is **decided** when the central ``level``
    interval of :math:`|\\rho^*|` lies entirely on one side of the threshold (and, for a true
    pair, the sign never flips inside it); undecided cells are the pairs for which another
    draw of the base population could give another truth.

    Returns
    -------
    dict of DataFrame (M x K)
        ``rho_low``, ``rho_high`` (interval of rho), ``decided`` (bool).
    """
    from paretoalign.align.correlation import correlation_matrix

    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    metrics = list(truth.rho.index)
    kpis = list(truth.rho.columns)
    idx = panel.index(list(truth.arms))
    x = panel.offline.iloc[idx][metrics].to_numpy(np.float64).T
    rng = np.random.default_rng(seed)
    counts = panel.counts[idx]  # (A, N, C)
    rhos = np.empty((n_boot, len(metrics), len(kpis)))
    for b in range(n_boot):
        w = rng.poisson(1.0, panel.n_shoppers).astype(np.float64)
        sums = np.einsum("n,anc->ac", w, counts)
        y = kpis_from_sums(sums, np.full(len(idx), w.sum()), kpis, expected_clicks=True).T
        # An undefined correlation (a constant metric or KPI) counts as 0: no alignment.
        rhos[b] = np.nan_to_num(correlation_matrix(x, np.nan_to_num(y), "spearman"))
    tail = (1 - level) / 2
    low = np.quantile(rhos, tail, axis=0)
    high = np.quantile(rhos, 1 - tail, axis=0)
    thr = truth.threshold
    sure_true = (low >= thr) | (high <= -thr)
    sure_false = (low > -thr) & (high < thr)
    decided = np.where(truth.sign.to_numpy() != 0, sure_true, sure_false)
    frame = lambda a: pd.DataFrame(a, index=metrics, columns=kpis)  # noqa: E731
    return {"rho_low": frame(low), "rho_high": frame(high), "decided": frame(decided)}
