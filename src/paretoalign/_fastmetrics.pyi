"""Type stubs of the private compiled module (fastmetrics/). Use the Python façades."""

import numpy as np

def check_session_log(
    session_ptr: np.ndarray, aid: np.ndarray, ts: np.ndarray, type: np.ndarray, n_items: int
) -> tuple[int, int]: ...

class OttoParser:
    """Strict chunk parser of OTTO JSON Lines (fast path of ``paretoalign.data.otto``)."""

    def __init__(self, shift_aid: bool) -> None: ...
    def feed(
        self, buffer: bytes | bytearray | memoryview, start: int, stop: int, final: bool
    ) -> tuple[int, int, int]: ...
    def skip_line(self) -> None: ...
    def append_session(
        self, session_id: int, aid: np.ndarray, ts: np.ndarray, type: np.ndarray
    ) -> None: ...
    @property
    def lines(self) -> int: ...
    @property
    def sessions(self) -> int: ...
    @property
    def events(self) -> int: ...
    def finish(self) -> dict[str, np.ndarray | int]: ...

def format_otto_lines(
    session_ptr: np.ndarray,
    session_id: np.ndarray,
    aid: np.ndarray,
    ts: np.ndarray,
    type: np.ndarray,
    s_lo: int,
    s_hi: int,
    aid_offset: int,
) -> bytes: ...

# --- top-k ranking (fastmetrics/src/register_topk.cpp; façade: paretoalign.ranking.topk)
TOPK_INSERT_MAX_K: int

def topk_inner_product(
    queries: np.ndarray,
    items: np.ndarray,
    k: int,
    exclude_ptr: np.ndarray | None = None,
    exclude_ids: np.ndarray | None = None,
    threads: int = 1,
    simd: int = -1,
    insert_max_k: int = -1,
    item_block: int = 0,
    group: int = 0,
    work_per_thread: int = -1,
) -> tuple[np.ndarray, np.ndarray]: ...
def sgemm_tiles(
    queries: np.ndarray,
    items: np.ndarray,
    threads: int = 1,
    query_tile: int = 512,
    item_tile: int = 512,
) -> None: ...
def topk_simd_paths() -> list[str]: ...
def topk_layout(simd: int, D: int) -> tuple[int, int]: ...
def topk_max_threads() -> int: ...
