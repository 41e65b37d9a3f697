"""The model file: a zip holding `envelope.json` (plain JSON, read first) and `model.skops`.

Loading never unpickles. It reads the envelope, checks the SHA-256 of the skops payload against the
envelope, asks skops which types the payload holds, refuses (ModelError) any type outside TRUSTED_TYPES,
and only then lets skops build the estimator from the trusted types. The alert's `file_hash` is the
SHA-256 of the whole model file.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import skops.io as sio

from snoopwatch.atomic import atomic_path
from snoopwatch.detect.forest import SnoopwatchForest
from snoopwatch.detect.model import TrainedModel
from snoopwatch.errors import ModelError

FORMAT = "snoopwatch-model"
ENVELOPE_VERSION = 1
ENVELOPE = "envelope.json"
PAYLOAD = "model.skops"
# Every type a snoopwatch model file may hold beyond what skops trusts by default. Anything else is refused.
TRUSTED_TYPES = (
    "snoopwatch.detect.forest.SnoopwatchForest",
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
)
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
# Object ids skops writes: "__id__": N and array files "N.npy".
_IDS = re.compile(r'("__id__": )(\d+)()|(")(\d+)(\.npy")')


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _repack(payload: bytes) -> bytes:
    """The skops zip made reproducible: object ids (memory addresses) renumbered in order of appearance
    and fixed entry times, so the same model always gives the same bytes."""
    with zipfile.ZipFile(io.BytesIO(payload)) as source:
        entries = {item.filename: source.read(item.filename) for item in source.infolist()}
    schema = entries.pop("schema.json").decode("utf-8")
    numbers: dict[str, str] = {}

    def renumber(match: re.Match) -> str:
        head, number, tail = (match.group(1, 2, 3) if match.group(2) is not None else match.group(4, 5, 6))
        return head + numbers.setdefault(number, str(len(numbers) + 1)) + tail

    schema = _IDS.sub(renumber, schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        info = zipfile.ZipInfo("schema.json", date_time=_FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        target.writestr(info, schema.encode("utf-8"))
        for name in sorted(entries, key=lambda n: int(numbers.get(n.split(".")[0], "0")) if n.endswith(".npy") else 0):
            stem, _, ext = name.partition(".")
            info = zipfile.ZipInfo(f"{numbers.get(stem, stem)}.{ext}", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, entries[name])
    return out.getvalue()


def save_model(model: TrainedModel, path: str | Path) -> Path:
    """Write the model file atomically; returns the path. Sets model.file_hash."""
    path = Path(path)
    payload = _repack(sio.dumps(model.estimator))
    untrusted = [t for t in sio.get_untrusted_types(data=payload) if t not in TRUSTED_TYPES]
    if untrusted:  # a bug in snoopwatch, not a user error: the list above must name every type we write
        raise RuntimeError(f"model holds types missing from TRUSTED_TYPES: {untrusted}")
    envelope = {"format": FORMAT, "envelope_version": ENVELOPE_VERSION, **model.envelope,
                "payload_sha256": _sha256(payload), "trusted_types": list(TRUSTED_TYPES)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in ((ENVELOPE, json.dumps(envelope, indent=1, sort_keys=True).encode("utf-8")),
                           (PAYLOAD, payload)):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    data = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    model.envelope = {k: v for k, v in envelope.items() if k not in ("format", "envelope_version")}
    model.file_hash = _sha256(data)
    return path


def read_envelope(path: str | Path) -> dict:
    """The envelope of a model file (plain JSON; nothing in the file is executed)."""
    envelope, _, _ = _open(Path(path))
    return envelope


def _open(path: Path) -> tuple[dict, bytes, str]:
    if path.is_dir():
        raise ModelError(f"{path}: is a folder; give the model file inside it (e.g. {path / 'snoopwatch.skops'})")
    if not path.exists():
        raise ModelError(f"{path}: no such model file; train one with `snoopwatch train DATASET --model {path}`")
    data = path.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if ENVELOPE not in names or PAYLOAD not in names:
                raise ModelError(f"{path}: not a snoopwatch model file (no envelope); train a new model")
            envelope = json.loads(archive.read(ENVELOPE).decode("utf-8"))
            payload = archive.read(PAYLOAD)
    except (zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: not a snoopwatch model file ({error}); train a new model") from error
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise ModelError(f"{path}: not a snoopwatch model file; train a new model")
    if envelope.get("envelope_version") != ENVELOPE_VERSION:
        raise ModelError(f"{path}: model envelope version {envelope.get('envelope_version')!r} is not supported; retrain")
    return envelope, payload, _sha256(data)


def load_model(path: str | Path) -> TrainedModel:
    """Read a model file, refusing it (ModelError) if its hash is wrong or it holds an untrusted type."""
    path = Path(path)
    envelope, payload, file_hash = _open(path)
    if _sha256(payload) != envelope.get("payload_sha256"):
        raise ModelError(f"{path}: the model does not match the hash in its envelope (changed or damaged); retrain it")
    try:
        untrusted = [t for t in sio.get_untrusted_types(data=payload) if t not in TRUSTED_TYPES]
    except Exception as error:  # skops raises various errors on a malformed payload
        raise ModelError(f"{path}: the model payload cannot be read ({error}); retrain it") from error
    if untrusted:
        raise ModelError(f"{path}: the model holds types snoopwatch does not trust ({', '.join(untrusted)}); refusing to load it")
    try:
        estimator = sio.loads(payload, trusted=list(TRUSTED_TYPES))
    except Exception as error:
        raise ModelError(f"{path}: the model payload cannot be loaded ({error}); retrain it") from error
    if not isinstance(estimator, SnoopwatchForest):
        raise ModelError(f"{path}: the model holds a {type(estimator).__name__}, not a SnoopwatchForest; retrain it")
    features = envelope.get("features")
    if not isinstance(features, list) or len(features) != getattr(estimator, "n_features_in_", -1):
        raise ModelError(f"{path}: the envelope's feature list does not match the model; retrain it")
    calibration = envelope.get("calibration")
    if not isinstance(calibration, dict) or not {"levels", "log_p", "rows"} <= set(calibration):
        raise ModelError(f"{path}: the envelope has no score calibration (damaged or from another tool); retrain it")
    body = {k: v for k, v in envelope.items() if k not in ("format", "envelope_version")}
    return TrainedModel(estimator, list(features), body, file_hash=file_hash)
