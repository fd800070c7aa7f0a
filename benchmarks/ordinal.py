"""Ordinal vs continuous 5-point items in the loyalty model (issue 20, point 3), and what the
compiled density did to the ordinal fits' cost (issue 18).

Data: tests/loyalty/test_ordinal.py::numpy_truth(300, seed=0), a truth written in NumPy: 2 sectors x
300, beliefs B and experience E ~ N(0, 1) with correlation 0.3, loyalty 0.6 B + 0.3 E (+ surface arm:
- 0.2 (E^2 - 1)) + e with Var(e) = 0.442; three items per latent (loading 0.8 on a unit-variance
latent response) cut into 5 points, drivers' items skewed high (72% answer 4-5), loyalty's low (5%);
outcome arm: churn ~ Bernoulli(logit^-1(-1 - L)). Truth: raw beliefs weight (loyalty residual SDs
per beliefs SD) 0.6 / 0.665 = 0.902 in every arm (the surface's b1).
Fits: fit_loyalty(..., sector="sector", draws=300, tune=300, chains=2, seed=1) as the fast test
tests/loyalty/test_ordinal.py::test_ordinal_items_cover_the_truth_where_continuous_ones_do_not
(whose continuous surface arm runs 100 + 100); ordinal = "auto" (every item ordinal, the conditional
form) vs None (continuous). ``--before``: the linear ordinal fit again on the PyMC graph
(density="pytensor", a fresh compile) in the same run.

Run: ``python benchmarks/ordinal.py [--before]`` (about 5 minutes; 10 more with --before); writes
benchmarks/results/ordinal.txt (the previous run's text is kept below the new one).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import loyaltymodels as lm  # noqa: E402
from tests.loyalty.test_ordinal import B5, MODEL, SD_E, W, numpy_truth  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "ordinal.txt"
SAMPLER = dict(draws=300, tune=300, chains=2, seed=1, progressbar=False, check=False)
FORMS = {"linear": {}, "outcome": dict(outcomes={"churn": "churn"}), "surface": dict(surface=True)}


def row(form: str, items: str, post, seconds: float, truth: float) -> str:
    from arviz_stats import ess, rhat

    table = lm.driver_weights(post, scale="raw").query("driver == 'Beliefs' and sector != 'pooled'")
    cells = [f"{r.mean:.3f} [{r.ci_lower:.3f}, {r.ci_upper:.3f}]" for r in table.itertuples()]
    covers = ", ".join("yes" if r.ci_lower <= truth <= r.ci_upper else "no" for r in table.itertuples())
    ds = post["posterior"].to_dataset()[["weight_mu", "param"]]
    worst = float(max(rhat(ds).to_array().max(), 0.0))
    least = float(ess(ds, method="bulk").to_array().min())
    div = int(post["sample_stats"]["diverging"].sum())
    n = post["sample_stats"]["diverging"].size
    a = post.attrs
    return (
        f"{form:8s} {items:11s} {a['density']:9s} {cells[0]:24s} {cells[1]:24s} {covers:9s} "
        f"{div:4d}/{n:<4d} {worst:6.2f} {least:7.0f} {seconds:7.1f} "
        f"{a['compile_seconds']:7.1f} {a['sampling_seconds']:7.1f}"
    )


def main() -> None:
    before = "--before" in sys.argv
    lines = [*__doc__.split("\n\nRun:")[0].splitlines(), ""]
    lines.append(f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; load average at the start: {os.getloadavg()}")
    lines.append("")
    lines.append(
        "form     items       density   beliefs raw, sector a       sector b                 covers    div       "
        "r-hat min ESS   total compile  sample"
    )
    truth = W[0] / SD_E
    warnings.simplefilter("ignore")
    for form, kw in FORMS.items():
        data = numpy_truth(300, seed=0, b5=B5 if form == "surface" else 0.0, churn=form == "outcome")
        arms = [("ordinal", "auto", {}), ("continuous", None, dict(draws=100, tune=100) if form == "surface" else {})]
        if before and form == "linear":
            arms.append(("ordinal", "auto", dict(density="pytensor")))
        for items, ordinal, extra in arms:
            t0 = time.perf_counter()
            post = lm.fit_loyalty(MODEL, data, sector="sector", ordinal=ordinal, **(SAMPLER | kw | extra))
            lines.append(row(form, items, post, time.perf_counter() - t0, truth))
            print(lines[-1], flush=True)
    lines.append(f"load average at the end: {os.getloadavg()}")
    lines.append(
        "r-hat and min ESS over weight_mu and the table's rows; divergences of all draws; seconds of the whole call."
    )
    old = OUT.read_text() if OUT.exists() else ""
    OUT.write_text("\n".join(lines) + "\n\n-- previous run --\n" + old)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
