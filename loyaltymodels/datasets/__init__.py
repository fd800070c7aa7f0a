"""Data sets the package ships or reads from its dependencies (see README.md beside this file)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

__all__ = [
    "BELIEFS_EXPERIENCE_MODEL",
    "ECSI_MODEL",
    "HS_MODEL",
    "POLDEM_MODEL",
    "ecsi_path",
    "load_ecsi",
    "load_ecsi_pls_reference",
    "load_holzinger_swineford",
    "load_political_democracy",
]

_HERE = Path(__file__).parent

#: The ECSI model on the bundled bank-customer data, in lavaan syntax (Tenenhaus et al. 2005).
ECSI_MODEL = """
# measurement model
IMAG =~ imag1 + imag2 + imag3 + imag4 + imag5
EXPE =~ expe1 + expe2 + expe3 + expe4 + expe5
QUAL =~ qual1 + qual2 + qual3 + qual4 + qual5
VAL  =~ val1 + val2 + val3 + val4
SAT  =~ sat1 + sat2 + sat3 + sat4
LOY  =~ loy1 + loy2 + loy3 + loy4
# structural model
EXPE ~ IMAG
QUAL ~ EXPE
VAL  ~ EXPE + QUAL
SAT  ~ IMAG + EXPE + QUAL + VAL
LOY  ~ IMAG + SAT
"""

#: Beliefs (image) and experience (perceived quality) feeding loyalty, on the ECSI items.
BELIEFS_EXPERIENCE_MODEL = """
Beliefs    =~ imag1 + imag2 + imag3 + imag4 + imag5
Experience =~ qual1 + qual2 + qual3 + qual4 + qual5
Loyalty    =~ loy1 + loy2 + loy3 + loy4
Loyalty ~ Beliefs + Experience
"""

#: lavaan tutorial: the three-factor CFA of the Holzinger-Swineford data.
HS_MODEL = """
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"""

#: lavaan tutorial: Bollen's Political Democracy SEM.
POLDEM_MODEL = """
# measurement model
ind60 =~ x1 + x2 + x3
dem60 =~ y1 + y2 + y3 + y4
dem65 =~ y5 + y6 + y7 + y8
# regressions
dem60 ~ ind60
dem65 ~ ind60 + dem60
# residual correlations
y1 ~~ y5
y2 ~~ y4 + y6
y3 ~~ y7
y4 ~~ y8
y6 ~~ y8
"""


def ecsi_path() -> Path:
    """Path of the bundled ECSI satisfaction survey (CSV)."""
    return _HERE / "ecsi_satisfaction.csv"


def load_ecsi() -> pd.DataFrame:
    """The ECSI bank-customer survey: 250 rows, 27 items on 0-10 plus ``gender``.

    Examples
    --------
    >>> from loyaltymodels.datasets import load_ecsi
    >>> load_ecsi().shape
    (250, 28)
    """
    return pd.read_csv(ecsi_path())


def load_ecsi_pls_reference() -> pd.DataFrame:
    """plspm's published PLS results for the ECSI model on :func:`load_ecsi` (paths and R^2)."""
    return pd.read_csv(_HERE / "ecsi_pls_reference.csv")


def _semopy_example(filename: str) -> Path:
    # Located without importing semopy (a 1.5 s import) just to read a CSV.
    spec = importlib.util.find_spec("semopy")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("semopy is not installed; it ships this data set (pip install semopy)")
    return Path(next(iter(spec.submodule_search_locations))) / "examples" / filename


def load_holzinger_swineford() -> pd.DataFrame:
    """Holzinger & Swineford (1939): 301 pupils, ``x1``-``x9``, ``school``, ... (lavaan's data).

    Examples
    --------
    >>> from loyaltymodels.datasets import load_holzinger_swineford
    >>> load_holzinger_swineford().shape
    (301, 15)
    """
    return pd.read_csv(_semopy_example("holzinger_swineford39_data.csv"), index_col=0).reset_index(drop=True)


def load_political_democracy() -> pd.DataFrame:
    """Bollen's Political Democracy data: 75 countries, ``y1``-``y8``, ``x1``-``x3`` (lavaan's data).

    Examples
    --------
    >>> from loyaltymodels.datasets import load_political_democracy
    >>> load_political_democracy().shape
    (75, 11)
    """
    return pd.read_csv(_semopy_example("pd_data.csv"), index_col=0).reset_index(drop=True)
