"""The retention design: person-period layout against a plain loop, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loyaltymodels.errors import DataError, SpecError
from loyaltymodels.retention.design import make_design

MODEL = "B =~ b1 + b2\nE =~ e1 + e2"


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    d = pd.DataFrame(rng.normal(size=(5, 4)), columns=["b1", "b2", "e1", "e2"])
    d["time"], d["event"], d["tenure"] = [1, 3, 2, 4, 1], [1, 0, 1, 1, 0], [0, 5, 2, 1, 9]
    return d


def test_person_periods_match_a_loop():
    d = frame()
    des = make_design(MODEL, d, time="time", event="event", tenure="tenure")
    rows, per, ten, ev = [], [], [], []
    for i, r in d.iterrows():
        for t in range(int(r.time)):
            rows.append(i)
            per.append(t)
            ten.append(r.tenure + t)
            ev.append(int(r.event == 1 and t == r.time - 1))
    assert des.pp_row.tolist() == rows and des.pp_period.tolist() == per
    assert des.pp_tenure.tolist() == ten and des.pp_event.tolist() == ev
    assert des.periods == 4 and des.tenure_ref == 2.0 and des.loyalty is None


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (lambda d: d.drop(columns="e2"), DataError, "no column"),
        (lambda d: d.assign(time=[1, 0, 2, 4, 1]), DataError, "'time' row 1"),
        (lambda d: d.assign(event=[1, 2, 1, 1, 0]), DataError, "'event' row 1"),
        (lambda d: d.assign(b1=["x", 1, 2, 3, 4]), DataError, "'b1' row 0"),
    ],
)
def test_bad_data_names_the_column_and_row(change, error, words):
    d = frame()
    before = d.copy()
    with pytest.raises(error, match=words):
        make_design(MODEL, change(d), time="time", event="event")
    pd.testing.assert_frame_equal(d, before)


def test_specs_it_cannot_use():
    with pytest.raises(SpecError, match="measurement model"):
        make_design("y ~ x", frame(), time="time", event="event")
    with pytest.raises(SpecError, match="time= and event="):
        make_design(MODEL, frame(), time=None, event=None)
