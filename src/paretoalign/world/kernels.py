"""Jitted kernels of the shop: one page view, one session, a batch of sessions, online steps.

The readable specification of the same process is :mod:`paretoalign.world.reference`
(plain Python, same random stream); ``tests/world`` compares them event for event.

Inputs and buffers are the named records of :mod:`paretoalign.world.records`: ``W``
(:class:`~paretoalign.world.records.Items`, from ``World.packed_items()``), ``S``
(:class:`~paretoalign.world.records.Shoppers`, from ``World.packed_shoppers()``), an
offline batch's ``OfflinePlan``, ``EventBuffers`` and ``ImpressionBuffers``, the online
shop's ``Slots`` and its outputs (``Landings``, ``StepOutput``, ``Probabilities``,
``OrderLines``).
``par f8[N_PAR]`` / ``ipar i8[N_IPAR]``: scalar knobs at the ``P_*`` / ``I_*`` indices.

Random-number consumption is part of the specification (the reference consumes the same
draws in the same order); see :func:`_enter`, :func:`_choose` and :func:`_checkout_draws`.

The batch kernels come in pairs compiled from one body by
:func:`paretoalign.jit.parallel_and_serial`:
``name`` runs blocks of ``BLOCK`` rows in parallel (``prange``), ``name_serial`` runs the
same blocks in order on one thread. Every row is independent (its own random stream), so
both give the same output.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from paretoalign.jit import parallel_and_serial
from paretoalign.world.rng import POLICY_SALT, mix64, normal, u01

# ---------------------------------------------------------------------- constants
P_LOG_THETA = 0
P_THETA = 1
P_U0 = 2
P_BETA_M = 3
P_BETA_P = 4
P_KAPPA_M = 5
P_C0 = 6
P_C_M = 7
P_C_P = 8
P_LAMBDA = 9
P_TAU = 10
P_SWITCH = 11
P_REPEAT = 12
P_RECENCY = 13
P_GAP_MU = 14
P_GAP_SIGMA = 15
P_BREAK_P = 16
P_BREAK_MU = 17
P_BREAK_SIGMA = 18
P_CART_GAP_MU = 19
P_CHECKOUT_MU = 20
P_QTY = 21
P_WISH_ODDS = 22
P_RANDOM_SHARE = 23
N_PAR = 24

I_MODEL = 0
I_M = 1
N_IPAR = 2

MODEL_PBM = 0
MODEL_CASCADE = 1

#: Channel codes of events (``channel`` columns).
CH_ENTRY = 0  # first page view of a session (organic landing)
CH_ORGANIC = 1  # search / lists
CH_REPEAT = 2  # organic revisit of an item viewed earlier in the session
CH_REC = 3  # click on the recommendation widget
CH_ORDER = 4  # order line converting a carted item
CH_WISHLIST = 5  # order line straight from the wishlist (no click or cart in the session)
CHANNEL_NAMES = ("entry", "organic", "repeat", "rec", "order", "wishlist")

#: Sigma of the cart and checkout gaps (log-normal, fixed; medians are knobs).
SMALL_GAP_SIGMA = 0.8

T_CLICK, T_CART, T_ORDER = 0, 1, 2
SQRT12 = math.sqrt(12.0)

#: Rows per parallel work item of the batch kernels (each kernel also has a ``_serial``
#: twin that callers use for small batches, where a fork-join would cost more than it saves).
BLOCK = 64
#: Offline batches smaller than this run on the ``_serial`` twins.
PARALLEL_MIN_ROWS = 512
#: Online steps (one page view per row, a fork-join per step) go parallel only from this
#: many open sessions: on the shared 2-core machine the serial twin was faster up to 16k.
ONLINE_PARALLEL_MIN_ROWS = 32_768


# ---------------------------------------------------------------------- small helpers
@njit(cache=True, inline="always")
def _dot_row(z, mat, row):
    s = 0.0
    for k in range(z.shape[0]):
        s += z[k] * mat[row, k]
    return s


@njit(cache=True, inline="always")
def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True, inline="always")
def _pick_alias(alias_prob, alias_idx, lo, hi, u):
    """Alias-method draw of an index in [lo, hi) from one uniform.

    ``x = u n``: column ``i = floor(x)``, keep it if ``x - i < alias_prob[lo+i]``, else take
    its alias ``lo + alias_idx[lo+i]``.
    """
    n = hi - lo
    x = u * n
    i = np.int64(x)
    if i >= n:
        i = n - 1
    j = lo + i
    if x - i < alias_prob[j]:
        return j
    return lo + alias_idx[j]


@njit(cache=True)
def build_alias(weights, ptr):
    """Vose's alias tables of every group ``[ptr[c], ptr[c+1])`` of positive ``weights``.

    Returns ``(prob f8[n], alias i4[n])`` with group-local aliases: drawing column ``i``
    uniformly and keeping it with ``prob[i]`` (else ``alias[i]``) samples ``i`` with
    probability ``w_i / sum(w)``. Reference: :func:`build_alias_reference`.
    """
    n = weights.shape[0]
    prob = np.ones(n)
    alias = np.zeros(n, np.int32)
    for c in range(ptr.shape[0] - 1):
        lo = ptr[c]
        hi = ptr[c + 1]
        m = hi - lo
        if m == 0:
            continue
        total = 0.0
        for i in range(lo, hi):
            total += weights[i]
        scaled = np.empty(m)
        small = np.empty(m, np.int64)
        large = np.empty(m, np.int64)
        ns = 0
        nl = 0
        for i in range(m):
            scaled[i] = weights[lo + i] * m / total
            alias[lo + i] = i
            if scaled[i] < 1.0:
                small[ns] = i
                ns += 1
            else:
                large[nl] = i
                nl += 1
        while ns > 0 and nl > 0:
            ns -= 1
            s = small[ns]
            nl -= 1
            g = large[nl]
            prob[lo + s] = scaled[s]
            alias[lo + s] = g
            scaled[g] = (scaled[g] + scaled[s]) - 1.0
            if scaled[g] < 1.0:
                small[ns] = g
                ns += 1
            else:
                large[nl] = g
                nl += 1
        for k in range(nl):
            prob[lo + large[k]] = 1.0
        for k in range(ns):
            prob[lo + small[k]] = 1.0
    return prob, alias


@njit(cache=True)
def _pick_row(cum_row, u):
    """Index of a categorical draw from a cumulative row (last entry 1)."""
    n = cum_row.shape[0]
    for i in range(n - 1):
        if u < cum_row[i]:
            return i
    return n - 1


@njit(cache=True)
def _lognormal_ms(st, mu, sigma):
    return np.int64(math.exp(mu + sigma * normal(st)))


@njit(cache=True)
def click_utility(item, z, g, W, par):
    """``U_j = beta_m <z, v_j> + beta_a a_j + beta_b b_j - beta_p gamma log(p_j/p_med)``."""
    return (
        par[P_BETA_M] * _dot_row(z, W.vec, item)
        + W.click_base[item]
        - par[P_BETA_P] * g * W.price_idx[item]
    )


@njit(cache=True)
def cart_logit_base(item, sh, S, W, par):
    """Cart logit without the offset: ``c_q q + c_m <u_s, v> - c_p gamma log p + logit pi``."""
    return (
        W.cart_base[item]
        + par[P_C_M] * _dot_row(S.taste[sh], W.vec, item)
        - par[P_C_P] * S.gamma[sh] * W.price_idx[item]
        + S.logit_pi[sh]
    )


@njit(cache=True)
def slate_probs(slate, z, g, W, par, ipar, probs):
    """Exact click probability of every slate position; returns P(organic).

    ``pbm``: ``P_k = theta^k w_k / (w0 + sum_m theta^m w_m)`` (0-based k), ``w = exp(U)``,
    ``w0 = exp(u0)``, computed with a max shift. ``cascade``: ``P_k = theta^k alpha_k
    prod_{m<k} (1 - alpha_m)``, ``alpha = sigmoid(U - u0)``.
    """
    kk = slate.shape[0]
    u0 = par[P_U0]
    if ipar[I_MODEL] == MODEL_PBM:
        lt = par[P_LOG_THETA]
        m = u0
        for k in range(kk):
            v = click_utility(slate[k], z, g, W, par) + k * lt
            probs[k] = v
            if v > m:
                m = v
        s = math.exp(u0 - m)
        for k in range(kk):
            probs[k] = math.exp(probs[k] - m)
            s += probs[k]
        for k in range(kk):
            probs[k] /= s
        return math.exp(u0 - m) / s
    theta = par[P_THETA]
    reach = 1.0
    total = 0.0
    for k in range(kk):
        alpha = _sigmoid(click_utility(slate[k], z, g, W, par) - u0)
        p = reach * alpha
        probs[k] = p
        total += p
        reach *= (1.0 - alpha) * theta
    rest = 1.0 - total
    return rest if rest > 0.0 else 0.0


@njit(cache=True)
def _normalize(z):
    s = 0.0
    for k in range(z.shape[0]):
        s += z[k] * z[k]
    s = math.sqrt(s)
    if s > 0.0:
        for k in range(z.shape[0]):
            z[k] /= s


@njit(cache=True)
def _intent_reset(z, c, sh, S, W):
    """``z = normalize(mu_c + u_s)`` (no draws)."""
    cat_mu, taste = W.cat_mu, S.taste
    for k in range(z.shape[0]):
        z[k] = cat_mu[c, k] + taste[sh, k]
    _normalize(z)


@njit(cache=True)
def _intent_pull(st, z, item, W, par):
    """``z = normalize(lambda z + (1-lambda) v_item + tau xi / sqrt(d))``.

    ``xi`` has independent zero-mean, unit-variance components ``sqrt(12) (u - 1/2)``
    (uniform: one draw per component when ``tau > 0``; the drift sums many of them, so
    its shape is close to Gaussian after a few page views, at a fraction of the cost).
    """
    vec = W.vec
    lam = par[P_LAMBDA]
    tau = par[P_TAU]
    d = z.shape[0]
    scale = tau / math.sqrt(d) * SQRT12
    for k in range(d):
        z[k] = lam * z[k] + (1.0 - lam) * vec[item, k]
    if tau > 0.0:
        for k in range(d):
            z[k] += scale * (u01(st) - 0.5)
    _normalize(z)


@njit(cache=True)
def _organic_pick(st, c, z, W, par, ipar, cand, score):
    """Draw M results from category c by popularity, pick one by relevance (M+1 draws)."""
    alias_prob, alias_idx, cat_items = W.alias_prob, W.alias_idx, W.cat_items
    vec_cat, organic_cat = W.vec_cat, W.organic_cat
    lo = W.cat_ptr[c]
    hi = W.cat_ptr[c + 1]
    mm = ipar[I_M]
    km = par[P_KAPPA_M]
    best = -np.inf
    for m in range(mm):
        j = _pick_alias(alias_prob, alias_idx, lo, hi, u01(st))
        cand[m] = cat_items[j]
        # the category's rows are contiguous in vec_cat (cache-friendly copies of vec)
        sc = km * _dot_row(z, vec_cat, j) + organic_cat[j]
        score[m] = sc
        if sc > best:
            best = sc
    total = 0.0
    for m in range(mm):
        score[m] = math.exp(score[m] - best)
        total += score[m]
    u = u01(st) * total
    acc = 0.0
    for m in range(mm):
        acc += score[m]
        if u < acc:
            return cand[m]
    return cand[mm - 1]


@njit(cache=True)
def _repeat_pick(st, seen, n_seen, recency):
    """Revisit the item ``a`` views back, ``P(a) ∝ recency^(a-1)``, oldest takes the rest."""
    a = 1
    while a < n_seen - 1 and u01(st) < recency:
        a += 1
    return seen[n_seen - 1 - a]


@njit(cache=True)
def _units(st, lam):
    """``1 + Poisson(lam)`` by inversion (one draw)."""
    u = u01(st)
    k = 0
    p = math.exp(-lam)
    acc = p
    while u > acc and k < 10_000:
        k += 1
        p *= lam / k
        acc += p
    return 1 + k


@njit(cache=True)
def _gap(st, par):
    """Time to the next page view: a break with prob ``break_p``, else a short gap."""
    if u01(st) < par[P_BREAK_P]:
        return _lognormal_ms(st, par[P_BREAK_MU], par[P_BREAK_SIGMA])
    return _lognormal_ms(st, par[P_GAP_MU], par[P_GAP_SIGMA])


@njit(cache=True)
def random_slate(pst, n_items, slate):
    """Uniform slate of distinct items from 1..N (rejection on duplicates)."""
    kk = slate.shape[0]
    for k in range(kk):
        while True:
            it = 1 + np.int32(u01(pst) * n_items)
            if it > n_items:
                it = n_items
            dup = False
            for m in range(k):
                if slate[m] == it:
                    dup = True
                    break
            if not dup:
                slate[k] = it
                break


# ---------------------------------------------------------------------- session pieces
@njit(cache=True)
def _enter(st, sh, z, S, W, par, ipar, cand, score):
    """Start a session: favourite category (1 draw), intent reset, organic landing pick."""
    f = _pick_row(S.fav_cum[sh], u01(st))
    c = S.fav_cat[sh, f]
    _intent_reset(z, c, sh, S, W)
    return _organic_pick(st, c, z, W, par, ipar, cand, score)


@njit(cache=True)
def _after_view(st, item, sh, z, S, W, par):
    """Intent pull towards the viewed item, then the cart draw (+ cart gap if carted).

    Returns ``(carted, cart_gap_ms)``.
    """
    _intent_pull(st, z, item, W, par)
    x = par[P_C0] + cart_logit_base(item, sh, S, W, par)
    if u01(st) < _sigmoid(x):
        return True, _lognormal_ms(st, par[P_CART_GAP_MU], SMALL_GAP_SIGMA)
    return False, np.int64(0)


@njit(cache=True)
def _choose(st, sh, c, slate, probs, z, seen, n_seen, S, W, par, ipar, cand, score):
    """The shopper leaves the page: gap, then rec click or organic (switch, repeat, pick).

    ``probs`` must hold :func:`slate_probs` of this slate; ``cand`` / ``score`` are the
    organic pick's scratch. Returns ``(next_item, channel, position or -1, gap_ms,
    category)``.
    """
    gap = _gap(st, par)
    u = u01(st)
    acc = 0.0
    for k in range(slate.shape[0]):
        acc += probs[k]
        if u < acc:
            return slate[k], CH_REC, k, gap, c
    if u01(st) < par[P_SWITCH]:
        f = _pick_row(S.fav_cum[sh], u01(st))
        c = S.fav_cat[sh, f]
        _intent_reset(z, c, sh, S, W)
    if u01(st) < par[P_REPEAT] and n_seen >= 2:
        return _repeat_pick(st, seen, n_seen, par[P_RECENCY]), CH_REPEAT, -1, gap, c
    return _organic_pick(st, c, z, W, par, ipar, cand, score), CH_ORGANIC, -1, gap, c


@njit(cache=True)
def _add_distinct(carted, n_carted, item):
    for i in range(n_carted):
        if carted[i] == item:
            return n_carted, False
    carted[n_carted] = item
    return n_carted + 1, True


@njit(cache=True)
def _checkout_draws(st, sh, carted, n_carted, S, W, par, out_item, out_units, out_wish):
    """Order decisions at session end; returns the number of order lines written.

    Per carted item (cart order): 1 draw (order?); if ordered: 1 draw (units), 1 draw
    (wishlist add-on?); if an add-on: 1 draw (favourite), 1 draw (item by popularity in
    that category), 1 draw (units).
    """
    p_order, cat_ptr, cat_items = W.p_order, W.cat_ptr, W.cat_items
    alias_prob, alias_idx = W.alias_prob, W.alias_idx
    n = 0
    for i in range(n_carted):
        it = carted[i]
        if u01(st) < p_order[it]:
            out_item[n] = it
            out_units[n] = _units(st, par[P_QTY])
            out_wish[n] = False
            n += 1
            if u01(st) < par[P_WISH_ODDS]:
                f = _pick_row(S.fav_cum[sh], u01(st))
                c = S.fav_cat[sh, f]
                j = _pick_alias(alias_prob, alias_idx, cat_ptr[c], cat_ptr[c + 1], u01(st))
                out_item[n] = cat_items[j]
                out_units[n] = _units(st, par[P_QTY])
                out_wish[n] = True
                n += 1
    return n


# ---------------------------------------------------------------------- offline sessions
@njit(cache=True)
def _session_buffers(budget, kk, mm, d):
    """Scratch of one offline session: ``(z, seen, carted, slate, probs, cand, score)``."""
    z = np.empty(d)
    seen = np.empty(budget + 2, np.int32)
    carted = np.empty(budget + 2, np.int32)
    slate = np.empty(kk, np.int32)
    probs = np.empty(kk)
    cand = np.empty(mm, np.int32)
    score = np.empty(mm)
    return z, seen, carted, slate, probs, cand, score


@njit(cache=True)
def simulate_session(s, S, W, par, ipar, plan, ev, im):
    """Simulate session ``s`` under the slate table + random share; write its events.

    Events with ``ts`` outside ``[win_lo[s], win_hi[s])`` are not written; once time passes
    ``win_hi`` the session stops (trimmed, no checkout). Returns ``(n_events, n_impr,
    checked_out)``: the rows written from ``ev.off[s]`` / ``im.off[s]`` and whether the
    checkout fell inside the window.

    Each pass of the loop is one page view: its click event, the intent pull and the cart
    draw (:func:`_after_view`), then the page's slate (logged with its propensities when
    the session logs impressions), after which the shopper either leaves (budget spent,
    then the checkout: :func:`_checkout_draws`) or moves on (:func:`_choose`).

    The loop stays in one function on purpose: a call that takes whole records passes
    every array in them (and its reference count), which per page view or per session
    costs several per cent; the fields are read into locals once instead.
    """
    n_items, kk, budget = W.cat.shape[0] - 1, plan.table.shape[1], S.budget[s]
    lo, hi, e0, i0 = plan.win_lo[s], plan.win_hi[s], ev.off[s], im.off[s]
    z, seen, carted, slate, probs, cand, score = _session_buffers(
        budget, kk, ipar[I_M], W.vec.shape[1]
    )
    st = np.empty(1, np.uint64)
    st[0] = S.seed[s]
    pst = np.empty(1, np.uint64)  # the policy's stream (random logging slates)
    pst[0] = mix64(S.seed[s] ^ POLICY_SALT)
    eps, g = par[P_RANDOM_SHARE], S.gamma[s]
    table, record, logs_impressions = plan.table, plan.record, plan.log_imp[s]
    ev_aid, ev_ts, ev_type, ev_chan, ev_x = ev.aid, ev.ts, ev.type, ev.channel, ev.x
    im_ts, im_page, im_pos, im_aid, im_click = im.ts, im.page, im.position, im.aid, im.clicked
    n_ev = 0
    n_im = 0

    now = S.start_ms[s]
    item = _enter(st, s, z, S, W, par, ipar, cand, score)
    chan = CH_ENTRY
    c = W.cat[item]
    seen[0] = item
    n_seen, n_carted, n_events = 1, 0, 1
    if now >= hi:
        return 0, 0, False
    while True:
        # the page view of `item`: click event, intent pull, perhaps a cart
        if now >= lo:
            ev_aid[e0 + n_ev], ev_ts[e0 + n_ev] = item, now
            ev_type[e0 + n_ev], ev_chan[e0 + n_ev] = T_CLICK, chan
            if record:
                ev_x[e0 + n_ev] = cart_logit_base(item, s, S, W, par)
            n_ev += 1
        carted_now, cgap = _after_view(st, item, s, z, S, W, par)
        if carted_now:
            now += cgap
            n_events += 1
            n_carted, first = _add_distinct(carted, n_carted, item)
            if now >= hi:
                return n_ev, n_im, False
            if now >= lo:
                ev_aid[e0 + n_ev], ev_ts[e0 + n_ev] = item, now
                ev_type[e0 + n_ev], ev_chan[e0 + n_ev] = T_CART, chan
                if record:
                    ev_x[e0 + n_ev] = W.order_base[item]
                    ev.first_cart[e0 + n_ev] = first
                n_ev += 1
        # the page shows the logging slate: with probability eps a uniformly random one
        is_random = u01(pst) < eps
        if is_random:
            random_slate(pst, n_items, slate)
        else:
            for k in range(kk):
                slate[k] = table[item, k]
        leaving = n_events >= budget
        if not leaving:
            slate_probs(slate, z, g, W, par, ipar, probs)
        logged = logs_impressions and now >= lo
        if logged:  # logging propensity: eps / N, plus 1 - eps for the table's own item
            for k in range(kk):
                j = i0 + n_im + k
                im_ts[j], im_page[j], im_pos[j], im_aid[j] = now, item, k + 1, slate[k]
                prop = eps / n_items
                if table[item, k] == slate[k]:
                    prop += 1.0 - eps
                im.propensity[j], im.random[j], im_click[j] = prop, is_random, False
                if record:
                    im.util[j] = click_utility(slate[k], z, g, W, par)
                    im.choice[j] = not leaving
            n_im += kk
        if leaving:
            break
        # the shopper moves on to the next page
        nxt, chan, pos, gap, c = _choose(
            st, s, c, slate, probs, z, seen, n_seen, S, W, par, ipar, cand, score
        )
        now += gap
        if now >= hi:
            return n_ev, n_im, False
        if logged and pos >= 0:
            im_click[i0 + n_im - kk + pos] = True  # only clicks that are in the log
        item = nxt
        c = W.cat[item]
        seen[n_seen] = item
        n_seen += 1
        n_events += 1
    # checkout: the draws are made even when it falls outside the window
    now += _lognormal_ms(st, par[P_CHECKOUT_MU], SMALL_GAP_SIGMA)
    o_item, o_units, o_wish = (
        np.empty(2 * budget + 4, np.int32),
        np.empty(2 * budget + 4, np.int32),
        np.empty(2 * budget + 4, np.bool_),
    )
    n_lines = _checkout_draws(st, s, carted, n_carted, S, W, par, o_item, o_units, o_wish)
    if now >= hi or now < lo:
        return n_ev, n_im, False
    for i in range(n_lines):
        j = e0 + n_ev + i
        ev_aid[j], ev_ts[j], ev_type[j] = o_item[i], now, T_ORDER
        ev_chan[j] = CH_WISHLIST if o_wish[i] else CH_ORDER
        ev.units[j] = o_units[i]
    return n_ev + n_lines, n_im, True


@njit(cache=True)
def _simulate_rows(lo, hi, S, W, par, ipar, plan, ev, im, done):
    """Sessions ``lo:hi`` of :func:`simulate_batch`."""
    for s in range(lo, hi):
        a, b, c = simulate_session(s, S, W, par, ipar, plan, ev, im)
        ev.n[s] = a
        im.n[s] = b
        done[s] = c


def _simulate_batch(S, W, par, ipar, plan, ev, im, done):
    """:func:`simulate_session` for every shopper of ``S``, at upper-bound offsets.

    Writes the rows of each session to ``ev`` / ``im`` from ``off[s]``, their counts to
    ``ev.n`` / ``im.n`` and whether the checkout fell in the window to ``done`` (bool[S]).
    """
    n = S.budget.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        _simulate_rows(blk * BLOCK, min(n, (blk + 1) * BLOCK), S, W, par, ipar, plan, ev, im, done)


simulate_batch, simulate_batch_serial = parallel_and_serial(_simulate_batch, "simulate_batch")


# ---------------------------------------------------------------------- online sessions
@njit(cache=True)
def _start_rows(lo, hi, rows, pop_idx, S, W, par, ipar, slots, land):
    """Rows ``lo:hi`` of :func:`online_start`."""
    mm = ipar[I_M]
    sh_idx, z, cur, cat, now = slots.sh_idx, slots.z, slots.cur, slots.cat, slots.now
    n_events, n_seen, n_carted = slots.n_events, slots.n_seen, slots.n_carted
    seen, seen_chan, carted = slots.seen, slots.seen_chan, slots.carted
    st, hist = slots.st, slots.hist
    hl = hist.shape[1]
    cand = np.empty(mm, np.int32)
    score = np.empty(mm)
    for i in range(lo, hi):
        b = rows[i]
        s = pop_idx[i]
        sh_idx[b] = s
        st[b] = S.seed[s]
        stv = st[b : b + 1]
        zb = z[b]
        item = _enter(stv, s, zb, S, W, par, ipar, cand, score)
        t = S.start_ms[s]
        cur[b] = item
        cat[b] = W.cat[item]
        seen[b, 0] = item
        seen_chan[b, 0] = CH_ENTRY
        n_seen[b] = 1
        n_carted[b] = 0
        n_events[b] = 1
        for k in range(hl - 1):
            hist[b, k] = 0
        hist[b, hl - 1] = item
        land.aid[i] = item
        land.ts[i] = t
        carted_now, cgap = _after_view(stv, item, s, zb, S, W, par)
        land.cart[i] = carted_now
        if carted_now:
            t += cgap
            n_events[b] += 1
            carted[b, 0] = item
            n_carted[b] = 1
        land.cart_ts[i] = t
        now[b] = t


def _online_start(rows, pop_idx, S, W, par, ipar, slots, land):
    """Open sessions of population rows ``pop_idx[i]`` in slots ``rows[i]``: landing view + cart."""
    n = rows.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        lo = blk * BLOCK
        _start_rows(lo, min(n, lo + BLOCK), rows, pop_idx, S, W, par, ipar, slots, land)


online_start, online_start_serial = parallel_and_serial(_online_start, "online_start")


@njit(cache=True)
def _slate_rows(lo, hi, rows, slates, S, W, par, ipar, slots, probs, expected, p):
    """Click probabilities of the slates of rows ``lo:hi`` into ``probs[i - lo]`` (no draws).

    Rows whose shopper leaves on this page (budget spent) are skipped. With ``expected``,
    also the exact per-impression probabilities into row ``i`` of ``p``: click, click then
    cart on that page, and that cart ordered at checkout (zeros on a leaving page).
    """
    kk = slates.shape[1]
    sh_idx, z, n_events = slots.sh_idx, slots.z, slots.n_events
    p_click, p_cart, p_order = p.p_click, p.p_cart, p.p_order
    p_ord = W.p_order
    for i in range(lo, hi):
        b = rows[i]
        s = sh_idx[b]
        pr = probs[i - lo]
        leaving = n_events[b] >= S.budget[s]
        if not leaving:
            slate_probs(slates[i], z[b], S.gamma[s], W, par, ipar, pr)
        if not expected:
            continue
        for k in range(kk):
            if leaving:
                p_click[i, k] = 0.0
                p_cart[i, k] = 0.0
                p_order[i, k] = 0.0
                continue
            it = slates[i, k]
            pc = _sigmoid(par[P_C0] + cart_logit_base(it, s, S, W, par))
            p_click[i, k] = pr[k]
            p_cart[i, k] = pr[k] * pc
            p_order[i, k] = pr[k] * pc * p_ord[it]


@njit(cache=True)
def _leave(out, i, now):
    """Row ``i`` of a step's output for a shopper who leaves (session over)."""
    out.pos[i] = -2
    out.done[i] = True
    out.next[i] = 0
    out.next_ts[i] = now
    out.chan[i] = -1
    out.cart[i] = False
    out.cart_ts[i] = now


