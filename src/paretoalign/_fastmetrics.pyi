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
