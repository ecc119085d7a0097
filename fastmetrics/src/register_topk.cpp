// Exact top-k by inner product: a register-blocked micro-kernel with fused selection.
//
// For every query q and item j the score is s(q, j) = <queries[q], items[j]>, plus v when
// the query has a term (j, v): optional sparse CSR lists of (item, value) per query. The
// result of query q is its k best items under the strict total order
//     (s, j) before (s', j')  <=>  s > s'  or  (s == s' and j < j'),
// with item 0 (padding) and the query's excluded items never returned (an exclusion wins
// over a term). When fewer than k items are eligible, the trailing slots are filled with
// score -inf and id -1.
//
// Arithmetic. Every inner product is the same chain of fused multiply-adds, in the same
// order, on every code path:  a = +0;  for d = 0..D-1: a = fma(items[j][d], queries[q][d], a);
// a term item's score is then a + v, one float32 addition. A correctly rounded fma gives
// identical bits in AVX-512, AVX2 and scalar (std::fma) code, so a score depends neither
// on the SIMD path, nor on the thread count or the blocking, nor on which other queries
// share the call.
//
// Plan. The score matrix never leaves the registers:
// * Queries are packed in panels of W lanes (AVX-512: 64 or 48, AVX2: 24; narrow panels
//   of 16 / 8 lanes for the rest; padded lanes never selected):
//   panel[d][l] = queries[first + l][d].
// * The micro-kernel holds a tile of NI items x W queries in registers (AVX-512: 6 x 64
//   = 24 zmm accumulators; see run_tiles), broadcasting items[j][d] straight from the
//   row-major item matrix (no item packing), and runs the fma chain over d. It then takes the
//   maximum over the NI items per query and compares it with that query's current k-th best
//   score (a threshold vector loaded from memory): almost always nothing beats it. On a hit
//   the tile is stored and the winning queries' scores go, in item order, to their sinks: a
//   sorted insertion array for small k, or a 2k candidate buffer compacted with nth_element
//   for large k. An equal score never enters: every item seen before by the query has a lower
//   id.
// * Terms: a work unit first copies its queries' terms (those in its item range) into
//   thread-local scratch, sorted by id per query. The dense pass skips a query's term items
//   like its excluded ones (a forward-only probe into its sorted term ids: one comparison
//   per candidate in the common case). After each item block, the term items of the unit's
//   queries that lie in the block (their rows still in L2) are scored apart: the same fma
//   chain, eight independent (query, item) chains at a time, then + v, and offered to the
//   query's sink under the full tie rule (such an item may tie with, and precede, items
//   already in the sink). Items of later blocks have higher ids than all of them, so the
//   dense pass's rule above still holds.
// * Items are visited in blocks of ~512 KiB (L2-resident while all panels of a query
//   group pass over them). A work unit is a group of about 256 queries (the last few
//   groups: one panel each, so that the threads finish together) against the whole
//   catalogue; OpenMP threads take units dynamically, with no barrier inside the run.
//   With too few groups to keep every thread busy, the catalogue is also cut into item
//   chunks whose top-k lists are merged exactly at the end. The top-k of identical scores
//   under a strict total order is unique, so the output is bitwise identical for any
//   thread count.
//
// OpenBLAS (scipy-openblas32) is linked only for `sgemm_tiles`, the benchmark's limit.
#include <fastmetrics/common.hpp>

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

extern "C" void scipy_openblas_set_num_threads(int num_threads);

