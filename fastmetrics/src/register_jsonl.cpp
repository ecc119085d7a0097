// OTTO JSON Lines: a strict chunk parser for the fixed OTTO schema and the matching writer.
//
// One line is one session:
//   {"session": <uint>,
//    "events": [{"aid": <uint>, "ts": <uint>, "type": "clicks"|"carts"|"orders"}, ...]}
// Keys may come in any order and JSON whitespace (space, tab, CR) may appear between tokens.
// The parser accepts exactly the canonical subset of JSON that this schema needs: plain
// non-negative integers without sign, fraction or exponent, and strings without escapes. Any
// line outside that subset stops the parser with a reason code and the line's offset; the
// Python façade (paretoalign.data.otto) then hands the line to the json-based reference
// parser, which is the specification: it either explains the error (file and line) or
// accepts the line (escaped keys, "-0", ...) and appends it through append_session.
//
// Memory: events go straight into anonymous mappings that grow by mremap (no copy) and
// become the NumPy arrays returned by finish(): each byte of output is written once, and
// the peak is the output plus the caller's chunk buffer.
#include <fastmetrics/common.hpp>

#include <sys/mman.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace fastmetrics {
namespace {

// Why the fast path declined a line (diagnostic; the reference parser writes the message).
enum LineCode : int {
  kOk = 0,
  kSyntax = 1,         // not JSON, or a token the schema never has at this place
  kNotObject = 2,      // the line or an event is not a JSON object
  kMissingKey = 3,     // a required key is absent
  kUnknownKey = 4,     // a key the schema does not have
  kDuplicateKey = 5,   // a key appears twice in one object
  kNotInteger = 6,     // a number with fraction/exponent, a string, true/false/null ...
  kNegative = 7,       // a minus sign in front of an id or timestamp
  kOutOfRange = 8,     // too large for its dtype (or aid 0 without the +1 shift)
  kUnknownType = 9,    // event type not one of clicks/carts/orders
  kEmptyEvents = 10,   // "events": []
  kUnsorted = 11,      // a timestamp smaller than the previous event's
  kTrailing = 12,      // characters after the closing brace
  kUnsupported = 13,   // valid JSON outside the fast subset (escapes); the reference decides
  kBlank = 100,        // internal: a line of whitespace only (skipped)
};

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// A growable array in anonymous mmap'ed memory. Growing doubles the mapping with mremap
// (Linux: the kernel moves page tables, no byte is copied; elsewhere: map, copy, unmap),
// and release() hands the mapping itself to NumPy (a capsule unmaps it when the array
// dies), so every event is written exactly once and never copied. Pages that are never
// written are never touched, so the resident size is the used size.
template <typename T>
class GrowArray {
 public:
  GrowArray() = default;
  GrowArray(const GrowArray&) = delete;
  GrowArray& operator=(const GrowArray&) = delete;
  ~GrowArray() { unmap(data_, capacity_); }

  inline void push_back(T v) {
    if (size_ == capacity_) grow();
    data_[size_++] = v;
  }
  int64_t size() const { return size_; }
  void truncate(int64_t n) {
    if (n < size_) size_ = n;
  }

  // Move the content into a 1-D NumPy array that owns the mapping (no copy).
  py::array_t<T> release() {
    if (size_ == 0) {
      unmap(data_, capacity_);
      data_ = nullptr;
      capacity_ = 0;
      return py::array_t<T>(0);
    }
    auto* owner = new Mapping{data_, static_cast<size_t>(capacity_) * sizeof(T)};
    py::capsule base(owner, [](void* p) {
      auto* m = static_cast<Mapping*>(p);
      munmap(m->ptr, m->bytes);
      delete m;
    });
    py::array_t<T> out(static_cast<py::ssize_t>(size_), data_, base);
    data_ = nullptr;
    size_ = capacity_ = 0;
    return out;
  }

 private:
  struct Mapping {
    void* ptr;
    size_t bytes;
  };
  static constexpr int64_t kInitial = int64_t(1) << 16;  // elements

