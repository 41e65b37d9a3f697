"""Features: every event explained (or not) against the context tables, as documented numbers.

    >>> from snoopwatch.features import build_features
    >>> fs = build_features(dataset)      # fs.frame: one row per event; fs.used / fs.dropped

The columns are documented in `FEATURES` (snoopwatch.features.registry); `RULE_COLUMNS` names the
columns that carry the classic audit rules (no case link, surname match, near home, off roster,
vip / staff subject) for baselines. `FLAGS` are the features that are 0 or 1; the frame holds them as
uint8 (one byte an event) and every other feature as float32.
"""

from snoopwatch.features.build import FeatureSet, allowed_features, build_features
from snoopwatch.features.registry import (
    BY_NAME,
    DEFINITIONS_VERSION,
    FEATURES,
    FLAGS,
    RULE_COLUMNS,
    FeatureSpec,
    describe_table,
)
from snoopwatch.features.rules import rule_flags

__all__ = ["BY_NAME", "DEFINITIONS_VERSION", "FEATURES", "FLAGS", "RULE_COLUMNS", "FeatureSet", "FeatureSpec", "allowed_features",
           "build_features", "describe_table", "rule_flags"]
