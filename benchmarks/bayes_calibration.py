"""Calibration of the Bayesian back end: coverage of 90% credible intervals over simulated data.

A two-factor SEM with known population values (``lm.simulate``, std_lv scale) is simulated
``REPS`` times (n = 200 each), every data set is fitted on ONE compiled model
(``compile_model`` once, ``fit_compiled`` per data set: the path a power analysis takes), and the
share of 90% equal-tailed intervals that contain the truth is counted per parameter class and
overall. Expected: 85-95%. Run: python benchmarks/bayes_calibration.py [REPS].
Output: benchmarks/results/bayes_calibration.txt and bayes_calibration.csv (one row per fit and
parameter).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import loyaltymodels as lm
from loyaltymodels.bayes.priors import parameter_class

POPULATION = """
Beliefs =~ 0.8*x1 + 0.7*x2 + 0.6*x3
Loyalty =~ 0.7*y1 + 0.8*y2 + 0.6*y3
Loyalty ~ 0.5*Beliefs
"""
MODEL = """
Beliefs =~ x1 + x2 + x3
Loyalty =~ y1 + y2 + y3
Loyalty ~ Beliefs
"""
N, CI = 200, 0.90
RESULTS = Path(__file__).parent / "results"


def main(reps: int = 120) -> None:
    warnings.simplefilter("ignore")
    data, truth = lm.simulate(POPULATION, n=N, seed=0)
    key = ["lhs", "op", "rhs"]
    truth_value = truth.set_index(key)["value"]
    t0 = time.perf_counter()
    compiled = lm.compile_model(MODEL, data, std_lv=True)
    compile_s = time.perf_counter() - t0
    latents = {"Beliefs", "Loyalty"}
    records, t1 = [], time.perf_counter()
    for rep in range(reps):
        data, _ = lm.simulate(POPULATION, n=N, seed=1000 + rep)
        post = lm.fit_compiled(compiled, data, draws=1000, tune=1000, chains=2, cores=2, seed=rep, check=False)
        s = lm.bayes_summary(post, ci=CI)
        s = s[s.free]
        div = int(post["sample_stats"]["diverging"].sum())
        for row in s.itertuples():
            true = truth_value.get((row.lhs, row.op, row.rhs), 0.0)  # intercepts: 0 in simulate()
            records.append(
                dict(
                    rep=rep,
                    name=row.name,
                    cls=parameter_class(row.lhs, row.op, row.rhs, latents),
                    truth=true,
                    mean=row.mean,
                    lower=row.ci_lower,
                    upper=row.ci_upper,
                    r_hat=row.r_hat,
                    ess_bulk=row.ess_bulk,
                    divergences=div,
                    covered=bool(row.ci_lower <= true <= row.ci_upper),
                )
            )
    fit_s = time.perf_counter() - t1
    df = pd.DataFrame(records)
    RESULTS.mkdir(exist_ok=True)
    df.to_csv(RESULTS / "bayes_calibration.csv", index=False, float_format="%.5g")
    by_cls = df.groupby("cls").agg(
        parameters=("name", "nunique"), intervals=("covered", "size"), coverage=("covered", "mean")
    )
    by_par = df.groupby("name").covered.mean()
    se = np.sqrt(CI * (1 - CI) / reps)
    lines = [
        f"Coverage of {CI:.0%} equal-tailed credible intervals: {reps} data sets (n = {N}) simulated from",
        "a two-factor SEM with known values, fitted with std_lv on one compiled model (nutpie,",
        "2 chains x 1000 draws after 1000 tuning, blavaan's default priors).",
        f"Compile once: {compile_s:.1f} s; {reps} fits: {fit_s:.0f} s "
        f"({fit_s / reps:.2f} s per data set incl. summary).",
        "",
        by_cls.to_string(float_format=lambda x: f"{x:.3f}"),
        "",
        f"overall coverage: {df.covered.mean():.3f} over {len(df)} intervals "
        f"(expected 0.85-0.95; MC SE per parameter +-{se:.3f})",
        f"per parameter: min {by_par.min():.3f} ({by_par.idxmin()}), max {by_par.max():.3f} ({by_par.idxmax()})",
        f"max R-hat over all fits: {df.r_hat.max():.3f}; fits with any divergence: "
        f"{int((df.groupby('rep').divergences.first() > 0).sum())} of {reps}",
        "",
        "per parameter:",
        by_par.to_string(float_format=lambda x: f"{x:.3f}"),
    ]
    (RESULTS / "bayes_calibration.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 120)
