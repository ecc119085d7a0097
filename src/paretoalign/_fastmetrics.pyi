"""Type stubs of the private compiled module (fastmetrics/). Use the Python façades."""

import numpy as np

def check_session_log(
    session_ptr: np.ndarray, aid: np.ndarray, ts: np.ndarray, type: np.ndarray, n_items: int
) -> tuple[int, int]: ...
