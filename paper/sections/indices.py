"""Loyalty indices and the coverage of their 95% intervals.

Exact coverage (no simulation): for intervals that depend on the data only through counts, the
probability, summed over every possible sample, that the interval contains the truth; computed
with the package's interval kernels by :mod:`loyaltymodels.indices.coverage`. Answer distributions as in
``benchmarks/indices_coverage.py`` (whose simulated coverage is recorded in
``benchmarks/results/indices_coverage.txt``).
"""

from __future__ import annotations

import pandas as pd

from loyaltymodels.indices.coverage import nps_exact_coverage, wilson_exact_coverage

from .common import Section, num

NPS_TRUTH = {0: (0.30, 0.40, 0.30), 50: (0.10, 0.30, 0.60), 80: (0.05, 0.10, 0.85)}
SIZES = (10, 30, 100, 1000)
CSAT_TRUTH = (0.5, 0.9)


def coverage_table() -> pd.DataFrame:
    """Exact coverage (%) of the NPS intervals (adjusted Wald, Wald) and of Wilson for CSAT."""
    rows = []
    for n in SIZES:
        row = {"n": n}
        for truth, shares in NPS_TRUTH.items():
            for method in ("adjusted Wald", "Wald"):
                row[f"NPS {truth}: {method}"] = 100 * nps_exact_coverage(n, shares, method.replace(" ", "_").lower())
        for p in CSAT_TRUTH:
            row[f"CSAT {100 * p:.0f}%: Wilson"] = 100 * wilson_exact_coverage(n, p)
        rows.append(row)
    return pd.DataFrame(rows)


def make(fast: bool) -> Section:
    """Coverage table and the numbers the text quotes (worst cases of each interval)."""
    tab = coverage_table()
    adj = tab.filter(like="adjusted Wald")
    wald = tab[[c for c in tab if c.endswith(": Wald")]]
    wilson = tab.filter(like="Wilson")
    n = {
        "adj_min": num(adj.min().min(), 1),
        "adj_max": num(adj.max().max(), 1),
        "wald_min": num(wald.min().min(), 1),
        "wald_min_n": num(tab.n[wald.min(axis=1).idxmin()], 0),
        "wald_n80_small": num(tab.loc[tab.n == 10, "NPS 80: Wald"].iloc[0], 1),
        "adj_n80_small": num(tab.loc[tab.n == 10, "NPS 80: adjusted Wald"].iloc[0], 1),
        "wilson_min": num(wilson.min().min(), 1),
        "wilson_max": num(wilson.max().max(), 1),
    }
    return Section(numbers=n, tables={"index_coverage": tab.round(1)})
