"""Answers that do not look like the stated scale: a 1-5 item read as 0-10 is an NPS of -100
without any error; it warns, naming the column, the range seen and the scale to pass."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels.errors import DataWarning


def test_nps_on_a_one_to_five_item_warns():
    x = pd.Series(np.random.default_rng(0).integers(1, 6, 200), name="recommande")
    with pytest.warns(DataWarning, match=r"'recommande' run from 1 to 5 only.*scale='1-5'") as seen:
        table = lm.nps(x, scale="0-10")
    assert seen[0].filename == __file__  # points at the user's line, not the package's
    assert table["estimate"].iloc[0] == -100  # what the warning is about


def test_answers_using_the_whole_scale_do_not_warn():
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        lm.nps(pd.Series(rng.integers(0, 11, 200)), scale="0-10")
        lm.nps(pd.Series(rng.integers(1, 6, 200)), scale="1-5")
        lm.nps(pd.Series([1, 2, 3]), scale="0-10")  # too few answers to judge
        lm.csat(pd.Series(rng.integers(1, 6, 200)), scale="1-5")