  void grow() {
    const int64_t cap = capacity_ == 0 ? kInitial : capacity_ * 2;
    const size_t old_bytes = static_cast<size_t>(capacity_) * sizeof(T);
    const size_t new_bytes = static_cast<size_t>(cap) * sizeof(T);
    void* p;
    if (data_ == nullptr) {
      p = mmap(nullptr, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    } else {
#ifdef __linux__
      p = mremap(data_, old_bytes, new_bytes, MREMAP_MAYMOVE);
#else
      p = mmap(nullptr, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED) {
        std::memcpy(p, data_, static_cast<size_t>(size_) * sizeof(T));
        munmap(data_, old_bytes);
      }
#endif
    }
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
    capacity_ = cap;
  }
  static void unmap(T* p, int64_t cap) {
    if (p != nullptr) munmap(p, static_cast<size_t>(cap) * sizeof(T));
  }

  T* data_ = nullptr;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
};

inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Cursor over one line [p, e): every read is bounds-checked against e.
struct Cursor {
  const char* p;
  const char* e;
  inline void ws() {
    while (p < e && is_ws(*p)) ++p;
  }
  inline bool eat(char c) {
    if (p < e && *p == c) {
      ++p;
      return true;
    }
    return false;
  }
};

// A string token without escapes: sets [s, s+n). Codes: kSyntax (not a string / control
// character / unterminated), kUnsupported (an escape, decoded only by the reference).
inline int read_string(Cursor& c, const char*& s, int64_t& n) {
  if (!c.eat('"')) return kSyntax;
  s = c.p;
  while (c.p < c.e) {
    const unsigned char ch = static_cast<unsigned char>(*c.p);
    if (ch == '"') {
      n = c.p - s;
      ++c.p;
      return kOk;
    }
    if (ch == '\\') return kUnsupported;
    if (ch < 0x20) return kSyntax;
    ++c.p;
  }
  return kSyntax;
}

// The code for a value that should have been an object: another JSON value or a syntax error.
inline int not_object_code(const Cursor& c) {
  if (c.p < c.e && (*c.p == '[' || *c.p == '"' || is_digit(*c.p))) return kNotObject;
  return kSyntax;
}

inline bool same(const char* s, int64_t n, const char* lit, int64_t m) {
  return n == m && std::memcmp(s, lit, static_cast<size_t>(m)) == 0;
}

// A JSON integer in [lo, hi] written as plain digits. Anything else gets the code that the
// reference parser would also reject it for (or kUnsupported for "-0", which it accepts).
inline int read_uint(Cursor& c, int64_t lo, int64_t hi, int64_t& out) {
  if (c.p >= c.e) return kSyntax;
  const char first = *c.p;
  if (first == '-') {
    // "-0" (optionally "-0.0", "-0e1") parses in JSON; let the reference decide those.
    if (c.p + 1 < c.e && c.p[1] == '0') return kUnsupported;
    return (c.p + 1 < c.e && is_digit(c.p[1])) ? kNegative : kSyntax;
  }
  if (!is_digit(first)) {
    // strings, objects, arrays, true/false/null, NaN, Infinity: not an integer
    return kNotInteger;
  }
  if (first == '0' && c.p + 1 < c.e && is_digit(c.p[1])) return kSyntax;  // leading zero
  const char* s = c.p;
  while (c.p < c.e && is_digit(*c.p)) ++c.p;
  if (c.p < c.e && (*c.p == '.' || *c.p == 'e' || *c.p == 'E')) return kNotInteger;
  const int64_t n = c.p - s;
  uint64_t v = 0;
  if (n <= 18) {  // at most 18 digits cannot overflow int64
    for (const char* q = s; q < c.p; ++q) v = v * 10 + static_cast<uint64_t>(*q - '0');
  } else {
    for (const char* q = s; q < c.p; ++q) {
      const uint64_t d = static_cast<uint64_t>(*q - '0');
      if (v > (static_cast<uint64_t>(kInt64Max) - d) / 10) return kOutOfRange;
      v = v * 10 + d;
    }
  }
  const int64_t value = static_cast<int64_t>(v);
  if (value > hi || value < lo) return kOutOfRange;
  out = value;
  return kOk;
}

class OttoParser {
 public:
  explicit OttoParser(bool shift_aid) : shift_(shift_aid ? 1 : 0) { ptr_.push_back(0); }

