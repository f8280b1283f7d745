"""Shared test helpers: paths to fixtures and to ../shared/data (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"


def keras_fixture(name: str) -> dict:
    """A JSON file made by tests/fixtures/make_keras_expected.py with the real Keras."""
    return json.loads((FIXTURES / "keras" / f"{name}.json").read_text(encoding="utf-8"))


def shared_file(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test with a visible reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (../shared/data is not beside the repo)")
    return path