namespace fastmetrics {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();
// Above this k the sorted-insertion sink (O(k) per accepted candidate) gives way to
// the buffered sink (amortised O(1) per candidate plus a final O(k log k) sort).
constexpr int kDefaultInsertMaxK = 64;
// Item block: about 512 KiB of item rows (2^17 floats), a multiple of every tile height.
constexpr int64_t kItemBlockFloats = int64_t{1} << 17;
constexpr int64_t kTileMultiple = 24;
// Queries per work unit (rounded up to whole wide panels).
constexpr int64_t kDefaultGroup = 256;
// Candidate buffers of the buffered sink, per unit: at most 2^21 entries (16 MiB).
constexpr int64_t kMaxUnitCandidates = int64_t{1} << 21;
// Multiply-adds per extra thread: smaller calls run on fewer threads, since waking a
// team costs more than it saves there (results do not depend on it).
constexpr int64_t kWorkPerThread = int64_t{1} << 25;

struct Entry {
  float score;
  int32_t id;
};

// The result order: higher score first, then lower id (strict total order on ids).
inline bool better(const Entry& a, const Entry& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// ===================================================================== sinks ====
// A sink receives one query's candidates in increasing item id and exposes
// `threshold()`: only a score strictly above it can enter.

// Sorted arrays (score desc, id asc) of length k, pre-filled with (-inf, -1).
struct InsertSink {
  float* scores;
  int32_t* ids;
  int k;
  void start() {
    std::fill(scores, scores + k, kNegInf);
    std::fill(ids, ids + k, -1);
  }
  float threshold() const { return scores[k - 1]; }
  // Precondition: s > threshold(). Returns the new threshold.
  float push(float s, int32_t id) {
    int p = k - 1;
    while (p > 0 && scores[p - 1] < s) {
      scores[p] = scores[p - 1];
      ids[p] = ids[p - 1];
      --p;
    }
    scores[p] = s;
    ids[p] = id;
    return scores[k - 1];
  }
  // Any candidate, in any id order: enters iff it precedes the k-th entry (fillers last).
  float offer(float s, int32_t id) {
    const Entry e{s, id};
    if (!better(e, Entry{scores[k - 1], ids[k - 1]})) return scores[k - 1];
    int p = k - 1;
    while (p > 0 && better(e, Entry{scores[p - 1], ids[p - 1]})) {
      scores[p] = scores[p - 1];
      ids[p] = ids[p - 1];
      --p;
    }
    scores[p] = s;
    ids[p] = id;
    return scores[k - 1];
  }
  void finish() {}
};

// Unsorted candidate buffer of capacity 2k; when full, nth_element keeps the k best and
// the k-th best score becomes the threshold. finish() sorts and writes the result.
struct BufferSink {
  Entry* buf;  // capacity 2k
  int n;
  int k;
  float thr;
  float* out_scores;
  int32_t* out_ids;
  void start() {
    n = 0;
    thr = kNegInf;
  }
  float threshold() const { return thr; }
  float push(float s, int32_t id) {
    buf[n++] = Entry{s, id};
    if (n == 2 * k) {
      std::nth_element(buf, buf + (k - 1), buf + n, better);
      n = k;
      thr = buf[k - 1].score;
    }
    return thr;
  }
  // Any candidate, in any id order: a score equal to the threshold may still precede the
  // k-th entry by its id, so it is buffered too (the compaction keeps the k best).
  float offer(float s, int32_t id) { return s < thr ? thr : push(s, id); }
  void finish() {
    const int m = std::min(n, k);
    std::partial_sort(buf, buf + m, buf + n, better);
    for (int i = 0; i < m; ++i) {
      out_scores[i] = buf[i].score;
      out_ids[i] = buf[i].id;
    }
    std::fill(out_scores + m, out_scores + k, kNegInf);
    std::fill(out_ids + m, out_ids + k, -1);
  }
};

// CSR exclusion lists, sorted within each query (checked at the boundary).
struct IdLists {
  const int64_t* ptr = nullptr;
  const int32_t* ids = nullptr;
  bool contains(int64_t q, int32_t id) const {
    if (ptr == nullptr || ptr[q] == ptr[q + 1]) return false;
    return std::binary_search(ids + ptr[q], ids + ptr[q + 1], id);
  }
};

// CSR term lists as given (checked at the boundary: ids in [1, M) and distinct within each
// query, in any order; values[e] is the term of ids[e]).
struct TermLists {
  const int64_t* ptr = nullptr;
  const int32_t* ids = nullptr;
  const float* values = nullptr;
};

// A term (id, value) packed as id * 2^32 + the value's bits: sorting the keys sorts by id
// (the ids of a query are distinct), and one 8-byte key moves per step.
inline uint64_t term_key(int32_t id, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return (static_cast<uint64_t>(static_cast<uint32_t>(id)) << 32) | bits;
}

inline int32_t term_key_id(uint64_t key) { return static_cast<int32_t>(key >> 32); }

inline float term_key_value(uint64_t key) {
  const uint32_t bits = static_cast<uint32_t>(key);
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Sort n keys: insertion sort for the short lists of typical use (linear when sorted),
// else std::sort.
void sort_term_keys(uint64_t* keys, int64_t n) {
  if (n > 64) {
    if (!std::is_sorted(keys, keys + n)) std::sort(keys, keys + n);
    return;
  }
  for (int64_t i = 1; i < n; ++i) {
    const uint64_t key = keys[i];
    int64_t j = i;
    while (j > 0 && keys[j - 1] > key) {
      keys[j] = keys[j - 1];
      --j;
    }
    keys[j] = key;
  }
}

// A work unit's terms (thread-local scratch, see unit_terms): row r's (query first + r's)
// term items in the unit's item range, sorted by id, as keys[ptr[r] .. ptr[r + 1]).
struct UnitTerms {
  const int64_t* ptr = nullptr;
  const uint64_t* keys = nullptr;
};

// The items the dense pass skips for a query: its excluded items (never returned) and its
// term items (scored apart, see score_block_terms). A work unit asks about each query's
// candidates in increasing id order, so its term items are tracked by a forward-only
// probe: for row r = q - first_query, keys[probe[r]] is the query's next term item at or
// above the last id asked about and next[r] its id (INT32_MAX past the end); an id below
// next[r], the common case, costs one comparison.
struct SkipLists {
  IdLists exclude;
  UnitTerms terms;  // terms.ptr == nullptr: no terms
  int64_t* probe = nullptr;
  int32_t* next = nullptr;
  int64_t first_query = 0;
  bool contains(int64_t q, int32_t id) const {
    if (terms.ptr != nullptr) {
      const int64_t r = q - first_query;
      if (id >= next[r]) {
        const int64_t end = terms.ptr[r + 1];
        int64_t e = probe[r];
        while (e < end && term_key_id(terms.keys[e]) < id) ++e;
        probe[r] = e;
        next[r] = e < end ? term_key_id(terms.keys[e]) : std::numeric_limits<int32_t>::max();
        if (next[r] == id) return true;
      }
    }
    return exclude.contains(q, id);
  }
};

// The scores col[0], col[stride], ... col[(n-1) * stride] of items base .. base+n-1 for
// one query, handed to its sink in item order; returns the new threshold. This is the
// only place where an entry is accepted or rejected.
template <class Sink>
float take_candidates(const float* col, int stride, int n, int32_t base, float thr, Sink& sink,
                      const SkipLists& ex, int64_t q) {
  for (int i = 0; i < n; ++i) {
    const float v = col[i * stride];
    if (v > thr) {
      const int32_t id = base + i;
      if (id != 0 && !ex.contains(q, id)) thr = sink.push(v, id);
    }
  }
  return thr;
}

// ============================================================ micro-kernels ====
// kernel_<path><V, NI>: n_tiles tiles of NI consecutive items (rows of `items` from item
// `base`) against one packed query panel of W lanes (panel[d * W + l]); thr[l] is lane
// l's threshold (+inf for padding lanes) and sinks[l] its sink (query q_first + l).

template <int W, int NI, class Sink>
void kernel_scalar(const float* items, int64_t n_tiles, int64_t D, int32_t base,
                   const float* panel, float* thr, Sink* sinks, const SkipLists& ex,
                   int64_t q_first) {
  for (int64_t t = 0; t < n_tiles; ++t) {
    const float* x = items + t * NI * D;
    float acc[NI][W] = {};
    for (int64_t d = 0; d < D; ++d) {
      for (int i = 0; i < NI; ++i) {
        const float xv = x[i * D + d];
        for (int l = 0; l < W; ++l) acc[i][l] = std::fma(xv, panel[d * W + l], acc[i][l]);
      }
    }
    const int32_t tile_base = base + static_cast<int32_t>(t * NI);
    for (int l = 0; l < W; ++l) {
      if (thr[l] == kPosInf) continue;
      thr[l] = take_candidates(&acc[0][l], W, NI, tile_base, thr[l], sinks[l], ex, q_first + l);
    }
  }
}

// SIMD traits: the vector operations of the micro-kernel for one instruction set. Each
// member carries that instruction set's target attribute, and so do the entry points
// kernel_avx2 / kernel_avx512. kernel_simd has no target of its own and is always inlined
// into its entry point, where the (one-instruction) members are inlined in turn: all of it
// is compiled for the entry point's instruction set only (no AVX-512 in the AVX2 path).
// The members cannot be always_inline: GCC would first try to inline them into the
// target-less kernel_simd template itself, and refuse (target specific option mismatch).
#define FASTMETRICS_AVX2 __attribute__((target("avx2,fma")))
#define FASTMETRICS_AVX512 __attribute__((target("avx512f")))

struct Avx2 {
  using Vec = __m256;
  static constexpr int kWidth = 8;  // floats per vector
  FASTMETRICS_AVX2 static Vec zero() { return _mm256_setzero_ps(); }
  FASTMETRICS_AVX2 static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  FASTMETRICS_AVX2 static Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  FASTMETRICS_AVX2 static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  FASTMETRICS_AVX2 static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
  // Lane l's bit set iff a[l] > p[l] (ordered: false if either is NaN).
  FASTMETRICS_AVX2 static uint32_t greater(Vec a, const float* p) {
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(a, load(p), _CMP_GT_OQ)));
  }
  FASTMETRICS_AVX2 static void store_aligned(float* p, Vec a) { _mm256_store_ps(p, a); }
};

struct Avx512 {
  using Vec = __m512;
  static constexpr int kWidth = 16;
  FASTMETRICS_AVX512 static Vec zero() { return _mm512_setzero_ps(); }
  FASTMETRICS_AVX512 static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  FASTMETRICS_AVX512 static Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  FASTMETRICS_AVX512 static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  FASTMETRICS_AVX512 static Vec max(Vec a, Vec b) { return _mm512_max_ps(a, b); }
  FASTMETRICS_AVX512 static uint32_t greater(Vec a, const float* p) {
    return static_cast<uint32_t>(_mm512_cmp_ps_mask(a, load(p), _CMP_GT_OQ));
  }
  FASTMETRICS_AVX512 static void store_aligned(float* p, Vec a) { _mm512_store_ps(p, a); }
};

// The micro-kernel on V vectors of S::kWidth lanes (W = V * S::kWidth queries). Only ever
// inlined into an entry point below (its vector values never cross a call, hence no ABI
// concern: -Wpsabi is silenced here).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
template <class S, int V, int NI, class Sink>
__attribute__((always_inline)) inline void kernel_simd(const float* items, int64_t n_tiles,
                                                       int64_t D, int32_t base,
                                                       const float* panel, float* thr,
                                                       Sink* sinks, const SkipLists& ex,
                                                       int64_t q_first) {
  using Vec = typename S::Vec;
  constexpr int L = S::kWidth;
  constexpr int W = L * V;
  for (int64_t t = 0; t < n_tiles; ++t) {
    const float* x = items + t * NI * D;
    Vec acc[NI][V];
#pragma GCC unroll 16
    for (int i = 0; i < NI; ++i) {
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[i][v] = S::zero();
    }
    // Rows of the next tile: one prefetch per row and cache line, ahead of their use.
    const float* next = t + 1 < n_tiles ? x + NI * D : x;
    for (int64_t d = 0; d < D; ++d) {
      if ((d & 15) == 0) {
#pragma GCC unroll 16
        for (int i = 0; i < NI; ++i) {
          _mm_prefetch(reinterpret_cast<const char*>(next + i * D + d), _MM_HINT_T0);
        }
      }
      Vec qv[V];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) qv[v] = S::load(panel + d * W + L * v);
#pragma GCC unroll 16
      for (int i = 0; i < NI; ++i) {
        const Vec xv = S::broadcast(x + i * D + d);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[i][v] = S::fmadd(xv, qv[v], acc[i][v]);
      }
    }
    // Common case: no query's best score in the tile beats its threshold (one max over the
    // tile's items and one compare per vector). Otherwise the tile goes to memory (the
    // accumulators are dead afterwards: nothing is spilled).
    uint64_t hit = 0;
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      Vec m = acc[0][v];
#pragma GCC unroll 16
      for (int i = 1; i < NI; ++i) m = S::max(m, acc[i][v]);
      hit |= static_cast<uint64_t>(S::greater(m, thr + L * v)) << (L * v);
    }
    if (__builtin_expect(hit != 0, 0)) {
      alignas(Vec) float tile[NI][W];
#pragma GCC unroll 16
      for (int i = 0; i < NI; ++i) {
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) S::store_aligned(tile[i] + L * v, acc[i][v]);
      }
      const int32_t tile_base = base + static_cast<int32_t>(t * NI);
      while (hit != 0) {
        const int l = __builtin_ctzll(hit);
        hit &= hit - 1;
        thr[l] = take_candidates(&tile[0][l], W, NI, tile_base, thr[l], sinks[l], ex,
                                 q_first + l);
      }
    }
  }
}
#pragma GCC diagnostic pop

