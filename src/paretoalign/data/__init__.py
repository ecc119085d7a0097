"""Session data: the `SessionLog` container, readers and writers, sequence labelling."""

from paretoalign.data.dataset import Dataset, load_dataset, save_dataset
from paretoalign.data.sessionlog import (
    CART,
    CLICK,
    EVENT_TYPES,
    ORDER,
    TYPE_CODES,
    SessionLog,
    SessionLogError,
    atomic_path,
)

__all__ = [
    "CART",
    "CLICK",
    "EVENT_TYPES",
    "ORDER",
    "TYPE_CODES",
    "Dataset",
    "SessionLog",
    "SessionLogError",
    "atomic_path",
    "load_dataset",
    "save_dataset",
]
