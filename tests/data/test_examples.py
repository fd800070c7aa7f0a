"""The committed example data sets are exactly what their recorded recipes regenerate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loyaltymodels.data.examples import EXAMPLES, load_example, write_example

COMMITTED = Path(__file__).resolve().parents[2] / "data" / "synthetic"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_regenerating_gives_identical_files(name, tmp_path):
    csv, meta = write_example(name, tmp_path)
    assert csv.read_bytes() == (COMMITTED / f"{name}.csv").read_bytes()
    new, old = json.loads(meta.read_text()), json.loads((COMMITTED / f"{name}.json").read_text())
    new.pop("loyaltymodels"), old.pop("loyaltymodels")  # the package version may move on
    assert new == old
    assert old["seed"] == EXAMPLES[name][1] and old["rows"] == len(load_example(name))
