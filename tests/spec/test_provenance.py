"""What is saved with every result: package versions, the specification, and one JSON conversion."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np

import loyaltymodels as lm
from loyaltymodels.spec.provenance import jsonable, spec_attrs, spec_from_attrs


def test_jsonable_gives_what_json_can_write():
    value = {
        np.int64(3): [np.float32(0.5), (1, 2)],
        "s": {"b", "a"},
        "d": date(2026, 12, 7),
        "p": Path("x/y.csv"),
        "arr": np.arange(3),
        "f": np.mean,
        "none": None,
        "b": np.bool_(True),
    }
    out = jsonable(value)
    assert json.loads(json.dumps(out)) == {
        "3": [0.5, [1, 2]],
        "s": ["a", "b"],
        "d": "2026-12-07",
        "p": "x/y.csv",
        "arr": [0, 1, 2],
        "f": "numpy:mean",
        "none": None,
        "b": True,
    }


def test_spec_round_trips_through_its_attributes():
    spec = lm.parse_model("f =~ x1 + x2 + x3", group_equal=("loadings",), std_lv=True)
    assert spec_from_attrs(spec_attrs(spec)).partable.equals(spec.partable)