@njit(cache=True)
def _step_rows(lo, hi, rows, slates, S, W, par, ipar, slots, expected, out, p):
    """Rows ``lo:hi`` of :func:`online_step`."""
    kk = slates.shape[1]
    mm = ipar[I_M]
    sh_idx, z, cur, cat, now = slots.sh_idx, slots.z, slots.cur, slots.cat, slots.now
    n_events, n_seen, n_carted = slots.n_events, slots.n_seen, slots.n_carted
    seen, seen_chan, carted = slots.seen, slots.seen_chan, slots.carted
    st, hist = slots.st, slots.hist
    hl = hist.shape[1]
    probs = np.empty((hi - lo, kk))
    _slate_rows(lo, hi, rows, slates, S, W, par, ipar, slots, probs, expected, p)
    cand = np.empty(mm, np.int32)
    score = np.empty(mm)
    for i in range(lo, hi):
        b = rows[i]
        s = sh_idx[b]
        stv = st[b : b + 1]
        zb = z[b]
        out.slate_ts[i] = now[b]
        out.page[i] = n_seen[b] - 1
        if n_events[b] >= S.budget[s]:
            _leave(out, i, now[b])
            continue
        nxt, chan, pos, gap, _c = _choose(
            stv, s, cat[b], slates[i], probs[i - lo], zb, seen[b], n_seen[b],
            S, W, par, ipar, cand, score,
        )  # fmt: skip
        t = now[b] + gap
        # the slot moves on to the next page
        cur[b] = nxt
        cat[b] = W.cat[nxt]
        seen[b, n_seen[b]] = nxt
        seen_chan[b, n_seen[b]] = chan
        n_seen[b] += 1
        n_events[b] += 1
        for k in range(hl - 1):
            hist[b, k] = hist[b, k + 1]
        hist[b, hl - 1] = nxt
        out.pos[i] = pos
        out.next[i] = nxt
        out.next_ts[i] = t
        out.chan[i] = chan
        out.done[i] = False
        carted_now, cgap = _after_view(stv, nxt, s, zb, S, W, par)
        out.cart[i] = carted_now
        if carted_now:
            t += cgap
            n_events[b] += 1
            nc, _first = _add_distinct(carted[b], n_carted[b], nxt)
            n_carted[b] = nc
        out.cart_ts[i] = t
        now[b] = t


