"""Numba kernels behind :mod:`paretoalign.metrics` (private: call the checked façade).

Layout: ``@njit(cache=True)`` helpers handle one row (one position's list) or one
segment of rows; the batch kernels do nothing but the ``prange`` loop over segments, each
written once and compiled twice, parallel and serial
(:func:`paretoalign.jit.parallel_and_serial`). The inputs of a kernel travel together as
one named record (:class:`StandardInputs`, :class:`ListInputs`, :class:`OttoInputs`),
built once per call by the caller and handed down unchanged to the segment and row
helpers, which read its fields by name.
Each segment is summed sequentially in float64 into its own output row, and the caller
combines the rows in a fixed order, so results do not depend on the number of threads.

The kernels do not check shapes or dtypes (the façade does), but the standard kernel
checks every *value* — ids, targets and labels — sub-block by sub-block while the data
sit in cache, and reports the first offending row of each segment, so validation costs
no extra pass over main memory.

Performance notes (measured on the project's 2-core machine, k = 20): rows are indexed
through 0-based sub-block views (provably non-negative indices let LLVM drop Numba's
negative-index handling); the target's rank comes from a 32-bit match mask built in a
branch-free loop (its lowest set bit, via a de Bruijn table); the per-row slow check runs
after the main loop, which keeps that loop tight. Together about 1.5x over the plain
early-exit scan; the standard set then costs ~2.5x the time of merely reading the inputs
(single thread, CPU time).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from paretoalign.jit import parallel_and_serial

# ================================================================ statistic layout
# Standard pass: sums over counted positions p (mask true).
N_POS = 0  # sum m
HITS = 1  # sum m h
RECIP_RANK = 2  # sum m h / (rank + 1)
DCG = 3  # sum m h / log2(rank + 2)
CART_N = 4  # sum m c
CART_HITS = 5  # sum m c h
ORDER_N = 6  # sum m o
ORDER_HITS = 7  # sum m o h
N_STANDARD = 8

# List pass: sums over the recommended slots of counted positions.
SLOTS = 0  # recommended slots (ids >= 1 among the first k)
LOG_POP = 1  # sum of item_log_popularity over the slots
DIV_SUM = 2  # sum over lists with >= 2 items of their intra-list diversity
DIV_LISTS = 3  # number of such lists
N_LIST = 4

# Validation codes (first offending row per segment).
OK = 0
BAD_ID = 1  # an id that is neither -1 nor in 1..n_items
BAD_PADDING = 2  # a real id after a -1
BAD_TARGET = 3  # target outside 1..n_items (0 allowed where the mask is false)
BAD_CART = 4  # cart label not 0/1
BAD_ORDER = 5  # order label not 0/1


# ================================================================ input records
# Numba compiles a namedtuple of arrays, ints and bools as one heterogeneous record: its
# fields are read by name (``inp.ids``) in nopython code at no run-time cost.
StandardInputs = namedtuple(
    "StandardInputs",
    "ids targets cart order mask has_cart has_order has_mask k n_items recip discount",
)
StandardInputs.__doc__ = """Inputs of the standard kernel (:func:`standard_sums`), P positions.

Fields
------
ids : int32[P, K], K >= k
    Recommended ids, best first: ``1..n_items``, ``-1`` only as trailing padding.
targets : int32[P]
    The position's target id, ``1..n_items`` (``0`` allowed where the mask is false).
cart, order : int8[P] (``int8[0]`` when the flag is false)
    Cart / order labels, 0 or 1.
mask : bool[P] (``bool[0]`` when ``has_mask`` is false)
    Positions that count.
has_cart, has_order, has_mask : bool
    Whether ``cart`` / ``order`` / ``mask`` hold data.
k : int
    Cut-off: only ``ids[:, :k]`` count.
n_items : int
    Catalogue size ``N``: the largest valid id.
recip : float64[k]
    ``1 / (rank + 1)`` per 0-based rank.
discount : float64[k]
    ``1 / log2(rank + 2)`` per 0-based rank.
"""

ListInputs = namedtuple(
    "ListInputs", "ids mask has_mask k log_pop has_pop vectors inv_norm has_vec seen has_cov"
)
ListInputs.__doc__ = """Inputs of the list kernel (:func:`list_sums`), P positions, N items.

