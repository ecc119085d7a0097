// Exact top-k by inner product: tiled OpenBLAS sgemm + a vectorised threshold filter.
//
// For every query q and item j the score is s(q, j) = <queries[q], items[j]>. The result
// of query q is its k best items under the strict total order
//     (s, j) before (s', j')  <=>  s > s'  or  (s == s' and j < j'),
// with item 0 (padding) and the query's excluded items never returned. When fewer than k
// items are eligible, the trailing slots are filled with score -inf and id -1.
//
// Plan. Queries are cut into tiles of `query_tile` rows, items into tiles of `item_tile`
// rows; both grids are fixed by the shapes alone. For one (query tile, item tile) pair a
// single-threaded sgemm writes the scores into a per-thread buffer that is reused for
// the whole run (it stays in L2 for the default sizes), padding/excluded entries are
// overwritten with -inf, and each row is scanned in item order: a SIMD compare against
// the row's current k-th best score rejects almost everything; the rare survivors go to
// a scalar sink (a sorted insertion array for small k, a 2k candidate buffer compacted
// with nth_element for large k). Work units (query tile x item chunk) run under OpenMP;
// several item chunks per query tile are used only when there are too few query tiles to
// keep every thread busy, and their partial lists are merged exactly. Every score comes
// from the same sgemm call whatever the thread count, and the top-k under a strict total
// order is unique, so the output is bitwise identical for any number of threads.
#include <fastmetrics/common.hpp>

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <vector>

extern "C" void scipy_openblas_set_num_threads(int num_threads);

namespace fastmetrics {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Above this k the sorted-insertion sink (O(k) per accepted candidate) gives way to
// the buffered sink (amortised O(1) per candidate plus a final O(k log k) sort).
constexpr int kDefaultInsertMaxK = 64;
constexpr int64_t kDefaultQueryTile = 256;
constexpr int64_t kDefaultItemTile = 2048;
// Cap on the candidate buffers of one work unit (query_tile x 2k entries): for very
// large k the query tile shrinks (a function of the shapes and k only, never of the
// thread count, so results stay identical across thread counts).
constexpr int64_t kMaxUnitCandidates = int64_t{1} << 22;

struct Entry {
  float score;
  int32_t id;
};

// The result order: higher score first, then lower id (strict total order on ids).
inline bool better(const Entry& a, const Entry& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// ===================================================================== sinks ====
// A sink receives, for one query, the candidates of one row scan in increasing item id
// and exposes `threshold()`: a candidate can enter only if its score is strictly above
// it (an equal score never wins, since every id seen before is lower).

// Sorted arrays (score desc, id asc) of length k, pre-filled with (-inf, -1).
struct InsertSink {
  float* scores;
  int32_t* ids;
  int k;
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
  void finish() {
    const int m = std::min(n, k);
    std::partial_sort(buf, buf + m, buf + n, better);
    for (int i = 0; i < m; ++i) {
      out_scores[i] = buf[i].score;
      out_ids[i] = buf[i].id;
    }
    for (int i = m; i < k; ++i) {
      out_scores[i] = kNegInf;
      out_ids[i] = -1;
    }
  }
};

// ============================================================ row scanners ====
// Feed the entries s[0..n) (item ids base..base+n) that beat the threshold to the sink,
// in id order. The vector versions only decide which lanes to look at; the decision per
// entry is the same scalar comparison `v > thr`, so all three give identical results.

template <class Sink>
void scan_scalar(const float* s, int64_t n, int32_t base, Sink& sink) {
  float thr = sink.threshold();
  for (int64_t j = 0; j < n; ++j) {
    const float v = s[j];
    if (v > thr) thr = sink.push(v, base + static_cast<int32_t>(j));
  }
}

template <class Sink>
__attribute__((target("avx2"))) void scan_avx2(const float* s, int64_t n, int32_t base,
                                                Sink& sink) {
  float thr = sink.threshold();
  __m256 vt = _mm256_set1_ps(thr);
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m256 a = _mm256_cmp_ps(_mm256_loadu_ps(s + j), vt, _CMP_GT_OQ);
    const __m256 b = _mm256_cmp_ps(_mm256_loadu_ps(s + j + 8), vt, _CMP_GT_OQ);
    const __m256 c = _mm256_cmp_ps(_mm256_loadu_ps(s + j + 16), vt, _CMP_GT_OQ);
    const __m256 d = _mm256_cmp_ps(_mm256_loadu_ps(s + j + 24), vt, _CMP_GT_OQ);
    const __m256 any = _mm256_or_ps(_mm256_or_ps(a, b), _mm256_or_ps(c, d));
    if (__builtin_expect(!_mm256_testz_ps(any, any), 0)) {
      uint32_t m = static_cast<uint32_t>(_mm256_movemask_ps(a)) |
                   (static_cast<uint32_t>(_mm256_movemask_ps(b)) << 8) |
                   (static_cast<uint32_t>(_mm256_movemask_ps(c)) << 16) |
                   (static_cast<uint32_t>(_mm256_movemask_ps(d)) << 24);
      while (m) {
        const int lane = __builtin_ctz(m);
        m &= m - 1;
        const float v = s[j + lane];
        if (v > thr) thr = sink.push(v, base + static_cast<int32_t>(j + lane));
      }
      vt = _mm256_set1_ps(thr);
    }
  }
  for (; j < n; ++j) {
    const float v = s[j];
    if (v > thr) thr = sink.push(v, base + static_cast<int32_t>(j));
  }
}

template <class Sink>
__attribute__((target("avx512f"))) void scan_avx512(const float* s, int64_t n, int32_t base,
                                                     Sink& sink) {
  float thr = sink.threshold();
  __m512 vt = _mm512_set1_ps(thr);
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    const __mmask16 a = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j), vt, _CMP_GT_OQ);
    const __mmask16 b = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 16), vt, _CMP_GT_OQ);
    const __mmask16 c = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 32), vt, _CMP_GT_OQ);
    const __mmask16 d = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 48), vt, _CMP_GT_OQ);
    uint64_t m = static_cast<uint64_t>(a) | (static_cast<uint64_t>(b) << 16) |
                 (static_cast<uint64_t>(c) << 32) | (static_cast<uint64_t>(d) << 48);
    if (__builtin_expect(m != 0, 0)) {
      while (m) {
        const int lane = __builtin_ctzll(m);
        m &= m - 1;
        const float v = s[j + lane];
        if (v > thr) thr = sink.push(v, base + static_cast<int32_t>(j + lane));
      }
      vt = _mm512_set1_ps(thr);
    }
  }
  for (; j < n; ++j) {
    const float v = s[j];
    if (v > thr) thr = sink.push(v, base + static_cast<int32_t>(j));
  }
}

