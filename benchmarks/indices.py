"""Speed of ``lm.nps``: 10 million answers in 100 groups, adjusted Wald interval per group.

The timed call includes the input checks (scale, integers, missing values) and the grouping. The
baseline, in the same process on the same data, is what a pandas user would write without
checks: segment with ``pd.cut``, count with ``groupby(...).value_counts()``, then the same interval
formula; the two tables are compared before any time is reported. Target: under 1 s.

Run: ``.venv/bin/python benchmarks/indices.py``.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import pandas as pd

import loyaltymodels as lm

N, GROUPS, REPEATS = 10_000_000, 100, 5
Z95 = 1.959963984540054


def make_data(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    recommend = rng.integers(0, 11, N).astype(np.float64)
    recommend[rng.random(N) < 0.02] = np.nan  # 2% missing answers
    store = rng.integers(0, GROUPS, N) * 7 + 1000  # 100 store ids, not 0..99
    return pd.DataFrame({"recommend": recommend, "store": store})


def baseline(df: pd.DataFrame) -> pd.DataFrame:
    """Plain pandas: segments, counts per group, adjusted Wald (Rocks 2016); no input checks."""
    seg = pd.cut(df["recommend"], [-0.5, 6.5, 8.5, 10.5], labels=["det", "pas", "pro"])
    counts = seg.groupby(df["store"], sort=False).value_counts().unstack(fill_value=0)
    n = counts.sum(axis=1)
    p, d = (counts["pro"] + 0.75) / (n + 3), (counts["det"] + 0.75) / (n + 3)
    se = np.sqrt((p + d - (p - d) ** 2) / (n + 3))
    return pd.DataFrame(
        {
            "estimate": 100 * (counts["pro"] - counts["det"]) / n,
            "ci_lower": 100 * (p - d - Z95 * se).clip(-1, 1),
            "ci_upper": 100 * (p - d + Z95 * se).clip(-1, 1),
            "n": n,
        }
    )


def best_of(func, repeats: int = REPEATS) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), out


def main() -> int:
    df = make_data()
    lm.nps(df["recommend"].iloc[:1000], by=df["store"].iloc[:1000])  # import and warm up
    t_lm, med_lm, ours = best_of(lambda: lm.nps("recommend", data=df, by="store"))
    t_pd, med_pd, ref = best_of(lambda: baseline(df))
    ref = ref.loc[ours["store"]]
    for col in ("estimate", "ci_lower", "ci_upper", "n"):
        if not np.allclose(ours[col].to_numpy(), ref[col].to_numpy(), rtol=1e-12, atol=1e-9):
            print(f"MISMATCH in {col}", file=sys.stderr)
            return 1
    print(
        f"lm.nps, {N:,} answers ({int(ours.n_missing.sum()):,} missing), {GROUPS} groups, "
        f"adjusted Wald, input checks included"
    )
    print(f"  lm.nps           best {t_lm:6.3f} s   median {med_lm:6.3f} s   (target < 1 s)")
    print(f"  pandas baseline  best {t_pd:6.3f} s   median {med_pd:6.3f} s   (no checks)")
    print(f"  ratio baseline / lm.nps (best times): {t_pd / t_lm:.1f}x; tables agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
