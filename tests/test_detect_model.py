"""Model file: round trip, envelope contents, refusal of tampered files and untrusted types (before loading)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import skops.io as sio

from snoopwatch.detect import load_model, read_envelope, save_model, train
from snoopwatch.detect._toy import toy_dataset
from snoopwatch.errors import ModelError
from snoopwatch.features import build_features


@pytest.fixture(scope="module")
def trained():
    ds = toy_dataset(days=20, planted=False)
    return ds, train(ds, until="2025-01-20", seed=5)


def test_round_trip_scores_identically(tmp_path, trained):
    ds, model = trained
    path = save_model(model, tmp_path / "m.skops")
    loaded = load_model(path)
    assert loaded.features == model.features and loaded.file_hash.startswith("sha256:")
    frame = build_features(ds).frame
    np.testing.assert_array_equal(model.event_scores(frame)[0], loaded.event_scores(frame)[0])
    env = read_envelope(path)
    for key in ("snoopwatch", "scikit-learn", "numpy", "features", "training_window", "seed", "data_hash",
                "payload_sha256", "trusted_types"):
        assert key in env, key
    assert env["seed"] == 5 and env["until"].startswith("2025-01-20")


def test_same_data_and_seed_same_bytes(tmp_path, trained):
    ds, model = trained
    again = train(ds, until="2025-01-20", seed=5)
    a = save_model(model, tmp_path / "a.skops").read_bytes()
    b = save_model(again, tmp_path / "b.skops").read_bytes()
    assert a == b


def _rewrite(path, envelope=None, payload=None):
    with zipfile.ZipFile(path) as z:
        env = json.loads(z.read("envelope.json"))
        data = z.read("model.skops")
    env = envelope(env) if envelope else env
    data = payload if payload is not None else data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("envelope.json", json.dumps(env))
        z.writestr("model.skops", data)
    path.write_bytes(buf.getvalue())


def test_changed_payload_is_refused(tmp_path, trained):
    path = save_model(trained[1], tmp_path / "m.skops")
    with zipfile.ZipFile(path) as z:
        data = bytearray(z.read("model.skops"))
    data[len(data) // 2] ^= 0xFF
    _rewrite(path, payload=bytes(data))
    with pytest.raises(ModelError, match="hash"):
        load_model(path)


class Planted:
    """A type no snoopwatch model holds; loading must stop before it is ever built."""

    built = 0

    def __setstate__(self, state):
        Planted.built += 1
        self.__dict__.update(state)


def test_untrusted_type_is_refused_before_anything_runs(tmp_path, trained):
    path = save_model(trained[1], tmp_path / "m.skops")
    evil = sio.dumps(Planted())
    import hashlib
    digest = "sha256:" + hashlib.sha256(evil).hexdigest()
    _rewrite(path, envelope=lambda env: {**env, "payload_sha256": digest}, payload=evil)
    with pytest.raises(ModelError, match="does not trust"):
        load_model(path)
    assert Planted.built == 0


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_garbage_is_refused(tmp_path, content):
    path = tmp_path / "m.skops"
    path.write_bytes(content)
    with pytest.raises(ModelError):
        load_model(path)


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelError, match="snoopwatch train"):
        load_model(tmp_path / "nope.skops")


def test_scores_kept_from_the_blocks_hook_are_the_scores_without_it(trained, monkeypatch):
    """With a block hook, event_scores returns the calibrated scores the hook saw, block by block: the
    same as calibrating every row at once without a hook."""
    from snoopwatch.detect import model as model_module

    monkeypatch.setattr(model_module, "CHUNK_ROWS", 1000)  # several blocks
    ds, model = trained
    fs = build_features(ds, model.features)
    seen = {}
    with_hook = model.event_scores(fs.frame, fs.roles, on_block=lambda start, scores, _: seen.update({start: scores.copy()}))
    plain = model.event_scores(fs.frame, fs.roles)
    assert len(seen) > 1
    np.testing.assert_array_equal(with_hook[0], plain[0])
    np.testing.assert_array_equal(with_hook[1], plain[1])
    np.testing.assert_array_equal(np.concatenate([seen[s] for s in sorted(seen)]), plain[0])


def test_a_case_does_not_discount_the_evidence_of_an_off_duty_access(trained):
    """A case explains who was looked up, not why off duty: with the access explained by the user's own
    case, moving it far off duty raises the event score by the time evidence it gains in full, and by a
    quarter of what the forest gains (with the old formula, by a quarter of both)."""
    from snoopwatch.detect.model import EXPLAINED_DISCOUNT, combined_score, group_evidence

    ds, model = trained
    fs = build_features(ds, model.features)
    rows = fs.frame.iloc[:200].copy()
    rows["explained_by_case"] = np.float32(1.0)
    on_duty, off_duty = rows.copy(), rows.copy()
    on_duty["off_roster"], on_duty["minutes_off_duty"] = np.uint8(0), np.float32(0.0)
    off_duty["off_roster"], off_duty["minutes_off_duty"] = np.uint8(1), np.float32(np.log1p(600.0))
    roles = fs.roles[:200]
    estimator = model.estimator
    before, forest_before = combined_score(estimator, on_duty, model.features, roles)
    after, forest_after = combined_score(estimator, off_duty, model.features, roles)

    def time_evidence(frame):
        X = frame[model.features].to_numpy(np.float32)
        return group_evidence(estimator.block_surprises(X, roles, parallel=False)[1], model.features)[1]

    gained = time_evidence(off_duty) - time_evidence(on_duty)
    assert gained.min() > 1.0  # ten hours off duty: never seen in the toy force's training
    # (only the roster columns moved, so no other group's evidence changed)
    expected = (1 - EXPLAINED_DISCOUNT) * (forest_after - forest_before) + gained
    np.testing.assert_allclose(after - before, expected, atol=1e-9)


def test_time_groups_are_feature_groups():
    """A misspelt group in TIME_GROUPS would silently leave its evidence discounted."""
    from snoopwatch.dataset.capabilities import FEATURE_GROUPS
    from snoopwatch.detect.model import TIME_GROUPS

    assert TIME_GROUPS.issubset(group.name for group in FEATURE_GROUPS)