enum Simd : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

int best_simd() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return kAvx512;
  if (__builtin_cpu_supports("avx2")) return kAvx2;
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

template <class Sink>
inline void scan(int simd, const float* s, int64_t n, int32_t base, Sink& sink) {
  switch (simd) {
    case kAvx512:
      scan_avx512(s, n, base, sink);
      break;
    case kAvx2:
      scan_avx2(s, n, base, sink);
      break;
    default:
      scan_scalar(s, n, base, sink);
  }
}

// ============================================================== the driver ====

struct Problem {
  const float* queries;  // Q x D, C order
  const float* items;    // M x D, C order
  int64_t Q, M, D;
  int k;
  const int64_t* ex_ptr;  // Q + 1 offsets, or nullptr
  const int32_t* ex_ids;  // sorted within each query, values in [0, M)
  int64_t query_tile, item_tile;
  int simd;
  int insert_max_k;
  bool select;  // false: sgemm only (the benchmark's `limit`)
};

// The score buffer of the calling thread: allocated once per thread and reused across
// calls, since first touch of fresh pages is expensive. OpenMP worker threads persist,
// so their buffers do too (at most query_tile x item_tile floats per thread).
float* thread_buffer(size_t n_floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < n_floats) buffer.assign(n_floats, 0.0f);
  return buffer.data();
}

Entry* thread_candidates(size_t n_entries) {
  thread_local std::vector<Entry> cands;
  if (cands.size() < n_entries) cands.assign(n_entries, Entry{kNegInf, -1});
  return cands.data();
}

// Scores of rows [q0, q0+qn) x items [m0, m0+mn) into buf (leading dimension mn), with
// item 0 and the excluded items set to -inf.
void score_tile(const Problem& p, int64_t q0, int64_t qn, int64_t m0, int64_t mn, float* buf) {
  scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(qn),
              static_cast<blasint>(mn), static_cast<blasint>(p.D), 1.0f, p.queries + q0 * p.D,
              static_cast<blasint>(p.D), p.items + m0 * p.D, static_cast<blasint>(p.D), 0.0f,
              buf, static_cast<blasint>(mn));
  if (!p.select) return;
  if (m0 == 0) {
    for (int64_t r = 0; r < qn; ++r) buf[r * mn] = kNegInf;
  }
  if (p.ex_ptr != nullptr) {
    for (int64_t r = 0; r < qn; ++r) {
      const int32_t* lo = p.ex_ids + p.ex_ptr[q0 + r];
      const int32_t* hi = p.ex_ids + p.ex_ptr[q0 + r + 1];
      const int32_t* it = std::lower_bound(lo, hi, static_cast<int32_t>(m0));
      for (; it != hi && *it < m0 + mn; ++it) buf[r * mn + (*it - m0)] = kNegInf;
    }
  }
}

