"""One Numba kernel body, two builds: parallel and serial.

A batch kernel loops over independent blocks of rows with ``prange``. Compiled with
``parallel=True`` the blocks run on Numba's threads; compiled without it, Numba runs
``prange`` as ``range``, so the serial build runs the same blocks in order on the calling
thread and returns the same bytes. Small inputs take the serial build (starting Numba's
thread pool costs more than the work); the world and metrics kernels pick by row count.

This module sits below every layer (like :mod:`paretoalign.io`), so the world's and the
metrics' kernels share it.
"""

from __future__ import annotations

import types
from collections.abc import Callable

from numba import njit

__all__ = ["parallel_and_serial"]


def parallel_and_serial(body: Callable, name: str) -> tuple[Callable, Callable]:
    """``(parallel, serial)``: ``body`` compiled with and without ``parallel=True``.

    The builds are named ``name`` and ``name + "_serial"``. Each compiles its own copy of
    ``body`` under its own ``__qualname__``: Numba names a function's on-disk cache after
    its qualified name and first line, and its cache key ignores the ``parallel`` option,
    so two builds of one function object would share one cache entry, and whichever build
    compiled second would load the first one's machine code.
    """

    def build(qualname: str, doc: str | None, **options) -> Callable:
        copy = types.FunctionType(
            body.__code__, body.__globals__, qualname, body.__defaults__, body.__closure__
        )
        copy.__qualname__ = qualname
        copy.__doc__ = doc
        return njit(cache=True, **options)(copy)

    serial_doc = f"Serial build of :func:`{name}` (one thread; same arguments and result)."
    return build(name, body.__doc__, parallel=True), build(name + "_serial", serial_doc)
