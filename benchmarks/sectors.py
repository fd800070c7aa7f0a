"""Replications of the raw sector contrasts (run: python benchmarks/sectors.py [replications]).

Equal raw weights (0.4, 0.4) with unequal spread (beliefs SD 1.0 vs 1.8), two sectors of 300,
data written in NumPy (tests/loyalty/test_sectors.py's ``survey``), scalar invariance, 2 chains x
300 draws after 300 tuning. Per replication: the raw contrasts north - south of both drivers and
whether their 90% interval covers the truth (0); a "weights differ" verdict is an interval that
excludes 0 (the false-verdict rate = 1 - coverage, per driver), beside the standardized weights'
"largest driver" in each sector (which flips with the spread, as the issue found).
Output: benchmarks/results/sectors.csv (one row per replication and driver) and sectors.txt.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "loyalty"))

from test_sectors import MODEL, survey  # noqa: E402

import loyaltymodels as lm  # noqa: E402
from loyaltymodels.errors import ConvergenceWarning  # noqa: E402

OUT = Path(__file__).parent / "results"


def main(reps: int = 100) -> None:
    rows = []
    t0 = time.perf_counter()
    for r in range(reps):
        data = survey(300, beliefs_sd=(1.0, 1.8), seed=1000 + r)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            post = lm.fit_loyalty(MODEL, data, sector="sector", seed=r, draws=300, tune=300, chains=2)
        con = lm.sector_contrasts(post)
        std = lm.driver_weights(post).query("sector != 'pooled'")
        largest = std.loc[std.groupby("sector")["mean"].idxmax()].set_index("sector").driver
        for c in con.itertuples():
            rows.append(
                {
                    "replication": r,
                    "driver": c.driver,
                    "mean": c.mean,
                    "ci_lower": c.ci_lower,
                    "ci_upper": c.ci_upper,
                    "covers_truth": c.ci_lower < 0 < c.ci_upper,
                    "std_largest_north": largest["north"],
                    "std_largest_south": largest["south"],
                    "divergences": int(post["sample_stats"]["diverging"].sum()),
                }
            )
        pd.DataFrame(rows).to_csv(OUT / "sectors.csv", index=False)
        print(r, f"{time.perf_counter() - t0:.0f}s", flush=True)
    df = pd.DataFrame(rows)
    cover = df.groupby("driver").covers_truth.mean()
    first = df.drop_duplicates("replication")
    lines = [
        f"raw sector contrasts, equal raw weights, beliefs SD 1.0 vs 1.8: {reps} replications",
        *(f"  {d}: 90% coverage {v:.1%}, false 'weights differ' {1 - v:.1%}" for d, v in cover.items()),
        f"  any driver falsely differing: {1 - df.groupby('replication').covers_truth.all().mean():.1%}",
        f"  standardized largest driver: north Beliefs {(first.std_largest_north == 'Beliefs').mean():.1%}, "
        f"south Beliefs {(first.std_largest_south == 'Beliefs').mean():.1%}",
        f"  {time.perf_counter() - t0:.0f} s",
    ]
    (OUT / "sectors.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
