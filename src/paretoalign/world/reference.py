"""Plain-Python / NumPy reference of the shop's kernels: the readable specification.

:func:`simulate_session_reference` walks one session page view by page view, drawing from
:class:`~paretoalign.world.rng.SplitMix64` in exactly the order the jitted kernels do, so
the events it returns must equal the kernels' (``tests/world`` checks it for offline and
online sessions). :func:`slate_probs_reference` is the vectorised form of the click model
and :func:`build_alias_reference` the alias-table construction.

One session (shopper ``s`` with event budget ``L``):

1. **Landing.** Draw a favourite category ``c`` (1 draw), set the intent
   ``z = normalize(mu_c + u_s)``, pick the landing item organically (below).
2. **After every page view of item j.** Pull the intent ``z <- normalize(lambda z +
   (1-lambda) v_j + tau xi / sqrt(d))`` (``xi_k = sqrt(12) (u - 1/2)``, d draws if
   ``tau > 0``), then
   cart with probability ``sigmoid(c0 + c_q q_j + c_m <u_s, v_j> - c_p gamma_s log p_j +
   logit pi_s)`` (1 draw; +1 normal for the cart gap). Clicks and carts count towards L.
3. **Each page shows a slate.** If ``clicks + carts >= L`` the shopper leaves. Otherwise:
   time gap (1 draw: break or not; 1 normal), then one draw against the exact click
   probabilities of the slate positions; no widget click means organic: a switch of
   intent to a favourite category with ``intent_switch_prob`` (1 draw, +1 for the
   favourite), then a repeat view with ``repeat_prob`` when an earlier item exists (1 draw;
   the age takes one draw per step back), else an organic pick.
4. **Organic pick in category c.** Draw ``M`` results by the category's alias table of
   ``exp(organic_pop b)`` (1 draw each), choose one with probability ``∝ exp(kappa_m <z, v>
   + kappa_a a)`` (1 draw).
5. **Checkout.** Gap (1 normal); for each distinct carted item in cart order: ordered with
   ``sigmoid(o0 + o_q q)`` (1 draw); if ordered, units ``1 + Poisson`` (1 draw) and a
   wishlist add-on with odds ``w / (1 - w)`` (1 draw; if so a favourite, an item of it by
   popularity and its units: 3 draws).

Offline, the page's slate comes from the logging table, or with ``logging_random_share``
a uniform random slate, both drawn from a second stream (``mix64(seed ^ POLICY_SALT)``);
events outside the session's window ``[lo, hi)`` are not logged and the session stops when
time passes ``hi``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from paretoalign.world import kernels as K
from paretoalign.world.records import Items, Shoppers
from paretoalign.world.rng import SplitMix64, mix64_ref

_POLICY_SALT = int(K.POLICY_SALT)


# ---------------------------------------------------------------------- click model
def slate_probs_reference(
    util: np.ndarray, u0: float, theta: float, model: str
) -> tuple[np.ndarray, np.ndarray]:
    """Click probabilities of slates from their item utilities (vectorised NumPy).

    Parameters
    ----------
    util : float64[B, K]   click utilities ``U`` of the slate items, position order
    u0 : float             organic utility
    theta : float          examination decay in (0, 1]
    model : "pbm" | "cascade"

    Returns
    -------
    probs : float64[B, K]  P(click position k)
    organic : float64[B]   P(no widget click)
    """
    util = np.asarray(util, dtype=np.float64)
    kk = util.shape[1]
    if model == "pbm":
        logits = np.concatenate(
            [np.full((len(util), 1), u0), util + np.arange(kk) * math.log(theta)], axis=1
        )
        logits -= logits.max(axis=1, keepdims=True)
        w = np.exp(logits)
        w /= w.sum(axis=1, keepdims=True)
        return w[:, 1:], w[:, 0]
    if model == "cascade":
        alpha = 0.5 * (1.0 + np.tanh(0.5 * (util - u0)))
        reach = np.ones_like(alpha)
        reach[:, 1:] = np.cumprod((1.0 - alpha[:, :-1]) * theta, axis=1)
        probs = reach * alpha
        return probs, np.maximum(1.0 - probs.sum(axis=1), 0.0)
    raise ValueError(f"unknown click model {model!r}")


def build_alias_reference(weights: np.ndarray, ptr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias method per group, in plain Python (reference of ``kernels.build_alias``)."""
    n = len(weights)
    prob = np.ones(n)
    alias = np.zeros(n, np.int32)
    for c in range(len(ptr) - 1):
        lo, hi = int(ptr[c]), int(ptr[c + 1])
        m = hi - lo
        if m == 0:
            continue
        total = 0.0
        for i in range(lo, hi):
            total += float(weights[i])
        scaled = [float(weights[lo + i]) * m / total for i in range(m)]
        small = [i for i in range(m) if scaled[i] < 1.0]
        large = [i for i in range(m) if scaled[i] >= 1.0]
        for i in range(m):
            alias[lo + i] = i
        while small and large:
            s = small.pop()
            g = large.pop()
            prob[lo + s] = scaled[s]
            alias[lo + s] = g
            scaled[g] = (scaled[g] + scaled[s]) - 1.0
            (small if scaled[g] < 1.0 else large).append(g)
        for i in large + small:
            prob[lo + i] = 1.0
    return prob, alias