def _online_step(rows, slates, S, W, par, ipar, slots, expected, out, p):
    """Show ``slates[i]`` on the current page of slot ``rows[i]`` and advance it one view.

    ``out.pos[i]``: -2 the shopper leaves (session over), -1 organic, k >= 0 the clicked
    position (0-based). With ``expected`` the exact per-impression probabilities of a
    click, a click followed by a cart on that page, and that cart converting to an order
    are written to row ``i`` of ``p`` (zeros on a leaving page).
    """
    n = rows.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        lo = blk * BLOCK
        _step_rows(lo, min(n, lo + BLOCK), rows, slates, S, W, par, ipar, slots, expected, out, p)


online_step, online_step_serial = parallel_and_serial(_online_step, "online_step")


def _online_expected(rows, slates, S, W, par, ipar, slots, p):
    """Exact per-impression probabilities for the current states, without advancing."""
    n = rows.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        lo = blk * BLOCK
        hi = min(n, lo + BLOCK)
        probs = np.empty((hi - lo, slates.shape[1]))
        _slate_rows(lo, hi, rows, slates, S, W, par, ipar, slots, probs, True, p)


online_expected, online_expected_serial = parallel_and_serial(_online_expected, "online_expected")


@njit(cache=True)
def _clicked_from_widget(seen, seen_chan, n_seen, item):
    """Whether a session reached a page of ``item`` from the widget (its page rows)."""
    for m in range(n_seen):
        if seen[m] == item and seen_chan[m] == CH_REC:
            return True
    return False