  // Parse every complete line of buffer[start:stop] (and the unterminated rest when final).
  // Returns (pos, code, column): code 0 -> all consumed up to pos (the start of an
  // incomplete last line, or stop); otherwise the line starting at pos was declined for
  // reason `code` at byte `column` of the line, and nothing of it was stored.
  py::tuple feed(const py::buffer& buffer, int64_t start, int64_t stop, bool final) {
    py::buffer_info info = buffer.request();
    if (info.ndim != 1 || info.itemsize != 1) {
      throw std::invalid_argument("feed: buffer must be a 1-D byte buffer");
    }
    if (info.strides.size() == 1 && info.strides[0] != 1) {
      throw std::invalid_argument("feed: buffer must be contiguous");
    }
    const int64_t size = static_cast<int64_t>(info.size);
    if (start < 0 || stop < start || stop > size) {
      throw std::invalid_argument("feed: need 0 <= start <= stop <= len(buffer)");
    }
    const char* base = static_cast<const char*>(info.ptr);
    int64_t pos = start;
    int code = kOk;
    int64_t column = 0;
    {
      py::gil_scoped_release nogil;
      while (pos < stop) {
        const char* ls = base + pos;
        const void* nlv = std::memchr(ls, '\n', static_cast<size_t>(stop - pos));
        const char* nl = static_cast<const char*>(nlv);
        if (nl == nullptr && !final) break;
        const char* le = nl != nullptr ? nl : base + stop;
        const char* where = ls;
        const int c = parse_line(ls, le, where);
        if (c == kBlank) {
          note_gap(lines_ + 1);
        } else if (c != kOk) {
          code = c;
          column = where - ls;
          break;
        }
        ++lines_;
        pos = nl != nullptr ? (nl - base) + 1 : stop;
      }
    }
    return py::make_tuple(pos, code, column);
  }

  // Count one line that holds no session (skipped by the caller).
  void skip_line() { note_gap(++lines_); }

  // Append one session accepted by the reference parser (ids already shifted).
  void append_session(int64_t session_id, const py::handle& aid_obj, const py::handle& ts_obj,
                      const py::handle& type_obj) {
    auto aid = require<int32_t>(aid_obj, "aid", 1);
    auto ts = require<int64_t>(ts_obj, "ts", 1);
    auto typ = require<int8_t>(type_obj, "type", 1);
    const int64_t n = aid.shape(0);
    if (ts.shape(0) != n || typ.shape(0) != n) {
      throw std::invalid_argument("append_session: aid, ts and type must have the same length");
    }
    if (n == 0) throw std::invalid_argument("append_session: a session needs an event");
    if (session_id < 0) throw std::invalid_argument("append_session: negative session id");
    const int32_t* a = aid.data();
    const int64_t* t = ts.data();
    const int8_t* y = typ.data();
    for (int64_t i = 0; i < n; ++i) {
      if (a[i] < 1) throw std::invalid_argument("append_session: aid must be >= 1");
      if (t[i] < 0 || (i > 0 && t[i] < t[i - 1])) {
        throw std::invalid_argument("append_session: ts must be non-negative and sorted");
      }
      if (y[i] < 0 || y[i] > 2) throw std::invalid_argument("append_session: unknown type");
    }
    for (int64_t i = 0; i < n; ++i) {
      aid_.push_back(a[i]);
      ts_.push_back(t[i]);
      type_.push_back(y[i]);
      max_aid_ = std::max<int64_t>(max_aid_, a[i]);
    }
    sid_.push_back(session_id);
    ptr_.push_back(aid_.size());
    ++lines_;
  }

  int64_t lines() const { return lines_; }
  int64_t sessions() const { return sid_.size(); }
  int64_t events() const { return aid_.size(); }

  // Hand the arrays over as a dict (the parser is empty afterwards).
  py::dict finish() {
    py::dict out;
    out["max_aid"] = max_aid_;
    out["gap_start"] = to_array(gap_start_);
    out["gap_count"] = to_array(gap_count_);
    out["session_ptr"] = ptr_.release();
    out["session_id"] = sid_.release();
    out["aid"] = aid_.release();
    out["ts"] = ts_.release();
    out["type"] = type_.release();
    ptr_.push_back(0);
    gap_start_.clear();
    gap_count_.clear();
    max_aid_ = 0;
    return out;
  }

