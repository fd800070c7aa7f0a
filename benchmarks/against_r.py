"""Time lavaan (R) against ``lm.fit_sem`` and bare semopy on the same data, in the same run, and
compare lavaan's estimates with ours.

Models: the Holzinger-Swineford CFA, Political Democracy and ECSI (``loyaltymodels.datasets``).
Each contender does a full fit: estimation, standard errors, the standardized solution and the fit
measures. lavaan: ``sem()`` + ``parameterEstimates(standardized = TRUE)`` + ``fitMeasures()``,
timed inside R (``Sys.time()`` around each call, after one warm-up fit), so R's start-up and
lavaan's loading are not counted. fit_sem and bare semopy (as in ``benchmarks/sem.py``) are timed
in this process, also after a warm-up. The data go to R as CSV, so all three fit the same numbers.
Medians over ``repeats`` runs.

The estimate comparison is a check independent of the published tables: the largest absolute
difference of the free parameters (``est``) and of their standard errors (``se``) between lavaan
and fit_sem.

Writes ``benchmarks/results/against_r.csv`` (one row per model, with date, load averages,
machine and versions). Needs ``Rscript`` with lavaan (Debian: ``apt-get install r-base-core
r-cran-lavaan``); nothing else in the project needs R.

Run: ``.venv/bin/python benchmarks/against_r.py [repeats]``
"""

from __future__ import annotations

import datetime as dt
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import timeit
import warnings
from pathlib import Path

import pandas as pd
import semopy

import loyaltymodels as lm
from loyaltymodels import datasets
from loyaltymodels.errors import DataWarning, SemWarning

OUT = Path(__file__).parent / "results" / "against_r.csv"
CASES = [
    ("HS CFA", datasets.HS_MODEL, datasets.load_holzinger_swineford),
    ("Political Democracy", datasets.POLDEM_MODEL, datasets.load_political_democracy),
    ("ECSI", datasets.ECSI_MODEL, datasets.load_ecsi),
]
_KEY = ["lhs", "op", "rhs"]

# One fit per call of `full`; the estimates of the last fit are printed as CSV after a marker line.
R_SCRIPT = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
model <- paste(readLines(args[1]), collapse = "\n")
data <- read.csv(args[2])
repeats <- as.integer(args[3])
full <- function() {
  fit <- sem(model, data = data)
  pe <- parameterEstimates(fit, standardized = TRUE)
  fm <- fitMeasures(fit)
  list(fit = fit, pe = pe)
}
invisible(full())
times <- numeric(repeats)
for (i in seq_len(repeats)) {
  t0 <- as.numeric(Sys.time()); res <- full(); times[i] <- as.numeric(Sys.time()) - t0
}
cat("TIMES", times * 1000, "\n")
cat("VERSION", as.character(packageVersion("lavaan")), R.version$major, R.version$minor, "\n")
cat("ESTIMATES\n")
write.csv(res$pe[res$pe$op %in% c("=~", "~", "~~"), c("lhs", "op", "rhs", "est", "se")],
          row.names = FALSE)
"""


def run_lavaan(model: str, data: pd.DataFrame, repeats: int) -> tuple[list[float], pd.DataFrame, dict]:
    """Fit ``model`` on ``data`` with lavaan in a fresh Rscript: times in ms, estimates, versions."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / name for name in ("model.lav", "data.csv", "bench.R")]
        paths[0].write_text(model)
        data.to_csv(paths[1], index=False)
        paths[2].write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", str(paths[2]), str(paths[0]), str(paths[1]), str(repeats)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    lines = out.splitlines()
    times = [float(x) for x in next(x for x in lines if x.startswith("TIMES")).split()[1:]]
    ver = next(x for x in lines if x.startswith("VERSION")).split()
    est = pd.read_csv(io.StringIO("\n".join(lines[lines.index("ESTIMATES") + 1 :])))
    return times, est, {"lavaan_version": ver[1], "r_version": f"{ver[2]}.{ver[3]}"}


def _semopy(model: str, data: pd.DataFrame) -> None:
    m = semopy.Model(model)
    m.fit(data, options={"ftol": 1e-12})
    semopy.calc_stats(m)
    m.inspect(std_est=True)


def median_ms(fun, repeats: int) -> float:
    """Median wall time (ms) of ``repeats`` calls of ``fun`` after one warm-up call."""
    fun()  # warm-up: imports, caches
    return 1000 * statistics.median(timeit.repeat(fun, number=1, repeat=repeats))


def compare_estimates(ours: pd.DataFrame, lavaan: pd.DataFrame) -> dict[str, float]:
    """Largest absolute differences of ``est`` and ``se`` over the free parameters both report."""
    mine = ours[ours.op.isin(["=~", "~", "~~"])]
    mine = mine[mine.se.notna() & (mine.se > 0)][_KEY + ["est", "se"]]
    theirs = lavaan[lavaan.se > 0]
    both = mine.merge(theirs, on=_KEY, suffixes=("", "_lavaan"))
    return {
        "compared": len(both),
        "max_abs_diff_est": float((both.est - both.est_lavaan).abs().max()),
        "max_abs_diff_se": float((both.se - both.se_lavaan).abs().max()),
    }


def main(repeats: int = 15) -> pd.DataFrame:
    warnings.simplefilter("ignore", SemWarning)
    warnings.simplefilter("ignore", DataWarning)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = []
    for name, model, load in CASES:
        data = load()
        data = data[list(lm.parse_model(model).observed)]  # only the items: R reads plain numbers
        r_times, r_est, versions = run_lavaan(model, data, repeats)
        fit = lm.fit_sem(model, data)
        rows.append(
            {
                "model": name,
                "n_obs": len(data),
                "lavaan_ms": statistics.median(r_times),
                "fit_sem_ms": median_ms(lambda m=model, d=data: lm.fit_sem(m, d), repeats),
                "semopy_ms": median_ms(lambda m=model, d=data: _semopy(m, d), repeats),
                **compare_estimates(fit.parameters, r_est),
                **versions,
            }
        )
    out = pd.DataFrame(rows)
    out["fit_sem_vs_lavaan"] = out.fit_sem_ms / out.lavaan_ms
    out["semopy_vs_lavaan"] = out.semopy_ms / out.lavaan_ms
    out = out.assign(
        date=dt.date.today().isoformat(),
        repeats=repeats,
        load_before=load_before,
        load_after=" ".join(f"{x:.2f}" for x in os.getloadavg()),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        python=platform.python_version(),
        semopy_version=semopy.__version__,
        loyaltymodels_version=lm.__version__,
    )
    OUT.parent.mkdir(exist_ok=True)
    out.to_csv(OUT, index=False, float_format="%.6g")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(out.round(4).to_string(index=False))
    print(f"written: {OUT}")
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