template <int V, int NI, class Sink>
FASTMETRICS_AVX2 void kernel_avx2(const float* items, int64_t n_tiles, int64_t D, int32_t base,
                                  const float* panel, float* thr, Sink* sinks,
                                  const SkipLists& ex, int64_t q_first) {
  kernel_simd<Avx2, V, NI>(items, n_tiles, D, base, panel, thr, sinks, ex, q_first);
}

template <int V, int NI, class Sink>
FASTMETRICS_AVX512 void kernel_avx512(const float* items, int64_t n_tiles, int64_t D,
                                      int32_t base, const float* panel, float* thr, Sink* sinks,
                                      const SkipLists& ex, int64_t q_first) {
  kernel_simd<Avx512, V, NI>(items, n_tiles, D, base, panel, thr, sinks, ex, q_first);
}

// ======================================================= SIMD paths & layout ====

enum Simd : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

int best_simd() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kAvx2;
  return kScalar;
}

const char* simd_name(int simd) {
  switch (simd) {
    case kAvx512:
      return "avx512";
    case kAvx2:
      return "avx2";
    default:
      return "scalar";
  }
}

// Query panel widths (lanes) of a path: wide panels, then narrow ones for the rest.
// AVX-512 uses 64-lane panels while a panel (64 x D floats) fits in L1 next to the item
// rows (D <= 128), else 48 lanes; AVX2 uses 24 lanes (measured at D = 64 and D = 200).
struct Layout {
  int wide, narrow;
};

constexpr int64_t kMaxDWide64 = 128;

Layout layout_of(int simd, int64_t D) {
  switch (simd) {
    case kAvx512:
      return {D <= kMaxDWide64 ? 64 : 48, 16};
    case kAvx2:
      return {24, 8};
    default:
      return {8, 1};
  }
}