def alias_probabilities(prob: np.ndarray, alias: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """The sampling distribution an alias table implies, per group (sums to 1 per group)."""
    out = np.zeros(len(prob))
    for c in range(len(ptr) - 1):
        lo, hi = int(ptr[c]), int(ptr[c + 1])
        m = hi - lo
        for i in range(m):
            out[lo + i] += prob[lo + i] / m
            out[lo + int(alias[lo + i])] += (1.0 - prob[lo + i]) / m
    return out


# ---------------------------------------------------------------------- one session
@dataclass
class SessionTrace:
    """Events and impressions of one reference session (lists, in order)."""

    events: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    """(aid, ts, type, channel, units)"""
    impressions: list[tuple[int, int, int, int, bool, bool]] = field(default_factory=list)
    """(ts, page_aid, position 1..K, aid, random_slate, clicked)"""
    slates: list[tuple[int, int, int, list[float]]] = field(default_factory=list)
    """(ts, page_aid, clicked position -2/-1/k, exact click probabilities)"""
    checked_out: bool = False


class _Shop:
    """Plain-Python views of the kernels' records (``W``: ``Items``, ``S``: ``Shoppers``)."""

    def __init__(self, W: Items, par: np.ndarray, ipar: np.ndarray, S: Shoppers) -> None:
        self.vec, self.cat, self.cat_mu = W.vec, W.cat, W.cat_mu
        self.click_base, self.price_idx = W.click_base, W.price_idx
        self.cart_base, self.p_order, self.organic_base = W.cart_base, W.p_order, W.organic_base
        self.cat_ptr, self.cat_items = W.cat_ptr, W.cat_items
        self.alias_prob, self.alias_idx = W.alias_prob, W.alias_idx
        self.taste, self.gamma, self.logit_pi = S.taste, S.gamma, S.logit_pi
        self.fav_cat, self.fav_cum = S.fav_cat, S.fav_cum
        self.start_ms, self.budget, self.seed = S.start_ms, S.budget, S.seed
        self.par = [float(x) for x in par]
        self.model = "pbm" if int(ipar[K.I_MODEL]) == K.MODEL_PBM else "cascade"
        self.m = int(ipar[K.I_M])
        self.n_items = len(self.cat) - 1
        self.d = self.vec.shape[1]

    def p(self, index: int) -> float:
        return self.par[index]

    def dot(self, z: list[float], row: np.ndarray) -> float:
        s = 0.0
        for k in range(self.d):
            s += z[k] * float(row[k])
        return s

    def utility(self, item: int, z: list[float], g: float) -> float:
        return (
            self.p(K.P_BETA_M) * self.dot(z, self.vec[item])
            + float(self.click_base[item])
            - self.p(K.P_BETA_P) * g * float(self.price_idx[item])
        )

    def cart_logit(self, item: int, s: int) -> float:
        return (
            float(self.cart_base[item])
            + self.p(K.P_C_M) * self.dot(list(self.taste[s]), self.vec[item])
            - self.p(K.P_C_P) * float(self.gamma[s]) * float(self.price_idx[item])
            + float(self.logit_pi[s])
        )


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _normalize(z: list[float]) -> list[float]:
    s = 0.0
    for v in z:
        s += v * v
    s = math.sqrt(s)
    return [v / s for v in z] if s > 0 else z


def _favourite(shop: _Shop, s: int, u: float) -> int:
    cum = shop.fav_cum[s]
    for i in range(len(cum) - 1):
        if u < cum[i]:
            return int(shop.fav_cat[s, i])
    return int(shop.fav_cat[s, len(cum) - 1])


def _alias_draw(shop: _Shop, c: int, u: float) -> int:
    lo, hi = int(shop.cat_ptr[c]), int(shop.cat_ptr[c + 1])
    n = hi - lo
    x = u * n
    i = min(int(x), n - 1)
    j = lo + i
    if not (x - i < shop.alias_prob[j]):
        j = lo + int(shop.alias_idx[j])
    return int(shop.cat_items[j])


def _organic(shop: _Shop, rng: SplitMix64, c: int, z: list[float]) -> int:
    cands = [_alias_draw(shop, c, rng.u01()) for _ in range(shop.m)]
    scores = [
        shop.p(K.P_KAPPA_M) * shop.dot(z, shop.vec[it]) + float(shop.organic_base[it])
        for it in cands
    ]
    best = max(scores)
    weights = [math.exp(sc - best) for sc in scores]
    u = rng.u01() * sum(weights)
    acc = 0.0
    for it, w in zip(cands, weights):
        acc += w
        if u < acc:
            return it
    return cands[-1]


def _pull(shop: _Shop, rng: SplitMix64, z: list[float], item: int) -> list[float]:
    lam, tau = shop.p(K.P_LAMBDA), shop.p(K.P_TAU)
    z = [lam * z[k] + (1.0 - lam) * float(shop.vec[item, k]) for k in range(shop.d)]
    if tau > 0:
        scale = tau / math.sqrt(shop.d) * K.SQRT12
        for k in range(shop.d):
            z[k] += scale * (rng.u01() - 0.5)
    return _normalize(z)


def _lognormal_ms(rng: SplitMix64, mu: float, sigma: float) -> int:
    return int(math.exp(mu + sigma * rng.normal()))


def _units(rng: SplitMix64, lam: float) -> int:
    u = rng.u01()
    k, p = 0, math.exp(-lam)
    acc = p
    while u > acc and k < 10_000:
        k += 1
        p *= lam / k
        acc += p
    return 1 + k


def _slate_probabilities(shop: _Shop, slate: list[int], z: list[float], g: float) -> list[float]:
    util = np.array([[shop.utility(j, z, g) for j in slate]])
    probs, _ = slate_probs_reference(util, shop.p(K.P_U0), shop.p(K.P_THETA), shop.model)
    return [float(x) for x in probs[0]]


class _Walk:
    """One reference session in progress: the shopper's state and the trace so far.

    The methods are the steps of the module docstring; :func:`simulate_session_reference`
    calls them in order. A method that returns False means time passed the window's end:
    the session stops there (no checkout).
    """

    def __init__(self, shop: _Shop, s: int, window: tuple[int, int]) -> None:
        self.shop, self.s = shop, s
        self.lo, self.hi = window
        seed = int(shop.seed[s])
        self.rng = SplitMix64(seed)
        self.prng = SplitMix64(mix64_ref(seed ^ _POLICY_SALT))
        self.g = float(shop.gamma[s])
        self.budget = int(shop.budget[s])
        self.trace = SessionTrace()
        self.now = int(shop.start_ms[s])
        self.item = 0
        self.c = 0
        self.z: list[float] = []
        self.seen: list[int] = []
        self.carted: list[int] = []
        self.n_events = 0

    # ------------------------------------------------------------------ steps
    def land(self) -> bool:
        """Step 1: a favourite category, the intent, the organic landing item."""
        self.c = _favourite(self.shop, self.s, self.rng.u01())
        self.z = self._intent(self.c)
        self._arrive(_organic(self.shop, self.rng, self.c, self.z))
        return self.now < self.hi

    def view(self, chan: int) -> bool:
        """Step 2: the page view of ``self.item`` (its click), the intent pull, the cart."""
        shop, rng, item = self.shop, self.rng, self.item
        self._log(item, self.now, K.T_CLICK, chan)
        self.z = _pull(shop, rng, self.z, item)
        x = shop.p(K.P_C0) + shop.cart_logit(item, self.s)
        if rng.u01() < _sigmoid(x):
            self.now += _lognormal_ms(rng, shop.p(K.P_CART_GAP_MU), K.SMALL_GAP_SIGMA)
            self.n_events += 1
            if item not in self.carted:
                self.carted.append(item)
            if self.now >= self.hi:
                return False
            self._log(item, self.now, K.T_CART, chan)
        return True

    def logging_slate(self, table: np.ndarray) -> tuple[list[int], bool]:
        """Offline: the table's slate, or a uniformly random one (policy stream)."""
        if self.prng.u01() < self.shop.p(K.P_RANDOM_SHARE):
            slate: list[int] = []
            n_items = self.shop.n_items
            while len(slate) < table.shape[1]:
                cand = min(1 + int(self.prng.u01() * n_items), n_items)
                if cand not in slate:
                    slate.append(cand)
            return slate, True
        return [int(x) for x in table[self.item]], False

    def policy_slate(
        self, policy: Callable[[list[int], int], list[int]], history_len: int
    ) -> list[int]:
        """Online: the policy's slate for the last ``history_len`` page items."""
        hist = ([0] * history_len + self.seen)[-history_len:]
        return [int(x) for x in policy(hist, len(self.seen) - 1)]

    def leave(self, slate: list[int], is_random: bool, logged: bool) -> None:
        """Step 3, budget spent: the last slate is shown and the shopper leaves."""
        now, item = self.now, self.item
        self.trace.slates.append((now, item, -2, [0.0] * len(slate)))
        if logged:
            self.trace.impressions.extend(
                (now, item, k + 1, j, is_random, False) for k, j in enumerate(slate)
            )

    def move(self, slate: list[int], is_random: bool, logged: bool) -> int | None:
        """Step 3: gap, widget click or organic next page; returns its channel.

        ``None`` when the next page view falls past the window's end.
        """
        shop, rng, now, item = self.shop, self.rng, self.now, self.item
        probs = _slate_probabilities(shop, slate, self.z, self.g)
        if rng.u01() < shop.p(K.P_BREAK_P):
            gap = _lognormal_ms(rng, shop.p(K.P_BREAK_MU), shop.p(K.P_BREAK_SIGMA))
        else:
            gap = _lognormal_ms(rng, shop.p(K.P_GAP_MU), shop.p(K.P_GAP_SIGMA))
        u = rng.u01()
        acc, pos = 0.0, -1
        for k, p in enumerate(probs):
            acc += p
            if u < acc:
                pos = k
                break
        if pos >= 0:
            nxt, chan = slate[pos], K.CH_REC
        else:
            nxt, chan = self._organic_next()
        self.trace.slates.append((now, item, pos, probs))
        in_log = now + gap < self.hi  # a click past the window is trimmed, so not marked
        if logged:
            self.trace.impressions.extend(
                (now, item, k + 1, j, is_random, k == pos and in_log) for k, j in enumerate(slate)
            )
        self.now += gap
        if self.now >= self.hi:
            return None
        self._arrive(nxt)
        return chan

    def checkout(self) -> None:
        """Step 5: gap, then order / units / wishlist draws per distinct carted item."""
        shop, rng = self.shop, self.rng
        self.now += _lognormal_ms(rng, shop.p(K.P_CHECKOUT_MU), K.SMALL_GAP_SIGMA)
        lines: list[tuple[int, int, bool]] = []
        for it in self.carted:
            if rng.u01() < float(shop.p_order[it]):
                lines.append((it, _units(rng, shop.p(K.P_QTY)), False))
                if rng.u01() < shop.p(K.P_WISH_ODDS):
                    fav = _favourite(shop, self.s, rng.u01())
                    w = _alias_draw(shop, fav, rng.u01())
                    lines.append((w, _units(rng, shop.p(K.P_QTY)), True))
        if self.lo <= self.now < self.hi:
            self.trace.checked_out = True
            for it, units, wish in lines:
                chan = K.CH_WISHLIST if wish else K.CH_ORDER
                self.trace.events.append((it, self.now, K.T_ORDER, chan, units))

    # ------------------------------------------------------------------ helpers
    def _intent(self, c: int) -> list[float]:
        shop, s = self.shop, self.s
        return _normalize(
            [float(shop.cat_mu[c, k]) + float(shop.taste[s, k]) for k in range(shop.d)]
        )

    def _arrive(self, item: int) -> None:
        self.item = item
        self.c = int(self.shop.cat[item])
        self.seen.append(item)
        self.n_events += 1

    def _organic_next(self) -> tuple[int, int]:
        """No widget click: perhaps switch intent, then a repeat view or an organic pick."""
        shop, rng = self.shop, self.rng
        if rng.u01() < shop.p(K.P_SWITCH):
            self.c = _favourite(shop, self.s, rng.u01())
            self.z = self._intent(self.c)
        if rng.u01() < shop.p(K.P_REPEAT) and len(self.seen) >= 2:
            age = 1
            while age < len(self.seen) - 1 and rng.u01() < shop.p(K.P_RECENCY):
                age += 1
            return self.seen[len(self.seen) - 1 - age], K.CH_REPEAT
        return _organic(shop, rng, self.c, self.z), K.CH_ORGANIC

    def _log(self, aid: int, ts: int, typ: int, chan: int) -> None:
        if self.lo <= ts < self.hi:
            self.trace.events.append((aid, ts, typ, chan, 0))


def simulate_session_reference(
    W: Items,
    par: np.ndarray,
    ipar: np.ndarray,
    S: Shoppers,
    s: int,
    *,
    table: np.ndarray | None = None,
    policy: Callable[[list[int], int], list[int]] | None = None,
    history_len: int = 50,
    window: tuple[int, int] = (-(2**63), 2**63 - 1),
) -> SessionTrace:
    """Simulate session ``s`` (see the module docstring) and return its trace.

    Either ``table`` (offline: logging slates + random share, logged in ``window``) or
    ``policy(history, page_view) -> slate`` (online: ``history`` = the last
    ``history_len`` clicked items, left-padded with 0).
    """
    if (table is None) == (policy is None):
        raise ValueError("give exactly one of table and policy")
    walk = _Walk(_Shop(W, par, ipar, S), s, window)
    if not walk.land():
        return walk.trace
    chan = K.CH_ENTRY
    while True:
        if not walk.view(chan):
            return walk.trace
        if table is not None:
            slate, is_random = walk.logging_slate(table)
        else:
            slate, is_random = walk.policy_slate(policy, history_len), False
        logged = table is not None and walk.now >= walk.lo
        if walk.n_events >= walk.budget:
            walk.leave(slate, is_random, logged)
            break
        chan = walk.move(slate, is_random, logged)
        if chan is None:
            return walk.trace
    walk.checkout()
    return walk.trace
