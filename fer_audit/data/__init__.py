"""Datasets: adapters that read a folder into the dataset index, the registry of a
workspace, subject-level splits, real sample clips, and synthetic data."""

from fer_audit.data.index import INDEX_COLUMNS, AdapterResult, DatasetError, SkippedFile
from fer_audit.data.registry import (
    KINDS,
    Dataset,
    list_datasets,
    load_dataset,
    read_folder,
    register_dataset,
)

__all__ = [
    "INDEX_COLUMNS",
    "KINDS",
    "AdapterResult",
    "Dataset",
    "DatasetError",
    "SkippedFile",
    "list_datasets",
    "load_dataset",
    "read_folder",
    "register_dataset",
]