// One work unit: query rows [q0, q0+qn) against items [c0, c1) (c0 a multiple of the
// item tile), writing sorted top-k lists to out_scores/out_ids (row stride k).
void run_unit(const Problem& p, int64_t q0, int64_t qn, int64_t c0, int64_t c1,
              float* out_scores, int32_t* out_ids) {
  const int k = p.k;
  float* buf = thread_buffer(static_cast<size_t>(p.query_tile * p.item_tile));
  const bool insert = k <= p.insert_max_k;
  std::vector<BufferSink> bsinks;
  if (p.select) {
    if (insert) {
      std::fill(out_scores, out_scores + qn * k, kNegInf);
      std::fill(out_ids, out_ids + qn * k, -1);
    } else {
      Entry* cands = thread_candidates(static_cast<size_t>(qn) * 2 * k);
      bsinks.reserve(qn);
      for (int64_t r = 0; r < qn; ++r) {
        bsinks.push_back(BufferSink{cands + r * 2 * k, 0, k, kNegInf, out_scores + r * k,
                                    out_ids + r * k});
      }
    }
  }
  for (int64_t m0 = c0; m0 < c1; m0 += p.item_tile) {
    const int64_t mn = std::min(p.item_tile, c1 - m0);
    score_tile(p, q0, qn, m0, mn, buf);
    if (!p.select) continue;
    for (int64_t r = 0; r < qn; ++r) {
      if (insert) {
        InsertSink sink{out_scores + r * k, out_ids + r * k, k};
        scan(p.simd, buf + r * mn, mn, static_cast<int32_t>(m0), sink);
      } else {
        scan(p.simd, buf + r * mn, mn, static_cast<int32_t>(m0), bsinks[r]);
      }
    }
  }
  for (auto& sink : bsinks) sink.finish();
}

// Merge the n_chunks sorted partial lists of one query (chunk c at parts + c * stride)
// into out; every list is sorted by `better`, fillers (-inf, -1) sort last.
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

void run(const Problem& p, int threads, float* out_scores, int32_t* out_ids) {
  const int64_t n_qtiles = (p.Q + p.query_tile - 1) / p.query_tile;
  const int64_t n_itiles = (p.M + p.item_tile - 1) / p.item_tile;
  // Split the catalogue only when the query tiles alone cannot feed every thread.
  int64_t n_chunks = 1;
  if (threads > 1 && n_qtiles < 2 * threads) {
    n_chunks = std::min<int64_t>(n_itiles, (4 * threads + n_qtiles - 1) / n_qtiles);
  }
  const int64_t tiles_per_chunk = (n_itiles + n_chunks - 1) / n_chunks;
  n_chunks = (n_itiles + tiles_per_chunk - 1) / tiles_per_chunk;
  const int64_t chunk_items = tiles_per_chunk * p.item_tile;
  const int64_t n_units = n_qtiles * n_chunks;
  const int64_t stride = p.Q * p.k;  // one chunk's partial results

  std::vector<float> part_s;
  std::vector<int32_t> part_i;
  if (n_chunks > 1 && p.select) {
    part_s.resize(static_cast<size_t>(n_chunks * stride));
    part_i.resize(static_cast<size_t>(n_chunks * stride));
  }
  std::atomic<bool> failed{false};
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < n_units; ++u) {
      if (failed.load(std::memory_order_relaxed)) continue;
      const int64_t t = u / n_chunks, c = u % n_chunks;
      const int64_t q0 = t * p.query_tile, qn = std::min(p.query_tile, p.Q - q0);
      const int64_t c0 = c * chunk_items, c1 = std::min(p.M, c0 + chunk_items);
      float* os = nullptr;
      int32_t* oi = nullptr;
      if (p.select) {
        os = (n_chunks > 1 ? part_s.data() + c * stride : out_scores) + q0 * p.k;
        oi = (n_chunks > 1 ? part_i.data() + c * stride : out_ids) + q0 * p.k;
      }
      try {
        run_unit(p, q0, qn, c0, c1, os, oi);
      } catch (...) {
        failed.store(true);
      }
    }
    if (n_chunks > 1 && p.select && !failed.load()) {
      std::vector<Entry> acc, tmp;
      acc.reserve(p.k);
      tmp.reserve(p.k);
#pragma omp for schedule(static)
      for (int64_t q = 0; q < p.Q; ++q) {
        merge_query(part_s.data() + q * p.k, part_i.data() + q * p.k, stride, n_chunks, p.k,
                    out_scores + q * p.k, out_ids + q * p.k, acc, tmp);
      }
    }
  }
  if (failed.load()) throw std::bad_alloc();
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

