// Shared helpers for the fastmetrics kernels: array checks at the Python boundary.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

namespace fastmetrics {
namespace py = pybind11;

// A C-contiguous array of exactly dtype T; anything else raises TypeError/ValueError
// (pybind11 translates std::invalid_argument to ValueError, py::type_error to TypeError).
template <typename T>
py::array_t<T, py::array::c_style> require(const py::handle& obj, const char* name, int ndim) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(name) + " must be a numpy array");
  }
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().is(py::dtype::of<T>())) {
    throw py::type_error(std::string(name) + " must have dtype " +
                         std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(arr.dtype())));
  }
  if (arr.ndim() != ndim) {
    throw std::invalid_argument(std::string(name) + " must be " + std::to_string(ndim) +
                                "-dimensional, got " + std::to_string(arr.ndim()));
  }
  if (!(arr.flags() & py::array::c_style)) {
    throw std::invalid_argument(std::string(name) + " must be C-contiguous");
  }
  return py::array_t<T, py::array::c_style>::ensure(arr);
}

void register_sessions(py::module_& m);
void register_topk(py::module_& m);
void register_jsonl(py::module_& m);
}  // namespace fastmetrics
