"""The data-set format (shared/DATASET.md, version 1): read, write, validate.

    >>> from snoopwatch.dataset import load_dataset
    >>> ds = load_dataset("synthetic/sample")
    >>> ds.events.head()
"""

from snoopwatch.dataset.capabilities import FEATURE_GROUPS, feature_groups_allowed
from snoopwatch.dataset.io import read_table, write_table
from snoopwatch.dataset.load import derive_event_ids, load_dataset, with_derived_event_ids
from snoopwatch.dataset.model import Dataset, Problem
from snoopwatch.dataset.save import FORMATS, save_dataset, write_rejects
from snoopwatch.dataset.schema import FORMAT_VERSION, TABLES
from snoopwatch.dataset.validate import ValidationReport, validate_dataset

__all__ = [
    "FEATURE_GROUPS", "FORMATS", "FORMAT_VERSION", "TABLES", "Dataset", "Problem", "ValidationReport",
    "derive_event_ids", "feature_groups_allowed", "load_dataset", "read_table", "save_dataset",
    "validate_dataset", "with_derived_event_ids", "write_rejects", "write_table",
]