 private:
  static py::array_t<int64_t> to_array(const std::vector<int64_t>& v) {
    py::array_t<int64_t> a(static_cast<py::ssize_t>(v.size()));
    if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(int64_t));
    return a;
  }

  // Lines without a session, run-length encoded (start line, count); 1-based line numbers.
  void note_gap(int64_t line) {
    if (!gap_start_.empty() && gap_start_.back() + gap_count_.back() == line) {
      ++gap_count_.back();
    } else {
      gap_start_.push_back(line);
      gap_count_.push_back(1);
    }
  }

  // Parse one line [ls, le). On success the session is stored; on failure nothing is
  // stored and `where` points at the offending byte.
  int parse_line(const char* ls, const char* le, const char*& where) {
    Cursor c{ls, le};
    c.ws();
    if (c.p == c.e) return kBlank;
    const int64_t ev0 = aid_.size();
    int64_t sid = -1;
    line_max_aid_ = 0;
    const int code = parse_session(c, sid);
    where = c.p;
    if (code != kOk) {
      aid_.truncate(ev0);
      ts_.truncate(ev0);
      type_.truncate(ev0);
      return code;
    }
    sid_.push_back(sid);
    ptr_.push_back(aid_.size());
    if (line_max_aid_ > max_aid_) max_aid_ = line_max_aid_;
    return kOk;
  }

  int parse_session(Cursor& c, int64_t& sid) {
    if (!c.eat('{')) return not_object_code(c);
    bool have_session = false, have_events = false;
    c.ws();
    if (c.eat('}')) return kMissingKey;
    while (true) {
      c.ws();
      const char* key;
      int64_t klen = 0;
      int r = read_string(c, key, klen);
      if (r != kOk) return r;
      c.ws();
      if (!c.eat(':')) return kSyntax;
      c.ws();
      if (same(key, klen, "session", 7)) {
        if (have_session) return kDuplicateKey;
        have_session = true;
        r = read_uint(c, 0, kInt64Max, sid);
        if (r != kOk) return r;
      } else if (same(key, klen, "events", 6)) {
        if (have_events) return kDuplicateKey;
        have_events = true;
        r = parse_events(c);
        if (r != kOk) return r;
      } else {
        return kUnknownKey;
      }
      c.ws();
      if (c.eat(',')) continue;
      if (c.eat('}')) break;
      return kSyntax;
    }
    if (!have_session || !have_events) return kMissingKey;
    c.ws();
    if (c.p != c.e) return kTrailing;
    return kOk;
  }

  int parse_events(Cursor& c) {
    if (!c.eat('[')) return kSyntax;
    c.ws();
    if (c.eat(']')) return kEmptyEvents;
    int64_t prev_ts = -1;
    while (true) {
      c.ws();
      const int r = parse_event(c, prev_ts);
      if (r != kOk) return r;
      c.ws();
      if (c.eat(',')) continue;
      if (c.eat(']')) return kOk;
      return kSyntax;
    }
  }

  // The spelling of the OTTO files, {"aid":N,"ts":N,"type":"name"} without whitespace,
  // checked with a few memcmp calls. Returns -1 with the cursor untouched when the event
  // is spelled otherwise (or is invalid): the general parser then decides.
  inline int parse_event_canonical(Cursor& c, int64_t& prev_ts) {
    const char* e = c.e;
    if (e - c.p < 31 || std::memcmp(c.p, "{\"aid\":", 7) != 0) return -1;
    Cursor k{c.p + 7, e};
    int64_t aid = 0, ts = 0;
    if (read_uint(k, 1 - shift_, kInt32Max - shift_, aid) != kOk) return -1;
    if (e - k.p < 6 || std::memcmp(k.p, ",\"ts\":", 6) != 0) return -1;
    k.p += 6;
    if (read_uint(k, 0, kInt64Max, ts) != kOk) return -1;
    if (e - k.p < 9 || std::memcmp(k.p, ",\"type\":\"", 9) != 0) return -1;
    k.p += 9;
    int8_t type;
    if (e - k.p >= 8 && std::memcmp(k.p, "clicks\"}", 8) == 0) {
      type = 0;
      k.p += 8;
    } else if (e - k.p >= 7 && std::memcmp(k.p, "carts\"}", 7) == 0) {
      type = 1;
      k.p += 7;
    } else if (e - k.p >= 8 && std::memcmp(k.p, "orders\"}", 8) == 0) {
      type = 2;
      k.p += 8;
    } else {
      return -1;
    }
    if (ts < prev_ts) return -1;
    prev_ts = ts;
    store_event(aid, ts, type);
    c.p = k.p;
    return kOk;
  }

