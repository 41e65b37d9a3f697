"""The detector: an isolation forest on explanation features, per-user risk, budgeted alerts with reasons.

    >>> from snoopwatch.detect import train, detect, save_model, load_model
    >>> model = train(history_dataset, until="2025-06-01", seed=0)
    >>> save_model(model, "models/snoopwatch.skops")
    >>> result = detect(dataset, load_model("models/snoopwatch.skops"), since="2025-06-01", budget=10)
    >>> result.scores, result.alerts
"""

from snoopwatch.detect.alerts import ALERT_VERSION, Alert, Detection, Reason
from snoopwatch.detect.allowlist import AllowEntry, AllowListError, load_allowlist
from snoopwatch.detect.forest import SnoopwatchForest
from snoopwatch.detect.model import TrainedModel, train
from snoopwatch.detect.pipeline import detect
from snoopwatch.detect.store import TRUSTED_TYPES, load_model, read_envelope, save_model

__all__ = ["ALERT_VERSION", "TRUSTED_TYPES", "Alert", "AllowEntry", "AllowListError", "Detection", "Reason",
           "SnoopwatchForest", "TrainedModel", "detect", "load_allowlist", "load_model", "read_envelope",
           "save_model", "train"]
