"""Shared fixtures: reference data sets read once per session."""

from __future__ import annotations

import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("LOYALTYMODELS_FAST", "1")


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