  inline void store_event(int64_t aid, int64_t ts, int8_t type) {
    const int64_t shifted = aid + shift_;
    aid_.push_back(static_cast<int32_t>(shifted));
    ts_.push_back(ts);
    type_.push_back(type);
    if (shifted > line_max_aid_) line_max_aid_ = shifted;
  }

  int parse_event(Cursor& c, int64_t& prev_ts) {
    if (parse_event_canonical(c, prev_ts) == kOk) return kOk;
    if (!c.eat('{')) return not_object_code(c);
    int64_t aid = -1, ts = -1;
    int type = -1;
    c.ws();
    if (c.eat('}')) return kMissingKey;
    while (true) {
      c.ws();
      const char* key;
      int64_t klen = 0;
      int r = read_string(c, key, klen);
      if (r != kOk) return r;
      c.ws();
      if (!c.eat(':')) return kSyntax;
      c.ws();
      if (same(key, klen, "aid", 3)) {
        if (aid >= 0) return kDuplicateKey;
        r = read_uint(c, 1 - shift_, kInt32Max - shift_, aid);
        if (r != kOk) return r;
      } else if (same(key, klen, "ts", 2)) {
        if (ts >= 0) return kDuplicateKey;
        r = read_uint(c, 0, kInt64Max, ts);
        if (r != kOk) return r;
      } else if (same(key, klen, "type", 4)) {
        if (type >= 0) return kDuplicateKey;
        const char* s;
        int64_t n = 0;
        if (c.p < c.e && *c.p != '"') return kUnknownType;
        r = read_string(c, s, n);
        if (r != kOk) return r;
        if (same(s, n, "clicks", 6)) {
          type = 0;
        } else if (same(s, n, "carts", 5)) {
          type = 1;
        } else if (same(s, n, "orders", 6)) {
          type = 2;
        } else {
          return kUnknownType;
        }
      } else {
        return kUnknownKey;
      }
      c.ws();
      if (c.eat(',')) continue;
      if (c.eat('}')) break;
      return kSyntax;
    }
    if (aid < 0 || ts < 0 || type < 0) return kMissingKey;
    if (ts < prev_ts) return kUnsorted;
    prev_ts = ts;
    store_event(aid, ts, static_cast<int8_t>(type));
    return kOk;
  }