// Tile shapes (items x query vectors), chosen by measurement: AVX-512 holds 24 zmm
// accumulators (6 items x 4 vectors = 64 queries for D <= 128, 8 x 3 = 48 queries above,
// 12 x 1 = 16 queries for narrow panels); AVX2 holds 12 ymm (4 x 3 = 24 queries, 12 x 1
// = 8 queries). Every tile height divides kTileMultiple, so item blocks split into whole
// tiles; the catalogue's last items use one-item tiles.
template <class Sink>
void run_tiles(int simd, bool wide, int64_t n_items, const float* items, int64_t D, int32_t base,
               const float* panel, float* thr, Sink* sinks, const SkipLists& ex,
               int64_t q_first) {
  int ni = 4;  // scalar
  if (simd == kAvx512) ni = !wide ? 12 : (D > kMaxDWide64 ? 8 : 6);
  if (simd == kAvx2) ni = wide ? 4 : 12;
  const int64_t full = n_items / ni;
  const int64_t rest = n_items - full * ni;
  const float* tail = items + full * ni * D;
  const int32_t tail_base = base + static_cast<int32_t>(full * ni);
  switch (simd) {
    case kAvx512:
      if (!wide) {
        kernel_avx512<1, 12>(items, full, D, base, panel, thr, sinks, ex, q_first);
        kernel_avx512<1, 1>(tail, rest, D, tail_base, panel, thr, sinks, ex, q_first);
      } else if (D > kMaxDWide64) {
        kernel_avx512<3, 8>(items, full, D, base, panel, thr, sinks, ex, q_first);
        kernel_avx512<3, 1>(tail, rest, D, tail_base, panel, thr, sinks, ex, q_first);
      } else {
        kernel_avx512<4, 6>(items, full, D, base, panel, thr, sinks, ex, q_first);
        kernel_avx512<4, 1>(tail, rest, D, tail_base, panel, thr, sinks, ex, q_first);
      }
      break;
    case kAvx2:
      if (!wide) {
        kernel_avx2<1, 12>(items, full, D, base, panel, thr, sinks, ex, q_first);
        kernel_avx2<1, 1>(tail, rest, D, tail_base, panel, thr, sinks, ex, q_first);
      } else {
        kernel_avx2<3, 4>(items, full, D, base, panel, thr, sinks, ex, q_first);
        kernel_avx2<3, 1>(tail, rest, D, tail_base, panel, thr, sinks, ex, q_first);
      }
      break;
    default:
      if (!wide) {
        kernel_scalar<1, 4>(items, full, D, base, panel, thr, sinks, ex, q_first);
        kernel_scalar<1, 1>(tail, rest, D, tail_base, panel, thr, sinks, ex, q_first);
      } else {
        kernel_scalar<8, 4>(items, full, D, base, panel, thr, sinks, ex, q_first);
        kernel_scalar<8, 1>(tail, rest, D, tail_base, panel, thr, sinks, ex, q_first);
      }
  }
}

// A packed query panel of a work unit: queries first .. first+valid-1 in `lanes` lanes,
// at offset `offset` of the unit's pack buffer; `slot` indexes its thresholds and sinks.
struct QueryPanel {
  int64_t first;
  int lanes;
  int valid;
  bool wide;
  int64_t offset;
  int64_t slot;
};

std::vector<QueryPanel> query_panels(int64_t first, int64_t n, int64_t D, const Layout& lay) {
  std::vector<QueryPanel> panels;
  int64_t done = 0, offset = 0;
  while (n - done >= lay.wide) {
    panels.push_back(QueryPanel{first + done, lay.wide, lay.wide, true, offset, done});
    done += lay.wide;
    offset += lay.wide * D;
  }
  while (done < n) {
    const int valid = static_cast<int>(std::min<int64_t>(lay.narrow, n - done));
    panels.push_back(QueryPanel{first + done, lay.narrow, valid, false, offset, done});
    done += valid;
    offset += lay.narrow * D;
  }
  return panels;
}

// panel[d * lanes + l] = queries[first + l][d] for l < valid, 0 for padding lanes.
void pack_query_panel(const float* queries, int64_t D, const QueryPanel& qp, float* pack) {
  float* panel = pack + qp.offset;
  for (int l = 0; l < qp.lanes; ++l) {
    if (l < qp.valid) {
      const float* src = queries + (qp.first + l) * D;
      for (int64_t d = 0; d < D; ++d) panel[d * qp.lanes + l] = src[d];
    } else {
      for (int64_t d = 0; d < D; ++d) panel[d * qp.lanes + l] = 0.0f;
    }
  }
}

// ============================================================== the driver ====

struct Problem {
  const float* queries;  // Q x D, C order
  const float* items;    // M x D, C order
  int64_t Q, M, D;
  int k;
  IdLists exclude;  // excluded items (ptr == nullptr: none)
  TermLists terms;  // term lists (ptr == nullptr: no terms)
  int simd;
  int insert_max_k;
  int64_t item_block;       // items per block (multiple of kTileMultiple)
  int64_t group;            // queries per work unit
  int64_t work_per_thread;  // multiply-adds per extra thread
};

// Thread-local scratch that only grows: first touch of fresh pages is expensive, and
// OpenMP worker threads persist between calls.
template <class T, int Tag>
T* scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// ================================================================== terms ====

// Term items are scored in batches of (query, item) pairs, each its own fma chain.
constexpr int kTermBatch = 8;

// The inner products of kTermBatch (query row, item row) pairs: the micro-kernel's chain
// a = fma(x[d], q[d], a) from a = +0 in the order d = 0..D-1, run as independent chains
// (instruction-level parallelism rather than SIMD lanes). Only ever inlined into one of
// the two entry points below.
__attribute__((always_inline)) inline void term_chains(const float* const* q,
                                                       const float* const* x, int64_t D,
                                                       float* out) {
  float acc[kTermBatch];
  for (int b = 0; b < kTermBatch; ++b) acc[b] = 0.0f;
  for (int64_t d = 0; d < D; ++d) {
#pragma GCC unroll 8
    for (int b = 0; b < kTermBatch; ++b) acc[b] = std::fma(x[b][d], q[b][d], acc[b]);
  }
  for (int b = 0; b < kTermBatch; ++b) out[b] = acc[b];
}

// The AVX2 and AVX-512 paths: std::fma compiles to the fma instruction here.
FASTMETRICS_AVX2 void term_chains_fma(const float* const* q, const float* const* x, int64_t D,
                                      float* out) {
  term_chains(q, x, D, out);
}

// The scalar path: the C library's fma (correctly rounded too, hence the same bits).
void term_chains_portable(const float* const* q, const float* const* x, int64_t D,
                          float* out) {
  term_chains(q, x, D, out);
}

// Term items of a unit's queries waiting to be scored: row (in the unit), item, value.
struct TermBatch {
  int n = 0;
  int64_t row[kTermBatch];
  int32_t id[kTermBatch];
  float value[kTermBatch];
};

