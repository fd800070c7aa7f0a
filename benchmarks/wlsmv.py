"""WLSMV on the bundled ECSI survey: the beliefs/experience -> loyalty model with all 14 items
ordered (0-10 ratings, 8-11 categories observed per item), as a client survey would be fitted.

Times the whole ``fit_sem(..., ordered=True)`` call (thresholds, 91 polychoric correlations and
their 223 x 223 asymptotic covariance, DWLS, robust SEs, scaled-shifted test), its two stages, and
the ML (MLR) fit of the same model for scale, in one process. Target (issue 23): seconds, not minutes.

Run: ``.venv/bin/python benchmarks/wlsmv.py [repeats]``
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings

import numpy as np

import loyaltymodels as lm
from loyaltymodels import datasets
from loyaltymodels.errors import SemWarning
from loyaltymodels.sem.polychoric import ordinal_stats


def main(repeats: int = 5) -> None:
    warnings.simplefilter("ignore", SemWarning)
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    data = datasets.load_ecsi()
    model = datasets.BELIEFS_EXPERIENCE_MODEL
    items = [v for v in lm.parse_model(model).observed]
    codes, ncat = [], []
    for v in items:
        levels, c = np.unique(data[v].to_numpy(), return_inverse=True)
        codes.append(c)
        ncat.append(len(levels))
    codes_arr = np.column_stack(codes)
    fit = lm.fit_sem(model, data, ordered=True)  # warm-up (imports)
    timings: dict[str, list[float]] = {"fit_sem WLSMV": [], "polychorics + Gamma": [], "fit_sem MLR": []}
    for _ in range(repeats):
        t = time.perf_counter()
        fit = lm.fit_sem(model, data, ordered=True)
        timings["fit_sem WLSMV"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ordinal_stats(codes_arr, ncat)
        timings["polychorics + Gamma"].append(time.perf_counter() - t)
        t = time.perf_counter()
        lm.fit_sem(model, data, estimator="MLR")
        timings["fit_sem MLR"].append(time.perf_counter() - t)
    print(f"# ECSI beliefs/experience -> loyalty, N = {len(data)}, {len(items)} ordered items, median of {repeats}")
    for key, values in timings.items():
        print(f"{key:<22}{statistics.median(values):8.3f} s")
    fm = fit.fit_measures
    print(
        f"# DWLS chisq {fm['chisq']:.3f} on {int(fm['df'])} df; scaled-shifted {fm['chisq_scaled']:.3f} "
        f"(scaling factor {fm['chisq_scaling_factor']:.3f}, shift {fit.info['chisq_shift_parameter']:.3f}); "
        f"CFI scaled {fm['cfi_scaled']:.3f}, RMSEA scaled {fm['rmsea_scaled']:.3f}; "
        f"{fit.info['iterations']} DWLS iterations, {int(fm['npar'])} parameters"
    )
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