  const int64_t shift_;
  int64_t lines_ = 0;
  int64_t max_aid_ = 0;       // largest stored (shifted) aid
  int64_t line_max_aid_ = 0;  // largest aid of the line being parsed (committed on success)
  GrowArray<int64_t> ptr_;
  GrowArray<int64_t> sid_;
  GrowArray<int32_t> aid_;
  GrowArray<int64_t> ts_;
  GrowArray<int8_t> type_;
  std::vector<int64_t> gap_start_;
  std::vector<int64_t> gap_count_;
};

inline char* put_int(char* p, int64_t v) {
  return std::to_chars(p, p + 20, v).ptr;  // 20 chars hold any int64
}

// Sessions [s_lo, s_hi) of a CSR log as OTTO lines (compact separators, one '\n' each).
py::bytes format_otto_lines(py::handle ptr_obj, py::handle sid_obj, py::handle aid_obj,
                            py::handle ts_obj, py::handle type_obj, int64_t s_lo, int64_t s_hi,
                            int64_t aid_offset) {
  auto ptr = require<int64_t>(ptr_obj, "session_ptr", 1);
  auto sid = require<int64_t>(sid_obj, "session_id", 1);
  auto aid = require<int32_t>(aid_obj, "aid", 1);
  auto ts = require<int64_t>(ts_obj, "ts", 1);
  auto typ = require<int8_t>(type_obj, "type", 1);
  const int64_t n_sessions = ptr.shape(0) - 1;
  const int64_t n_events = aid.shape(0);
  if (n_sessions < 0 || sid.shape(0) != n_sessions) {
    throw std::invalid_argument("session_id must have len(session_ptr) - 1 entries");
  }
  if (ts.shape(0) != n_events || typ.shape(0) != n_events) {
    throw std::invalid_argument("aid, ts and type must have the same length");
  }
  if (s_lo < 0 || s_hi < s_lo || s_hi > n_sessions) {
    throw std::invalid_argument("need 0 <= s_lo <= s_hi <= number of sessions");
  }
  const int64_t* p = ptr.data();
  const int64_t* si = sid.data();
  const int32_t* a = aid.data();
  const int64_t* t = ts.data();
  const int8_t* y = typ.data();
  for (int64_t s = s_lo; s < s_hi; ++s) {
    if (p[s] < 0 || p[s + 1] <= p[s] || p[s + 1] > n_events) {
      throw std::invalid_argument("session_ptr must be increasing within [0, n_events]");
    }
  }
  if (s_hi == s_lo) return py::bytes("");
  const int64_t e_lo = p[s_lo], e_hi = p[s_hi];
  for (int64_t e = e_lo; e < e_hi; ++e) {
    if (y[e] < 0 || y[e] > 2) throw std::invalid_argument("type must be 0, 1 or 2");
  }
  static const char* const kNames[3] = {"clicks", "carts", "orders"};
  static const int kLens[3] = {6, 5, 6};
  // Upper bound: per session 34 bytes + 20 digits, per event 36 bytes + 2 x 20 digits + name.
  const size_t bound =
      static_cast<size_t>(s_hi - s_lo) * 56 + static_cast<size_t>(e_hi - e_lo) * 84;
  std::string buf(bound, '\0');
  char* o = buf.data();
  {
    py::gil_scoped_release nogil;
    for (int64_t s = s_lo; s < s_hi; ++s) {
      std::memcpy(o, "{\"session\":", 11);
      o = put_int(o + 11, si[s]);
      std::memcpy(o, ",\"events\":[", 11);
      o += 11;
      for (int64_t e = p[s]; e < p[s + 1]; ++e) {
        if (e > p[s]) *o++ = ',';
        std::memcpy(o, "{\"aid\":", 7);
        o = put_int(o + 7, static_cast<int64_t>(a[e]) - aid_offset);
        std::memcpy(o, ",\"ts\":", 6);
        o = put_int(o + 6, t[e]);
        std::memcpy(o, ",\"type\":\"", 9);
        o += 9;
        std::memcpy(o, kNames[y[e]], static_cast<size_t>(kLens[y[e]]));
        o += kLens[y[e]];
        std::memcpy(o, "\"}", 2);
        o += 2;
      }
      std::memcpy(o, "]}\n", 3);
      o += 3;
    }
  }
  return py::bytes(buf.data(), static_cast<size_t>(o - buf.data()));
}

}  // namespace

void register_jsonl(py::module_& m) {
  py::class_<OttoParser>(m, "OttoParser",
                         "Strict chunk parser of OTTO JSON Lines (fast path; see otto.py).")
      .def(py::init<bool>(), py::arg("shift_aid"))
      .def("feed", &OttoParser::feed, py::arg("buffer"), py::arg("start"), py::arg("stop"),
           py::arg("final"),
           "Parse the complete lines of buffer[start:stop]; returns (pos, code, column).")
      .def("skip_line", &OttoParser::skip_line, "Count one line that holds no session.")
      .def("append_session", &OttoParser::append_session, py::arg("session_id"), py::arg("aid"),
           py::arg("ts"), py::arg("type"), "Append one session parsed elsewhere.")
      .def_property_readonly("lines", &OttoParser::lines)
      .def_property_readonly("sessions", &OttoParser::sessions)
      .def_property_readonly("events", &OttoParser::events)
      .def("finish", &OttoParser::finish, "Hand over the arrays (the parser is emptied).");
  m.def("format_otto_lines", &format_otto_lines, py::arg("session_ptr"), py::arg("session_id"),
        py::arg("aid"), py::arg("ts"), py::arg("type"), py::arg("s_lo"), py::arg("s_hi"),
        py::arg("aid_offset"),
        "Sessions [s_lo, s_hi) as OTTO JSON lines (bytes), aid written as aid - aid_offset.");
}

}  // namespace fastmetrics