@njit(cache=True)
def online_checkout(rows, S, W, par, slots, lines):
    """Checkout of finished slots ``rows``; order lines written from ``lines.off[i]``.

    Returns the number of lines of each row (int64[len(rows)]); ``lines.rec`` flags lines
    whose item was clicked from the widget earlier in the session.
    """
    sh_idx, now, st = slots.sh_idx, slots.now, slots.st
    n_carted, carted = slots.n_carted, slots.carted
    seen, seen_chan, n_seen = slots.seen, slots.seen_chan, slots.n_seen
    counts = np.zeros(rows.shape[0], np.int64)
    for i in range(rows.shape[0]):
        b = rows[i]
        s = sh_idx[b]
        nc = n_carted[b]
        stv = st[b : b + 1]
        o_item = np.empty(2 * nc + 2, np.int32)
        o_units = np.empty(2 * nc + 2, np.int32)
        o_wish = np.empty(2 * nc + 2, np.bool_)
        t = now[b] + _lognormal_ms(stv, par[P_CHECKOUT_MU], SMALL_GAP_SIGMA)
        n = _checkout_draws(stv, s, carted[b], nc, S, W, par, o_item, o_units, o_wish)
        base = lines.off[i]
        for j in range(n):
            lines.row[base + j] = i
            lines.aid[base + j] = o_item[j]
            lines.ts[base + j] = t
            lines.units[base + j] = o_units[j]
            lines.wish[base + j] = o_wish[j]
            lines.rec[base + j] = _clicked_from_widget(seen[b], seen_chan[b], n_seen[b], o_item[j])
        counts[i] = n
        now[b] = t
    return counts
