// paretoalign._fastmetrics: private compiled module. Users call the checked Python
// façades in paretoalign.data / paretoalign.ranking, never this module directly.
#include <fastmetrics/common.hpp>

PYBIND11_MODULE(_fastmetrics, m) {
  m.doc() = "Compiled kernels of paretoalign (private; use the Python façades).";
  fastmetrics::register_sessions(m);
  fastmetrics::register_topk(m);
  fastmetrics::register_jsonl(m);
}
