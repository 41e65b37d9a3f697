"""Shared fixtures: paths to the hand-written example data set and the committed sample force."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def example_dataset() -> Path:
    path = SHARED / "example-dataset"
    if not path.exists():
        pytest.skip(f"the shared example data set is not beside the project ({path})")
    return path
