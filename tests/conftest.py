"""Shared fixtures: reference data sets read once per session."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pandas as pd
import pytest

from tests.survey_support import ITEMS

matplotlib.use("Agg")
os.environ.setdefault("LOYALTYMODELS_FAST", "1")

#: the test files that take a minute or more of a worker (CI's --durations), run first: ``make
#: test`` hands whole files to two workers in collection order (``--dist loadfile
#: --no-loadscope-reorder``), and a long file picked up last keeps one worker busy while the other
#: idles (longest first is the classic cure for that tail)
LONGEST_FIRST = (
    "tests/test_notebooks.py",
    "tests/loyalty/test_program.py",
    "tests/loyalty/test_ordinal.py",
    "tests/loyalty/test_promise.py",
    "tests/retention/test_fit.py",
    "tests/retention/test_behaviour.py",
    "tests/loyalty/test_diminishing.py",
    "tests/loyalty/test_surface.py",
    "loyaltymodels/retention/fit.py",
    "tests/bayes/test_global_fit.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: k for k, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest as collected


@pytest.fixture(scope="module")
def client():
    """A local Dask cluster of two single-threaded worker processes (power analyses, sample plans)."""
    import logging

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="session")
def ecsi():
    from loyaltymodels.datasets import load_ecsi

    return load_ecsi()


@pytest.fixture(scope="session")
def hs():
    from loyaltymodels.datasets import load_holzinger_swineford

    return load_holzinger_swineford()


@pytest.fixture(scope="session")
def poldem():
    from loyaltymodels.datasets import load_political_democracy

    return load_political_democracy()


@pytest.fixture
def survey() -> pd.DataFrame:
    """12 respondents, six 1-5 items, one rating with decimals, a sector."""
    rng = np.random.default_rng(7)
    df = pd.DataFrame(rng.integers(1, 6, size=(12, 6)).astype("int64"), columns=ITEMS)
    df["price"] = np.round(rng.uniform(1, 5, 12), 2)
    df["sector"] = ["bank", "telecom"] * 6
    return df


@pytest.fixture
def planted(survey) -> pd.DataFrame:
    """``survey`` with NaNs at known places: loy2 at rows 3 and 7, sat1 at rows 7 and 11."""
    df = survey.copy()
    df[ITEMS] = df[ITEMS].astype(float)
    df.loc[[3, 7], "loy2"] = np.nan
    df.loc[[7, 11], "sat1"] = np.nan
    return df