// Score the batch (inner product, then one float32 addition of the value) and offer each
// score to its query's sink under the full tie rule.
template <class Sink>
void flush_terms(const Problem& p, int64_t g0, TermBatch& batch, float* thr, Sink* sinks) {
  const float* q[kTermBatch];
  const float* x[kTermBatch];
  for (int b = 0; b < kTermBatch; ++b) {
    const int from = b < batch.n ? b : 0;  // unused chains repeat the first pair
    q[b] = p.queries + (g0 + batch.row[from]) * p.D;
    x[b] = p.items + static_cast<int64_t>(batch.id[from]) * p.D;
  }
  float dot[kTermBatch];
  if (p.simd == kScalar) {
    term_chains_portable(q, x, p.D, dot);
  } else {
    term_chains_fma(q, x, p.D, dot);
  }
  for (int b = 0; b < batch.n; ++b) {
    const float score = dot[b] + batch.value[b];
    thr[batch.row[b]] = sinks[batch.row[b]].offer(score, batch.id[b]);
  }
  batch.n = 0;
}

// A work unit's terms: for its queries g0 .. g0+gn-1, the term items in [c0, c1), each
// row sorted by id, in thread-local scratch (read once from the caller's arrays; a few
// hundred KiB at most for typical lists, so they stay in cache while the unit runs).
UnitTerms unit_terms(const TermLists& t, int64_t g0, int64_t gn, int64_t c0, int64_t c1) {
  int64_t* ptr = scratch<int64_t, 7>(static_cast<size_t>(gn + 1));
  const int64_t most = t.ptr[g0 + gn] - t.ptr[g0];
  uint64_t* keys = scratch<uint64_t, 8>(static_cast<size_t>(std::max<int64_t>(most, 1)));
  int64_t n = 0;
  ptr[0] = 0;
  for (int64_t r = 0; r < gn; ++r) {
    for (int64_t e = t.ptr[g0 + r]; e < t.ptr[g0 + r + 1]; ++e) {
      const int32_t id = t.ids[e];
      if (id >= c0 && id < c1) keys[n++] = term_key(id, t.values[e]);
    }
    sort_term_keys(keys + ptr[r], n - ptr[r]);
    ptr[r + 1] = n;
  }
  return UnitTerms{ptr, keys};
}

// After the dense pass of a unit over the items below block_end: score the term items of
// its queries (rows r = 0 .. gn-1, query g0 + r) below block_end, from cursor[r] on (the
// item rows are still in cache); an excluded term item is skipped (the exclusion wins).
template <class Sink>
void score_block_terms(const Problem& p, const UnitTerms& ut, int64_t g0, int64_t gn,
                       int64_t block_end, int64_t* cursor, float* thr, Sink* sinks) {
  TermBatch batch;
  for (int64_t r = 0; r < gn; ++r) {
    const int64_t end = ut.ptr[r + 1];
    int64_t e = cursor[r];
    for (; e < end && term_key_id(ut.keys[e]) < block_end; ++e) {
      const int32_t id = term_key_id(ut.keys[e]);
      if (p.exclude.contains(g0 + r, id)) continue;
      batch.row[batch.n] = r;
      batch.id[batch.n] = id;
      batch.value[batch.n] = term_key_value(ut.keys[e]);
      if (++batch.n == kTermBatch) flush_terms(p, g0, batch, thr, sinks);
    }
    cursor[r] = e;
  }
  if (batch.n > 0) flush_terms(p, g0, batch, thr, sinks);
}

// Merge the n_chunks sorted partial lists of one query (chunk c at part + c * stride)
// into out; every list is sorted by `better`, fillers (-inf, -1) last.
void merge_query(const float* part_s, const int32_t* part_i, int64_t stride, int64_t n_chunks,
                 int k, float* out_s, int32_t* out_i, std::vector<Entry>& acc,
                 std::vector<Entry>& tmp) {
  acc.clear();
  for (int i = 0; i < k && part_i[i] >= 0; ++i) acc.push_back(Entry{part_s[i], part_i[i]});
  for (int64_t c = 1; c < n_chunks; ++c) {
    const float* cs = part_s + c * stride;
    const int32_t* ci = part_i + c * stride;
    tmp.clear();
    size_t a = 0;
    int b = 0;
    while (tmp.size() < static_cast<size_t>(k) && (a < acc.size() || (b < k && ci[b] >= 0))) {
      const bool take_b =
          (b < k && ci[b] >= 0) && (a == acc.size() || better(Entry{cs[b], ci[b]}, acc[a]));
      if (take_b) {
        tmp.push_back(Entry{cs[b], ci[b]});
        ++b;
      } else {
        tmp.push_back(acc[a]);
        ++a;
      }
    }
    acc.swap(tmp);
  }
  for (int i = 0; i < k; ++i) {
    if (static_cast<size_t>(i) < acc.size()) {
      out_s[i] = acc[i].score;
      out_i[i] = acc[i].id;
    } else {
      out_s[i] = kNegInf;
      out_i[i] = -1;
    }
  }
}

// One work unit: queries [g0, g0 + gn) against items [c0, c1), sorted top-k lists to
// res_s/res_i (row r = query g0 + r, stride k).
template <class Sink>
void run_unit(const Problem& p, int64_t g0, int64_t gn, int64_t c0, int64_t c1, float* res_s,
              int32_t* res_i) {
  const Layout lay = layout_of(p.simd, p.D);
  const int64_t k = p.k;
  const std::vector<QueryPanel> panels = query_panels(g0, gn, p.D, lay);
  const int64_t lanes = panels.back().slot + panels.back().lanes;
  float* pack = scratch<float, 0>(static_cast<size_t>(lanes * p.D));
  float* thr = scratch<float, 1>(static_cast<size_t>(lanes));
  Sink* sinks = scratch<Sink, 2>(static_cast<size_t>(lanes));
  Entry* cands = nullptr;
  if constexpr (std::is_same_v<Sink, BufferSink>) {
    cands = scratch<Entry, 3>(static_cast<size_t>(gn * 2 * k));
  }
  for (int64_t r = 0; r < gn; ++r) {
    if constexpr (std::is_same_v<Sink, BufferSink>) {
      sinks[r] = BufferSink{cands + r * 2 * k, 0, p.k, kNegInf, res_s + r * k, res_i + r * k};
    } else {
      sinks[r] = InsertSink{res_s + r * k, res_i + r * k, p.k};
    }
    sinks[r].start();
    thr[r] = sinks[r].threshold();
  }
  std::fill(thr + gn, thr + lanes, kPosInf);
  for (const QueryPanel& qp : panels) pack_query_panel(p.queries, p.D, qp, pack);
  // The unit's sorted terms; each query's next term item to score (at or above the
  // current block's start), and the dense pass's probe (see SkipLists).
  SkipLists skip;
  skip.exclude = p.exclude;
  int64_t* cursor = nullptr;
  if (p.terms.ptr != nullptr) {
    skip.terms = unit_terms(p.terms, g0, gn, c0, c1);
    skip.first_query = g0;
    cursor = scratch<int64_t, 4>(static_cast<size_t>(gn));
    skip.probe = scratch<int64_t, 5>(static_cast<size_t>(gn));
    skip.next = scratch<int32_t, 6>(static_cast<size_t>(gn));
    for (int64_t r = 0; r < gn; ++r) {
      const int64_t begin = skip.terms.ptr[r], end = skip.terms.ptr[r + 1];
      cursor[r] = skip.probe[r] = begin;
      skip.next[r] = begin < end ? term_key_id(skip.terms.keys[begin])
                                 : std::numeric_limits<int32_t>::max();
    }
  }
  for (int64_t b0 = c0; b0 < c1; b0 += p.item_block) {
    const int64_t bn = std::min(p.item_block, c1 - b0);
    for (const QueryPanel& qp : panels) {
      run_tiles(p.simd, qp.wide, bn, p.items + b0 * p.D, p.D, static_cast<int32_t>(b0),
                pack + qp.offset, thr + qp.slot, sinks + qp.slot, skip, qp.first);
    }
    // Term items of this block enter now: all items of later blocks have higher ids.
    if (cursor != nullptr) score_block_terms(p, skip.terms, g0, gn, b0 + bn, cursor, thr, sinks);
  }
  for (int64_t r = 0; r < gn; ++r) sinks[r].finish();
}