The kernel trusts the ids (the standard kernel validated them); an unused array may be
an empty array of any length (its flag is false).

Fields
------
ids : int32[P, K], K >= k
    Recommended ids, best first, ``-1`` as trailing padding.
mask : bool[P] (``bool[0]`` when ``has_mask`` is false)
    Positions that count.
has_mask : bool
k : int
    Cut-off: the slots are the ids ``>= 1`` among ``ids[:, :k]``.
log_pop : float64[N + 1]
    Item log-popularity, summed over the slots when ``has_pop``.
has_pop : bool
vectors : float32 or float64[N + 1, d]
    Item vectors for intra-list diversity when ``has_vec``.
inv_norm : float64[N + 1]
    ``1 / |vectors[i]|`` (0 for a zero vector).
has_vec : bool
seen : uint8[N + 1]
    Output: ``seen[i]`` is set to 1 for every recommended item ``i`` when ``has_cov``.
has_cov : bool
"""

OttoInputs = namedtuple("OttoInputs", "pred truth_ptr truth_ids k")
OttoInputs.__doc__ = """Inputs of the OTTO kernel (:func:`otto_sums`), one event type, S sessions.

Fields
------
pred : int32[S, K], K >= k
    Predicted ids per session, best first (``-1`` never matches a true id).
truth_ptr : int64[S + 1]
    CSR offsets of each session's ground truth into ``truth_ids``.
truth_ids : int32[nnz]
    Ground-truth ids (``>= 1``; repeats count once).
k : int
    Cut-off.
