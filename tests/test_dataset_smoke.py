"""The hand-written example data set loads with typed columns and no problems."""

from snoopwatch.dataset import load_dataset, validate_dataset


def test_example_dataset_loads_typed(example_dataset):
    ds = load_dataset(example_dataset)
    assert ds.problems == []
    assert str(ds.events["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert len(ds.events) == 8
    assert ds.events["event_id"].tolist() == [f"E000{i}" for i in range(1, 9)]


def test_example_dataset_allows_every_feature_group(example_dataset):
    report = validate_dataset(example_dataset)
    assert report.ok
    assert all(why is None for why in report.features.values())