Problem make_problem(const py::array_t<float, py::array::c_style>& q,
                     const py::array_t<float, py::array::c_style>& x, int64_t k, int threads,
                     int64_t query_tile, int64_t item_tile, int simd, bool select) {
  Problem p{};
  p.Q = q.shape(0);
  p.M = x.shape(0);
  p.D = q.shape(1);
  if (x.shape(1) != p.D) {
    throw std::invalid_argument("queries and items must have the same number of columns");
  }
  if (p.Q < 1 || p.M < 1 || p.D < 1) {
    throw std::invalid_argument("queries and items must be non-empty (Q, M, D >= 1)");
  }
  if (p.M > std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument("at most 2**31 - 1 items (ids are int32)");
  }
  if (p.D > std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument("D must be below 2**31");
  }
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  if (query_tile < 1 || item_tile < 1 || query_tile * item_tile > (int64_t{1} << 28)) {
    throw std::invalid_argument("tile sizes must be >= 1 with query_tile * item_tile <= 2**28");
  }
  if (select && (k < 1 || k > p.M - 1)) {
    throw std::invalid_argument("k must be in [1, M - 1]");
  }
  const int best = best_simd();
  if (simd < 0) simd = best;
  if (simd > kAvx512) throw std::invalid_argument("simd must be -1 (auto), 0, 1 or 2");
  if (simd > best) {
    throw std::invalid_argument(std::string("this CPU does not support the ") + simd_name(simd) +
                                " selection path");
  }
  p.queries = q.data();
  p.items = x.data();
  p.k = static_cast<int>(k);
  p.query_tile = query_tile;
  if (select && p.query_tile * 2 * p.k > kMaxUnitCandidates) {
    p.query_tile = std::max<int64_t>(1, kMaxUnitCandidates / (2 * p.k));
  }
  p.item_tile = item_tile;
  p.simd = simd;
  p.insert_max_k = kDefaultInsertMaxK;
  p.select = select;
  return p;
}

py::tuple topk_inner_product(py::handle queries_obj, py::handle items_obj, int64_t k,
                             py::object exclude_ptr_obj, py::object exclude_ids_obj, int threads,
                             int64_t query_tile, int64_t item_tile, int simd,
                             int insert_max_k) {
  auto q = require<float>(queries_obj, "queries", 2);
  auto x = require<float>(items_obj, "items", 2);
  Problem p = make_problem(q, x, k, threads, query_tile, item_tile, simd, true);
  if (insert_max_k >= 0) p.insert_max_k = insert_max_k;
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
    p.ex_ptr = ptr.data();
    p.ex_ids = ids.data();
  }
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

void sgemm_tiles(py::handle queries_obj, py::handle items_obj, int threads, int64_t query_tile,
                 int64_t item_tile) {
  auto q = require<float>(queries_obj, "queries", 2);
  auto x = require<float>(items_obj, "items", 2);
  Problem p = make_problem(q, x, 1, threads, query_tile, item_tile, kScalar, false);
  py::gil_scoped_release release;
  run(p, threads, nullptr, nullptr);
}

}  // namespace

void register_topk(py::module_& m) {
  // Our private copy of OpenBLAS (scipy-openblas32) runs one thread per call: the
  // parallelism is ours (OpenMP over tiles), each thread calling a single-threaded sgemm.
  scipy_openblas_set_num_threads(1);
  m.attr("TOPK_QUERY_TILE") = kDefaultQueryTile;
  m.attr("TOPK_ITEM_TILE") = kDefaultItemTile;
  m.attr("TOPK_INSERT_MAX_K") = kDefaultInsertMaxK;
  m.def("topk_inner_product", &topk_inner_product, py::arg("queries"), py::arg("items"),
        py::arg("k"), py::arg("exclude_ptr") = py::none(), py::arg("exclude_ids") = py::none(),
        py::arg("threads") = 1, py::arg("query_tile") = kDefaultQueryTile,
        py::arg("item_tile") = kDefaultItemTile, py::arg("simd") = -1,
        py::arg("insert_max_k") = -1,
        "Exact top-k by inner product (scores, ids); see paretoalign.ranking.topk.");
  m.def("sgemm_tiles", &sgemm_tiles, py::arg("queries"), py::arg("items"),
        py::arg("threads") = 1, py::arg("query_tile") = kDefaultQueryTile,
        py::arg("item_tile") = kDefaultItemTile,
        "The sgemm calls of topk_inner_product alone, scores discarded (benchmark limit).");
  m.def(
      "topk_simd_paths", [] {
        py::list names;
        for (int s = kScalar; s <= best_simd(); ++s) names.append(simd_name(s));
        return names;
      },
      "Selection paths this CPU supports, index = the `simd` argument (last = default).");
  m.def("topk_max_threads", [] { return omp_get_max_threads(); },
        "OpenMP's default thread count (used when threads is None).");
}

}  // namespace fastmetrics
