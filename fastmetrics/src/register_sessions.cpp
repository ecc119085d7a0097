// Kernels over session logs stored as CSR arrays (session_ptr, aid, ts, type).
#include <fastmetrics/common.hpp>

#include <cstdint>

namespace fastmetrics {
namespace {

// Codes returned by check_session_log; the Python façade turns them into messages.
enum CheckCode : int {
  kOk = 0,
  kPtrStart = 1,       // session_ptr[0] != 0
  kPtrEnd = 2,         // session_ptr[-1] != n_events
  kPtrEmpty = 3,       // session_ptr[s+1] <= session_ptr[s] (empty or decreasing session)
  kAidRange = 4,       // aid outside [1, n_items]
  kTypeUnknown = 5,    // type not in {0, 1, 2}
  kTsUnsorted = 6,     // ts decreases within a session
};

// Validate a CSR session log in one pass. Returns (code, index): index is the session
// for pointer errors and the event for event errors; (0, -1) when valid.
py::tuple check_session_log(py::handle ptr_obj, py::handle aid_obj, py::handle ts_obj,
                            py::handle type_obj, int64_t n_items) {
  auto ptr = require<int64_t>(ptr_obj, "session_ptr", 1);
  auto aid = require<int32_t>(aid_obj, "aid", 1);
  auto ts = require<int64_t>(ts_obj, "ts", 1);
  auto typ = require<int8_t>(type_obj, "type", 1);
  const int64_t n_events = aid.shape(0);
  if (ts.shape(0) != n_events || typ.shape(0) != n_events) {
    throw std::invalid_argument("aid, ts and type must have the same length");
  }
  if (ptr.shape(0) < 1) {
    throw std::invalid_argument("session_ptr must have at least one entry");
  }
  const int64_t n_sessions = ptr.shape(0) - 1;
  const int64_t* p = ptr.data();
  const int32_t* a = aid.data();
  const int64_t* t = ts.data();
  const int8_t* y = typ.data();
  int code = kOk;
  int64_t where = -1;
  {
    py::gil_scoped_release release;
    if (p[0] != 0) {
      code = kPtrStart;
      where = 0;
    } else if (p[n_sessions] != n_events) {
      code = kPtrEnd;
      where = n_sessions;
    } else {
      for (int64_t s = 0; s < n_sessions && code == kOk; ++s) {
        const int64_t lo = p[s], hi = p[s + 1];
        if (hi <= lo || hi > n_events) {
          code = kPtrEmpty;
          where = s;
          break;
        }
        for (int64_t e = lo; e < hi; ++e) {
          if (a[e] < 1 || a[e] > n_items) {
            code = kAidRange;
            where = e;
            break;
          }
          if (y[e] < 0 || y[e] > 2) {
            code = kTypeUnknown;
            where = e;
            break;
          }
          if (e > lo && t[e] < t[e - 1]) {
            code = kTsUnsorted;
            where = e;
            break;
          }
        }
      }
    }
  }
  return py::make_tuple(code, where);
}

}  // namespace

void register_sessions(py::module_& m) {
  m.def("check_session_log", &check_session_log, py::arg("session_ptr"), py::arg("aid"),
        py::arg("ts"), py::arg("type"), py::arg("n_items"),
        "Validate a CSR session log; returns (code, index), (0, -1) when valid.");
}

}  // namespace fastmetrics