"""


# ================================================================ LOW LEVEL: one row
# Rows are taken as 1-D views (``row = ids[p]``) and indexed from 0 with ``range``: LLVM
# can then prove the indices non-negative, drop Numba's wrap-around handling and
# vectorise the short inner loops.
SUB_BLOCK = 256  # rows whose ids are range-checked together while they sit in cache


@njit(cache=True)
def _add_compensated(total, compensation, x):
    """Neumaier's compensated sum step: returns the new ``(total, compensation)``.

    Segment float sums are then exact to ~1 ulp whatever the segment length, so the
    kernels agree with the NumPy references to far below 1e-12.
    """
    t = total + x
    if abs(total) >= abs(x):
        compensation += (total - t) + x
    else:
        compensation += (x - t) + total
    return t, compensation


@njit(cache=True)
def _row_id_code(row, n_items):
    """Validation code of one row of ids: -1 only as trailing padding, others in 1..n."""
    padded = False
    for j in range(row.shape[0]):
        v = row[j]
        if v == -1:
            padded = True
        elif v < 1 or v > n_items:
            return BAD_ID
        elif padded:
            return BAD_PADDING
    return OK


#: de Bruijn table: index of the single set bit ``b`` of a 32-bit word is
#: ``_DE_BRUIJN_32[((b * 0x077CB531) mod 2**32) >> 27]``.
_DE_BRUIJN_32 = np.array(
    [0, 1, 28, 2, 29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4, 8,
     31, 27, 13, 23, 21, 19, 16, 7, 26, 12, 18, 6, 11, 5, 10, 9],
    dtype=np.int64,
)  # fmt: skip


@njit(cache=True)
def _lowest_set_bit(bits):
    """Index of the lowest set bit of a non-zero 32-bit word (held in an unsigned int)."""
    lowest = bits & (~bits + np.uint32(1))
    return _DE_BRUIJN_32[((lowest * np.uint32(0x077CB531)) & np.uint32(0xFFFFFFFF)) >> 27]


@njit(cache=True)
def _row_rank_short(row, target, k):
    """0-based rank of ``target`` among ``row[:k]``, ``k <= 32`` (first match), -1 if absent.

    The comparisons are packed into a 32-bit mask in one branch-free (vectorised) loop;
    the lowest set bit is the first match.
    """
    bits = np.uint32(0)
    for j in range(k):
        bits |= np.uint32(row[j] == target) << np.uint32(j)
    if bits == 0:
        return -1
    return _lowest_set_bit(bits)


@njit(cache=True)
def _block_range(values):
    """``(min, max)`` of a contiguous 1-D block (one long, vectorised loop)."""
    lowest = values[0]
    highest = values[0]
    for e in range(1, values.shape[0]):
        lowest = min(lowest, values[e])
        highest = max(highest, values[e])
    return lowest, highest


@njit(cache=True)
def _row_rank_long(row, target, k):
    """:func:`_row_rank_short` for any ``k``, 32 columns at a time."""
    for j0 in range(0, k, 32):
        rank = _row_rank_short(row[j0:], target, min(32, k - j0))
        if rank >= 0:
            return j0 + rank
    return -1


@njit(cache=True)
def _row_code(inp, p):
    """Validation code of row ``p`` (the slow path, run only for a suspicious sub-block).

    ``inp`` is a :class:`StandardInputs`.
    """
    code = _row_id_code(inp.ids[p], inp.n_items)
    if code != OK:
        return code
    counted = inp.mask[p] if inp.has_mask else True
    target = inp.targets[p]
    if target < (1 if counted else 0) or target > inp.n_items:
        return BAD_TARGET
    if inp.has_cart and inp.cart[p] != 0 and inp.cart[p] != 1:
        return BAD_CART
    if inp.has_order and inp.order[p] != 0 and inp.order[p] != 1:
        return BAD_ORDER
    return OK


@njit(cache=True)
def _standard_segment(inp, start, stop, out):
    """Sum the standard statistics of rows ``start..stop-1`` into ``out`` (float64[8]).

    ``inp`` is a :class:`StandardInputs`. Rows go in sub-blocks of :data:`SUB_BLOCK`.
    Every value is validated on the way: vectorised min/max passes over the sub-block's
    ids, targets and labels, and only a sub-block whose ranges leave the valid values (or
    hold ``-1`` padding, whose order must be checked) sends the per-row check from there
    on. Float sums are plain within a sub-block and compensated across sub-blocks.
    Returns ``(first_bad_row, code)``; ``(-1, OK)`` when all is valid.
    """
    n_pos = 0
    hits = 0
    cart_n = 0
    cart_hits = 0
    order_n = 0
    order_hits = 0
    recip_rank = 0.0
    recip_rank_c = 0.0
    dcg = 0.0
    dcg_c = 0.0
    bad_row = -1
    bad_code = OK
    first_suspicious = -1
    width = inp.ids.shape[1]
    flat = inp.ids.reshape(-1)
    for r0 in range(start, stop, SUB_BLOCK):
        r1 = min(stop, r0 + SUB_BLOCK)
        # Sub-block views indexed from 0: provably non-negative indices, so LLVM drops
        # the wrap-around handling of negative indices.
        block = inp.ids[r0:r1]
        block_targets = inp.targets[r0:r1]
        block_cart = inp.cart[r0:r1] if inp.has_cart else inp.cart
        block_order = inp.order[r0:r1] if inp.has_order else inp.order
        block_mask = inp.mask[r0:r1] if inp.has_mask else inp.mask
        # Validation by ranges: one long vectorised pass over the sub-block's ids (which
        # also brings them into cache for the rows below) and its targets and labels.
        ids_low, ids_high = _block_range(flat[r0 * width : r1 * width])
        targets_low, targets_high = _block_range(block_targets)
        labels_high = 0
        if inp.has_cart:
            labels_high = max(labels_high, _block_range(block_cart.view(np.uint8))[1])
        if inp.has_order:
            labels_high = max(labels_high, _block_range(block_order.view(np.uint8))[1])
        block_recip = 0.0
        block_dcg = 0.0
        for p in range(r1 - r0):
            row = block[p]
            target = block_targets[p]
            c = block_cart[p] if inp.has_cart else np.int8(0)
            o = block_order[p] if inp.has_order else np.int8(0)
            if inp.has_mask and not block_mask[p]:
                continue
            if inp.k <= 32:
                rank = _row_rank_short(row, target, inp.k)
            else:
                rank = _row_rank_long(row, target, inp.k)
            n_pos += 1
            cart_n += c
            order_n += o
            if rank >= 0:
                hits += 1
                block_recip += inp.recip[rank]
                block_dcg += inp.discount[rank]
                cart_hits += c
                order_hits += o
        recip_rank, recip_rank_c = _add_compensated(recip_rank, recip_rank_c, block_recip)
        dcg, dcg_c = _add_compensated(dcg, dcg_c, block_dcg)
        suspicious = (
            ids_low < 1
            or ids_high > inp.n_items
            or targets_low < 1
            or targets_high > inp.n_items
            or labels_high > 1
        )
        if suspicious and first_suspicious < 0:
            first_suspicious = r0
    # The per-row check runs after the main loop, from the first suspicious sub-block on
    # (keeping it out of the loop keeps the loop fast: measured 1.3x).
    if first_suspicious >= 0:
        for p in range(first_suspicious, stop):
            code = _row_code(inp, p)
            if code != OK:
                bad_row = p
                bad_code = code
                break
    out[N_POS] = n_pos
    out[HITS] = hits
    out[RECIP_RANK] = recip_rank + recip_rank_c
    out[DCG] = dcg + dcg_c
    out[CART_N] = cart_n
    out[CART_HITS] = cart_hits
    out[ORDER_N] = order_n
    out[ORDER_HITS] = order_hits
    return bad_row, bad_code


@njit(cache=True)
def _list_segment(inp, start, stop, out):
    """List statistics of rows ``start..stop-1`` into ``out`` (float64[4]); marks ``seen``.

    ``inp`` is a :class:`ListInputs`.

    Intra-list diversity uses the identity
    ``sum_{i<j} u_i . u_j = (|sum_i u_i|^2 - sum_i |u_i|^2) / 2`` for the unit vectors
    ``u_i`` of the list (zero vectors stay zero), so a list costs O(k d), not O(k^2 d).
    """
    dim = inp.vectors.shape[1]
    total = np.zeros(dim, dtype=np.float64)
    slots = 0.0
    log_pop_sum = 0.0
    log_pop_c = 0.0
    div_sum = 0.0
    div_c = 0.0
    div_lists = 0.0
    for p in range(start, stop):
        if inp.has_mask and not inp.mask[p]:
            continue
        row = inp.ids[p]
        count = 0
        row_log_pop = 0.0
        for j in range(inp.k):
            v = row[j]
            if v < 1:
                break
            count += 1
            if inp.has_pop:
                row_log_pop += inp.log_pop[v]
            if inp.has_cov:
                inp.seen[v] = 1
        slots += count
        if inp.has_pop:
            log_pop_sum, log_pop_c = _add_compensated(log_pop_sum, log_pop_c, row_log_pop)
        if inp.has_vec and count >= 2:
            total[:] = 0.0
            squares = 0.0
            for j in range(count):
                v = row[j]
                scale = inp.inv_norm[v]
                vector = inp.vectors[v]
                for q in range(dim):
                    x = np.float64(vector[q]) * scale
                    total[q] += x
                    squares += x * x
            norm_sq = 0.0
            for q in range(dim):
                norm_sq += total[q] * total[q]
            pairs = count * (count - 1) / 2.0
            diversity = 1.0 - 0.5 * (norm_sq - squares) / pairs
            div_sum, div_c = _add_compensated(div_sum, div_c, diversity)
            div_lists += 1.0
    out[SLOTS] = slots
    out[LOG_POP] = log_pop_sum + log_pop_c
    out[DIV_SUM] = div_sum + div_c
    out[DIV_LISTS] = div_lists


@njit(cache=True)
def _otto_row(inp, s):
    """``(|set(pred[s, :k]) & set(GT_s)|, min(k, |set(GT_s)|))`` for one session.

    ``inp`` is an :class:`OttoInputs`.
    """
    row = inp.pred[s]
    lo = inp.truth_ptr[s]
    hi = inp.truth_ptr[s + 1]
    distinct = 0
    hits = 0
    for a in range(lo, hi):
        item = inp.truth_ids[a]
        repeated = False
        for b in range(lo, a):
            if inp.truth_ids[b] == item:
                repeated = True
                break
        if repeated:
            continue
        distinct += 1
        for j in range(inp.k):
            if row[j] == item:
                hits += 1
                break
    return hits, min(inp.k, distinct)


@njit(cache=True)
def _otto_segment(inp, start, stop, out):
    """``out`` = (hits, denominator) of sessions ``start..stop-1`` (``inp``: OttoInputs)."""
    hits = 0.0
    denominator = 0.0
    for s in range(start, stop):
        h, d = _otto_row(inp, s)
        hits += h
        denominator += d
    out[0] = hits
    out[1] = denominator


# ================================================================ HIGH LEVEL: prange loops
# Each loop over segments is written once, as a plain function, and compiled twice by
# parallel_and_serial: with ``parallel=True`` (``prange`` spreads the segments over
# threads) and without (``prange`` runs as ``range``). On small inputs launching the team
# costs more than the work (milliseconds on a busy machine), so the run_* dispatchers
# below take the serial build there. Each segment is computed by the same helper either
# way, so the result does not depend on which build ran.
def _standard_sums(inp, seg_ptr):
    """Per-segment standard sums ``float64[n_seg, 8]`` and validation ``int64[n_seg, 2]``.

    ``inp`` is a :class:`StandardInputs`; ``seg_ptr`` (int64[n_seg + 1]) the segments'
    row offsets. Row ``s`` of the validation holds ``(first_bad_row, code)`` of segment
    ``s``, ``(-1, OK)`` when all is valid.
    """
    n_seg = len(seg_ptr) - 1
    out = np.zeros((n_seg, N_STANDARD), dtype=np.float64)
    bad = np.empty((n_seg, 2), dtype=np.int64)
    for s in prange(n_seg):
        row, code = _standard_segment(inp, seg_ptr[s], seg_ptr[s + 1], out[s])
        bad[s, 0] = row
        bad[s, 1] = code
    return out, bad


def _list_sums(inp, seg_ptr):
    """Per-segment list sums ``float64[n_seg, 4]`` of :class:`ListInputs` ``inp``.

    Also sets ``inp.seen[i] = 1`` for every recommended item ``i`` (when ``inp.has_cov``).
    """
    n_seg = len(seg_ptr) - 1
    out = np.zeros((n_seg, N_LIST), dtype=np.float64)
    for s in prange(n_seg):
        _list_segment(inp, seg_ptr[s], seg_ptr[s + 1], out[s])
    return out


def _otto_sums(inp, seg_ptr):
    """Per-segment ``(hits, denominator)`` of :class:`OttoInputs` ``inp``: ``float64[n_seg, 2]``."""
    n_seg = len(seg_ptr) - 1
    out = np.zeros((n_seg, 2), dtype=np.float64)
    for s in prange(n_seg):
        _otto_segment(inp, seg_ptr[s], seg_ptr[s + 1], out[s])
    return out


standard_sums, standard_sums_serial = parallel_and_serial(_standard_sums, "standard_sums")
list_sums, list_sums_serial = parallel_and_serial(_list_sums, "list_sums")
otto_sums, otto_sums_serial = parallel_and_serial(_otto_sums, "otto_sums")


# ================================================================ dispatch
#: Below this many rows the serial builds run.
PARALLEL_MIN_ROWS = 16384


def _run(parallel, serial, n_rows, inp, seg_ptr):
    """``parallel(inp, seg_ptr)`` from :data:`PARALLEL_MIN_ROWS` rows on, else serial."""
    return (parallel if n_rows >= PARALLEL_MIN_ROWS else serial)(inp, seg_ptr)


def run_standard(inp, seg_ptr):
    """:func:`standard_sums` (or its serial build for small inputs); same arguments."""
    return _run(standard_sums, standard_sums_serial, len(inp.ids), inp, seg_ptr)


def run_list(inp, seg_ptr):
    """:func:`list_sums` (or its serial build for small inputs); same arguments."""
    return _run(list_sums, list_sums_serial, len(inp.ids), inp, seg_ptr)


def run_otto(inp, seg_ptr):
    """:func:`otto_sums` (or its serial build for small inputs); same arguments."""
    return _run(otto_sums, otto_sums_serial, len(inp.pred), inp, seg_ptr)