template <class Sink>
void run_all(const Problem& p, int threads, float* out_s, int32_t* out_i) {
  const int64_t k = p.k;
  // Query groups: `group` queries each, except the last 2 * threads * group queries,
  // cut into groups of one wide panel so that the threads finish together (dynamic
  // scheduling hands them out last). Grouping changes no score and no decision.
  std::vector<int64_t> starts;
  {
    const int64_t small = std::min<int64_t>(p.group, layout_of(p.simd, p.D).wide);
    const int64_t head = std::max<int64_t>(0, p.Q - 2 * threads * p.group) / p.group * p.group;
    for (int64_t q = 0; q < head; q += p.group) starts.push_back(q);
    for (int64_t q = head; q < p.Q; q += small) starts.push_back(q);
    starts.push_back(p.Q);
  }
  const int64_t n_groups = static_cast<int64_t>(starts.size()) - 1;
  const int64_t n_blocks = (p.M + p.item_block - 1) / p.item_block;
  // Too few query groups to keep every thread busy: cut the catalogue into chunks too.
  int64_t n_chunks = 1;
  if (threads > 1 && n_groups < 4 * threads) {
    n_chunks = std::min<int64_t>(n_blocks, (4 * threads + n_groups - 1) / n_groups);
  }
  const int64_t blocks_per_chunk = (n_blocks + n_chunks - 1) / n_chunks;
  n_chunks = (n_blocks + blocks_per_chunk - 1) / blocks_per_chunk;
  const int64_t chunk_items = blocks_per_chunk * p.item_block;
  const int64_t n_units = n_groups * n_chunks;

  std::vector<float> part_s;
  std::vector<int32_t> part_i;
  if (n_chunks > 1) {
    part_s.resize(static_cast<size_t>(n_chunks * p.Q * k));
    part_i.resize(static_cast<size_t>(n_chunks * p.Q * k));
  }
  std::vector<std::vector<Entry>> merge_scratch(2 * static_cast<size_t>(threads));
  if (n_chunks > 1) {
    for (auto& v : merge_scratch) v.reserve(static_cast<size_t>(k));
  }
  std::atomic<bool> failed{false};

#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < n_units; ++u) {
      if (failed.load(std::memory_order_relaxed)) continue;
      const int64_t g = u / n_chunks, c = u % n_chunks;
      const int64_t g0 = starts[g], gn = starts[g + 1] - g0;
      const int64_t c0 = c * chunk_items, c1 = std::min(p.M, c0 + chunk_items);
      float* rs = (n_chunks > 1 ? part_s.data() + c * p.Q * k : out_s) + g0 * k;
      int32_t* ri = (n_chunks > 1 ? part_i.data() + c * p.Q * k : out_i) + g0 * k;
      try {
        run_unit<Sink>(p, g0, gn, c0, c1, rs, ri);
      } catch (...) {
        failed.store(true);
      }
    }
    if (n_chunks > 1 && !failed.load()) {
      std::vector<Entry>& acc = merge_scratch[2 * omp_get_thread_num()];
      std::vector<Entry>& tmp = merge_scratch[2 * omp_get_thread_num() + 1];
#pragma omp for schedule(static)
      for (int64_t q = 0; q < p.Q; ++q) {
        merge_query(part_s.data() + q * k, part_i.data() + q * k, p.Q * k, n_chunks, p.k,
                    out_s + q * k, out_i + q * k, acc, tmp);
      }
    }
  }
  if (failed.load()) throw std::bad_alloc();
}

void run(const Problem& p, int threads, float* out_scores, int32_t* out_ids) {
  const double work = static_cast<double>(p.Q) * static_cast<double>(p.M) * p.D;
  threads = static_cast<int>(std::min<double>(threads, 1.0 + work / p.work_per_thread));
  if (p.k <= p.insert_max_k) {
    run_all<InsertSink>(p, threads, out_scores, out_ids);
  } else {
    run_all<BufferSink>(p, threads, out_scores, out_ids);
  }
}

// Validate the CSR exclusion lists: offsets start at 0, never decrease, end at nnz; ids
// lie in [0, M) and increase (not strictly) within each query.
void check_exclusion(const int64_t* ptr, int64_t Q, const int32_t* ids, int64_t nnz, int64_t M) {
  if (ptr[0] != 0) throw std::invalid_argument("exclude ptr[0] must be 0");
  if (ptr[Q] != nnz) {
    throw std::invalid_argument("exclude ptr[-1] must equal len(exclude ids) = " +
                                std::to_string(nnz));
  }
  for (int64_t q = 0; q < Q; ++q) {
    if (ptr[q + 1] < ptr[q]) {
      throw std::invalid_argument("exclude ptr decreases at query " + std::to_string(q));
    }
    for (int64_t e = ptr[q]; e < ptr[q + 1]; ++e) {
      if (ids[e] < 0 || ids[e] >= M) {
        throw std::invalid_argument("exclude id " + std::to_string(ids[e]) + " at position " +
                                    std::to_string(e) + " is outside [0, " + std::to_string(M) +
                                    ")");
      }
      if (e > ptr[q] && ids[e] < ids[e - 1]) {
        throw std::invalid_argument("exclude ids must be sorted within each query (query " +
                                    std::to_string(q) + ")");
      }
    }
  }
}

