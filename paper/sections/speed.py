"""Speed: fit_sem against bare semopy measured live; lavaan and the Bayesian samplers read from
recorded benchmark runs (``benchmarks/results/``), so building the paper needs neither R nor Stan.
"""

from __future__ import annotations

import os
import re
import statistics
import timeit
import warnings
from pathlib import Path

import pandas as pd
import semopy
from threadpoolctl import threadpool_limits

import loyaltymodels as lm
from loyaltymodels import datasets
from loyaltymodels.errors import DataWarning, SemWarning

from .common import Section, num, word
from .studies import against_r

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
CASES = [
    ("HS CFA", datasets.HS_MODEL, datasets.load_holzinger_swineford),
    ("Political Democracy", datasets.POLDEM_MODEL, datasets.load_political_democracy),
    ("ECSI", datasets.ECSI_MODEL, datasets.load_ecsi),
]


def _semopy(model: str, data: pd.DataFrame) -> None:
    # The same bare fit as benchmarks/sem.py: lavaan's tolerance, statistics, standardized solution.
    with threadpool_limits(1, user_api="blas"):
        m = semopy.Model(model)
        m.fit(data, options={"ftol": 1e-12})
        semopy.calc_stats(m)
        m.inspect(std_est=True)


def median_ms(fun, repeats: int) -> float:
    """Median wall time (ms) of ``repeats`` calls of ``fun`` after one warm-up call."""
    fun()  # warm-up: imports, caches
    return 1000 * statistics.median(timeit.repeat(fun, number=1, repeat=repeats))


def live_sem(repeats: int) -> pd.DataFrame:
    """fit_sem and bare semopy (one BLAS thread), median ms over ``repeats``, in this process."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        warnings.simplefilter("ignore", DataWarning)
        for name, model, load in CASES:
            data = load()
            rows.append(
                {
                    "model": name,
                    "fit_sem ms": median_ms(lambda m=model, d=data: lm.fit_sem(m, d), repeats),
                    "semopy ms": median_ms(lambda m=model, d=data: _semopy(m, d), repeats),
                }
            )
    out = pd.DataFrame(rows)
    out["fit_sem / semopy"] = out["fit_sem ms"] / out["semopy ms"]
    return out


def recorded_bayes(path: Path = RESULTS / "bayes.txt") -> dict[str, float]:
    """The kernel and PyMC NUTS rows (marginal form) and the recorded Stan figures of bayes.txt."""
    text = path.read_text()
    out = {}
    for key, pattern in (
        ("kernel", r"^marginal\s+nutpie\s+kernel\s+(.*)$"),
        ("pymc", r"^marginal\s+pymc\s+pytensor\s+(.*)$"),
    ):
        cells = re.search(pattern, text, re.M).group(1).split()
        out |= {
            f"{key}_compile_s": float(cells[0]),
            f"{key}_sample_s": float(cells[1]),
            f"{key}_ess_s": float(cells[3]),
        }
    stan = re.search(r"Stan \(blavaan's engine\) (\d+) s compile \+ (\d+) s sampling, (\d+) ESS/s", text)
    out |= {
        "stan_compile_s": float(stan.group(1)),
        "stan_sample_s": float(stan.group(2)),
        "stan_ess_s": float(stan.group(3)),
    }
    load = re.search(r"Load average \(1, 5, 15 min\) at the start: ([\d. ]+);", text).group(1).split()
    out["load_1min"] = float(load[0])
    return out


def make(fast: bool) -> Section:
    """Live fit_sem vs semopy table, recorded lavaan table, recorded Bayesian figures."""
    live = live_sem(5 if fast else 15)
    rec = against_r()
    lav = rec[["model", "lavaan_ms", "fit_sem_ms", "semopy_ms", "fit_sem_vs_lavaan"]].rename(
        columns={
            "lavaan_ms": "lavaan ms",
            "fit_sem_ms": "fit_sem ms",
            "semopy_ms": "semopy ms (default threads)",
            "fit_sem_vs_lavaan": "fit_sem / lavaan",
        }
    )
    b = recorded_bayes()
    r0 = rec.iloc[0]
    n = {
        "live_ratio_max": num(live["fit_sem / semopy"].max(), 2),
        "live_ratio_min": num(live["fit_sem / semopy"].min(), 2),
        "cores": word(str(os.cpu_count())),
        "load": num(os.getloadavg()[0], 1),
        "lavaan_ratio_max": num(rec.fit_sem_vs_lavaan.max(), 2),
        "lavaan_ratio_min": num(rec.fit_sem_vs_lavaan.min(), 2),
        "lavaan_hs_ms": num(rec.set_index("model").lavaan_ms["HS CFA"], 0),
        "lavaan_version": word(r0.lavaan_version),
        "r_version": word(r0.r_version),
        "lavaan_date": word(r0.date),
        "lavaan_load": word(r0.load_before.split()[0]),
        "lavaan_repeats": word(str(r0.repeats)),
        "kernel_ess_s": num(b["kernel_ess_s"], 0),
        "kernel_sample_s": num(b["kernel_sample_s"], 2),
        "pymc_ess_s": num(b["pymc_ess_s"], 0),
        "stan_ess_s": num(b["stan_ess_s"], 0),
        "stan_compile_s": num(b["stan_compile_s"], 0),
        "stan_sample_s": num(b["stan_sample_s"], 0),
        "kernel_vs_pymc": num(b["kernel_ess_s"] / b["pymc_ess_s"], 1),
        "kernel_vs_stan": num(b["kernel_ess_s"] / b["stan_ess_s"], 1),
        "bayes_load": num(b["load_1min"], 1),
    }
    return Section(numbers=n, tables={"speed_live": live.round(2), "speed_lavaan": lav.round(2)})
