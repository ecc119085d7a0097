"""Session data: the `SessionLog` container, readers and writers, sequence labelling."""

from paretoalign.data.config import DataConfig, dataset_dir
from paretoalign.data.dataset import Dataset, load_dataset, save_dataset
from paretoalign.data.kaggle import (
    KaggleLabels,
    kaggle_recall,
    read_submission,
    read_test_labels,
    split_by_days,
    truncate_sessions,
    write_submission,
)
from paretoalign.data.multitron import MultiTronFormatError, read_diginetica, read_yoochoose
from paretoalign.data.otto import (
    OttoFormatError,
    OttoReadReport,
    read_otto,
    read_otto_with_report,
    write_otto,
)
from paretoalign.data.sessionlog import (
    CART,
    CLICK,
    EVENT_TYPES,
    ORDER,
    TYPE_CODES,
    SessionLog,
    SessionLogError,
)

__all__ = [
    "CART",
    "CLICK",
    "EVENT_TYPES",
    "ORDER",
    "TYPE_CODES",
    "DataConfig",
    "Dataset",
    "KaggleLabels",
    "MultiTronFormatError",
    "OttoFormatError",
    "OttoReadReport",
    "SessionLog",
    "SessionLogError",
    "dataset_dir",
    "kaggle_recall",
    "load_dataset",
    "read_diginetica",
    "read_otto",
    "read_otto_with_report",
    "read_submission",
    "read_test_labels",
    "read_yoochoose",
    "save_dataset",
    "split_by_days",
    "truncate_sessions",
    "write_otto",
    "write_submission",
]