// Throws ValueError if query q's term ids ids[b .. end) (not increasing) hold an item twice,
// naming the first repeat in list order: a small open-addressing table of positions,
// stamped with q + 1 so that it needs no clearing between queries.
struct SeenTable {
  std::vector<std::pair<int64_t, int64_t>> slots;  // (stamp, position)
};

void check_distinct_terms(const int32_t* ids, int64_t b, int64_t end, int64_t q,
                          SeenTable& seen) {
  int bits = 4;
  while ((int64_t{1} << bits) < 2 * (end - b)) ++bits;
  const size_t size = size_t{1} << bits;
  if (seen.slots.size() < size) seen.slots.assign(size, {0, 0});
  const uint64_t mask = size - 1;
  const int64_t stamp = q + 1;
  for (int64_t e = b; e < end; ++e) {
    uint64_t h = (static_cast<uint64_t>(static_cast<uint32_t>(ids[e])) * 0x9E3779B97F4A7C15ull) >>
                 (64 - bits);
    while (seen.slots[h].first == stamp) {
      const int64_t first = seen.slots[h].second;
      if (ids[first] == ids[e]) {
        throw std::invalid_argument("term ids[" + std::to_string(first) + "] and ids[" +
                                    std::to_string(e) + "] are both item " +
                                    std::to_string(ids[e]) + " (query " + std::to_string(q) +
                                    "): a query's term items must be distinct");
      }
      h = (h + 1) & mask;
    }
    seen.slots[h] = {stamp, e};
  }
}

// Validate the CSR term lists: offsets as for the exclusion lists, ids in [1, M) and
// distinct within each query (any order), values finite. One pass, before any work.
void check_terms(const int64_t* ptr, int64_t Q, const int32_t* ids, const float* values,
                 int64_t nnz, int64_t M) {
  if (ptr[0] != 0) throw std::invalid_argument("term ptr[0] must be 0");
  if (ptr[Q] != nnz) {
    throw std::invalid_argument("term ptr[-1] must equal len(term ids) = " +
                                std::to_string(nnz));
  }
  SeenTable seen;
  for (int64_t q = 0; q < Q; ++q) {
    if (ptr[q + 1] < ptr[q]) {
      throw std::invalid_argument("term ptr decreases at query " + std::to_string(q));
    }
    bool increasing = true;
    for (int64_t e = ptr[q]; e < ptr[q + 1]; ++e) {
      if (ids[e] < 1 || ids[e] >= M) {
        throw std::invalid_argument("term id " + std::to_string(ids[e]) + " at position " +
                                    std::to_string(e) + " is outside [1, " + std::to_string(M) +
                                    ")");
      }
      if (!std::isfinite(values[e])) {
        throw std::invalid_argument("term value at position " + std::to_string(e) +
                                    " is not finite");
      }
      if (e > ptr[q] && ids[e] <= ids[e - 1]) increasing = false;
    }
    if (!increasing) check_distinct_terms(ids, ptr[q], ptr[q + 1], q, seen);
  }
}

void check_shapes(int64_t Q, int64_t M, int64_t D, int64_t D_items, int threads) {
  if (D_items != D) {
    throw std::invalid_argument("queries and items must have the same number of columns");
  }
  if (Q < 1 || M < 1 || D < 1) {
    throw std::invalid_argument("queries and items must be non-empty (Q, M, D >= 1)");
  }
  if (M > std::numeric_limits<int32_t>::max() || D > std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument("M and D must be below 2**31 (ids are int32)");
  }
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
}

py::tuple topk_inner_product(py::handle queries_obj, py::handle items_obj, int64_t k,
                             py::object exclude_ptr_obj, py::object exclude_ids_obj, int threads,
                             int simd, int insert_max_k, int64_t item_block,
                             int64_t group, int64_t work_per_thread, py::object term_ptr_obj,
                             py::object term_ids_obj, py::object term_values_obj) {
  auto q = require<float>(queries_obj, "queries", 2);
  auto x = require<float>(items_obj, "items", 2);
  Problem p{};
  p.Q = q.shape(0);
  p.M = x.shape(0);
  p.D = q.shape(1);
  check_shapes(p.Q, p.M, p.D, x.shape(1), threads);
  if (k < 1 || k > p.M - 1) throw std::invalid_argument("k must be in [1, M - 1]");
  p.k = static_cast<int>(k);
  const int best = best_simd();
  if (simd < -1 || simd > kAvx512) {
    throw std::invalid_argument("simd must be -1 (auto), 0, 1 or 2");
  }
  p.simd = simd < 0 ? best : simd;
  if (p.simd > best) {
    throw std::invalid_argument(std::string("this CPU does not support the ") +
                                simd_name(p.simd) + " path");
  }
  p.insert_max_k = insert_max_k < 0 ? kDefaultInsertMaxK : insert_max_k;
  // Block and group sizes change neither a score nor a decision, only speed and memory.
  if (item_block < 0 || group < 0) {
    throw std::invalid_argument("item_block and group must be >= 0 (0 = automatic)");
  }
  if (item_block == 0) item_block = kItemBlockFloats / p.D;
  p.item_block = std::max<int64_t>(1, (item_block + kTileMultiple - 1) / kTileMultiple) *
                 kTileMultiple;
  if (group == 0) {
    // About kDefaultGroup queries, in whole wide panels.
    const int64_t wide = layout_of(p.simd, p.D).wide;
    group = (kDefaultGroup + wide - 1) / wide * wide;
    if (p.k > p.insert_max_k) {
      group = std::min(group, std::max<int64_t>(1, kMaxUnitCandidates / (2 * k)));
    }
  }
  p.group = group;
  if (p.item_block * p.D > (int64_t{1} << 28) || p.group * p.D > (int64_t{1} << 28)) {
    throw std::invalid_argument("item_block * D and group * D must be <= 2**28");
  }
  if (work_per_thread == 0 || work_per_thread < -1) {
    throw std::invalid_argument("work_per_thread must be -1 (automatic) or >= 1");
  }
  p.work_per_thread = work_per_thread == -1 ? kWorkPerThread : work_per_thread;

  py::array_t<int64_t, py::array::c_style> ptr;
  py::array_t<int32_t, py::array::c_style> ids;
  if (exclude_ptr_obj.is_none() != exclude_ids_obj.is_none()) {
    throw std::invalid_argument("give both exclude_ptr and exclude_ids, or neither");
  }
  if (!exclude_ptr_obj.is_none()) {
    ptr = require<int64_t>(exclude_ptr_obj, "exclude_ptr", 1);
    ids = require<int32_t>(exclude_ids_obj, "exclude_ids", 1);
    if (ptr.shape(0) != p.Q + 1) {
      throw std::invalid_argument("exclude_ptr must have Q + 1 entries");
    }
    check_exclusion(ptr.data(), p.Q, ids.data(), ids.shape(0), p.M);
    p.exclude.ptr = ptr.data();
    p.exclude.ids = ids.data();
  }
  py::array_t<int64_t, py::array::c_style> term_ptr;
  py::array_t<int32_t, py::array::c_style> term_ids;
  py::array_t<float, py::array::c_style> term_values;
  const int n_none = static_cast<int>(term_ptr_obj.is_none()) +
                     static_cast<int>(term_ids_obj.is_none()) +
                     static_cast<int>(term_values_obj.is_none());
  if (n_none != 0 && n_none != 3) {
    throw std::invalid_argument("give all of term_ptr, term_ids and term_values, or none");
  }
  if (n_none == 0) {
    term_ptr = require<int64_t>(term_ptr_obj, "term_ptr", 1);
    term_ids = require<int32_t>(term_ids_obj, "term_ids", 1);
    term_values = require<float>(term_values_obj, "term_values", 1);
    if (term_ptr.shape(0) != p.Q + 1) {
      throw std::invalid_argument("term_ptr must have Q + 1 entries");
    }
    if (term_values.shape(0) != term_ids.shape(0)) {
      throw std::invalid_argument("term_ids and term_values must have the same length");
    }
    {
      py::gil_scoped_release release;
      check_terms(term_ptr.data(), p.Q, term_ids.data(), term_values.data(), term_ids.shape(0),
                  p.M);
    }
    p.terms = TermLists{term_ptr.data(), term_ids.data(), term_values.data()};
  }
  p.queries = q.data();
  p.items = x.data();
  py::array_t<float> scores({p.Q, static_cast<int64_t>(p.k)});
  py::array_t<int32_t> out_ids({p.Q, static_cast<int64_t>(p.k)});
  float* s = scores.mutable_data();
  int32_t* i = out_ids.mutable_data();
  {
    py::gil_scoped_release release;
    run(p, threads, s, i);
  }
  return py::make_tuple(scores, out_ids);
}

// ==================================================== the benchmark's limit ====
// OpenBLAS sgemm of the same shapes: query_tile x item_tile score tiles, OpenMP over
// query tiles, one single-threaded sgemm per tile into a per-thread buffer, scores
// discarded.

float* sgemm_buffer(size_t n_floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < n_floats) buffer.assign(n_floats, 0.0f);
  return buffer.data();
}

void sgemm_tiles(py::handle queries_obj, py::handle items_obj, int threads, int64_t query_tile,
                 int64_t item_tile) {
  auto q = require<float>(queries_obj, "queries", 2);
  auto x = require<float>(items_obj, "items", 2);
  const int64_t Q = q.shape(0), M = x.shape(0), D = q.shape(1);
  check_shapes(Q, M, D, x.shape(1), threads);
  if (query_tile < 1 || item_tile < 1 || query_tile * item_tile > (int64_t{1} << 28)) {
    throw std::invalid_argument("tile sizes must be >= 1 with query_tile * item_tile <= 2**28");
  }
  const float* qd = q.data();
  const float* xd = x.data();
  const int64_t n_tiles = (Q + query_tile - 1) / query_tile;
  std::atomic<bool> failed{false};
  py::gil_scoped_release release;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t t = 0; t < n_tiles; ++t) {
    float* buf = nullptr;
    try {
      buf = sgemm_buffer(static_cast<size_t>(query_tile * item_tile));
    } catch (...) {
      failed.store(true);
      continue;
    }
    const int64_t q0 = t * query_tile, qn = std::min(query_tile, Q - q0);
    for (int64_t m0 = 0; m0 < M; m0 += item_tile) {
      const int64_t mn = std::min(item_tile, M - m0);
      scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(qn),
                        static_cast<blasint>(mn), static_cast<blasint>(D), 1.0f, qd + q0 * D,
                        static_cast<blasint>(D), xd + m0 * D, static_cast<blasint>(D), 0.0f, buf,
                        static_cast<blasint>(mn));
    }
  }
  if (failed.load()) {
    py::gil_scoped_acquire acquire;
    throw std::bad_alloc();
  }
}

}  // namespace

void register_topk(py::module_& m) {
  // The private OpenBLAS copy (scipy-openblas32) serves only sgemm_tiles, where the
  // parallelism is ours (OpenMP over tiles), so each sgemm call runs on one thread.
  scipy_openblas_set_num_threads(1);
  m.attr("TOPK_INSERT_MAX_K") = kDefaultInsertMaxK;
  m.def("topk_inner_product", &topk_inner_product, py::arg("queries"), py::arg("items"),
        py::arg("k"), py::arg("exclude_ptr") = py::none(), py::arg("exclude_ids") = py::none(),
        py::arg("threads") = 1, py::arg("simd") = -1, py::arg("insert_max_k") = -1,
        py::arg("item_block") = 0, py::arg("group") = 0, py::arg("work_per_thread") = -1,
        py::arg("term_ptr") = py::none(), py::arg("term_ids") = py::none(),
        py::arg("term_values") = py::none(),
        "Exact top-k by inner product (scores, ids); see paretoalign.ranking.topk.");
  m.def("sgemm_tiles", &sgemm_tiles, py::arg("queries"), py::arg("items"),
        py::arg("threads") = 1, py::arg("query_tile") = 512, py::arg("item_tile") = 512,
        "OpenBLAS sgemm of all query x item tiles, scores discarded (benchmark limit).");
  m.def(
      "topk_simd_paths",
      [] {
        py::list names;
        for (int s = kScalar; s <= best_simd(); ++s) names.append(simd_name(s));
        return names;
      },
      "Selection paths this CPU supports, index = the `simd` argument (last = default).");
  m.def(
      "topk_layout",
      [](int simd, int64_t D) {
        const Layout lay = layout_of(simd, D);
        return py::make_tuple(lay.wide, lay.narrow);
      },
      py::arg("simd"), py::arg("D"),
      "(lanes of a wide, of a narrow query panel) of a SIMD path at dimension D.");
  m.def("topk_max_threads", [] { return omp_get_max_threads(); },
        "OpenMP's default thread count (used when threads is None).");
}

}  // namespace fastmetrics
