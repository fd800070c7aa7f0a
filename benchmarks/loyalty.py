"""Benchmark of fit_loyalty on the issue's recovery scenario (run: python benchmarks/loyalty.py).

4 sectors x 300 respondents, 0-10 items (``lm.loyalty_scenario(300, sectors=4)``), weights by
sector partially pooled; 4 chains x 1000 draws after 1000 tuning, 2 cores (nutpie). Per row: the
call-to-posterior time (compile + sampling + post-processing), min bulk ESS over the sampled
parameters (``param`` rows that are free, ``weight_mu``, ``weight_tau``, the standardized sector
weights), ESS/s = min ESS / sampling seconds, max R-hat, divergences, and recovery of the
standardized weights (MAE, 90% coverage, largest driver where the truth differs by >= 0.3).
Each row twice, in the same run: on the package's compiled density (``density="kernel"``, compiled
once per machine, the structure passed as data) and on the per-model PyTensor graph it replaces
(``density="pytensor"``; BENCH_LOYALTY_OLD=0 skips it). Rows: the first call in a new process
(imports and everything, timed from outside), the first call in this process, a new data set of the
same structure, then the nonlinear (interaction + asymmetry) and behaviour (churn) forms and 1-5
items fitted as ordinal (the conditional form; set BENCH_LOYALTY_ALL=0 to skip them). The load
average is written beside the table.
Output: benchmarks/results/loyalty.txt.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import loyaltymodels as lm

OUT = Path(__file__).parent / "results" / "loyalty.txt"
SETTINGS = dict(draws=1000, tune=1000, chains=4, cores=2, check=False)
ALL = os.environ.get("BENCH_LOYALTY_ALL", "1") != "0"
OLD = os.environ.get("BENCH_LOYALTY_OLD", "1") != "0"
COLD = """
import time, warnings
t0 = time.perf_counter()
import loyaltymodels as lm
data, _ = lm.loyalty_scenario(300, sectors=4, seed=11)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", seed=1, density="{density}", **{settings})
print(time.perf_counter() - t0, post.attrs["sampling_seconds"])
"""


def cold(density: str) -> str:
    """The first call in a new process, imports included (disk caches warm, as after install)."""
    import subprocess

    code = COLD.format(density=density, settings=SETTINGS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    total, sampling = float(out[-2]), float(out[-1])
    line = f"{'linear, first call in a new process':<38} {density:<8} {total:7.1f} {'':>8} {sampling:7.1f}"
    print(line, flush=True)
    return line


def min_ess_rhat(post) -> tuple[float, float]:
    import arviz_stats as azs

    ds = post["posterior"].dataset
    free = ds["param"].isel(parameter=np.flatnonzero(ds["param"].std(("chain", "draw")).values > 0))
    names = {
        "param": free,
        **{
            v: ds[v]
            for v in ("weight_mu", "weight_tau", "std_weight", "interaction", "asymmetry", "outcome_slope")
            if v in ds
        },
    }
    ess = min(float(np.nanmin(azs.ess(da, method="bulk").values)) for da in names.values())
    rhat = max(float(np.nanmax(azs.rhat(da).values)) for da in names.values())
    return ess, rhat


def recovery(post, truth) -> str:
    t = truth[truth.parameter.isin(["w_beliefs", "w_experience"])]
    t = t.assign(driver=t.parameter.map({"w_beliefs": "Beliefs", "w_experience": "Experience"}))
    w = lm.driver_weights(post).merge(t[["sector", "driver", "value"]], on=["sector", "driver"])
    mae = float((w["mean"] - w.value).abs().mean())
    cover = float(((w.ci_lower <= w.value) & (w.value <= w.ci_upper)).mean())
    piv = w.pivot(index="sector", columns="driver", values="value")
    clear = piv[(piv.Beliefs - piv.Experience).abs() >= 0.3 - 1e-9]
    right = sum(
        w[(w.sector == s) & (w.driver == ("Beliefs" if r.Beliefs > r.Experience else "Experience"))].prob_largest.item()
        > 0.5
        for s, r in clear.iterrows()
    )
    return f"MAE {mae:.3f}, 90% coverage {cover:.0%} ({len(w)} weights), largest right {right}/{len(clear)}"


def row(label: str, data, truth, density: str = "kernel", **kw) -> str:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", seed=1, density=density, **SETTINGS, **kw)
    total = time.perf_counter() - t0
    ess, rhat = min_ess_rhat(post)
    a = post.attrs
    div = int(post["sample_stats"]["diverging"].sum())
    line = (
        f"{label:<38} {a['density']:<8} {total:7.1f} {a['compile_seconds']:8.1f} {a['sampling_seconds']:7.1f} "
        f"{ess:8.0f} {ess / a['sampling_seconds']:7.0f} {rhat:9.3f} {div:4d}  {recovery(post, truth)}"
    )
    print(line, flush=True)
    return line


def main() -> None:
    load0 = os.getloadavg()
    lines = [
        f"{'scenario (4 sectors x 300, 0-10 items)':<38} {'density':<8} {'total s':>7} {'compile':>8} {'sample':>7} "
        f"{'min ESS':>8} {'ESS/s':>7} {'max R-hat':>9} {'div':>4}  recovery of standardized weights"
    ]
    print(lines[0], flush=True)
    densities = ["kernel", "pytensor"] if OLD else ["kernel"]
    lines += [cold(d) for d in densities]
    data, truth = lm.loyalty_scenario(300, sectors=4, seed=11)
    data2, truth2 = lm.loyalty_scenario(300, sectors=4, seed=12)
    for d in densities:
        lines.append(row("linear, first call in this process", data, truth, d))
        lines.append(row("linear, new data, same structure", data2, truth2, d))
    if ALL:
        d3, t3 = lm.loyalty_scenario(300, sectors=4, interaction=0.2, asymmetry=0.4, seed=13)
        d4, t4 = lm.loyalty_scenario(300, sectors=4, outcomes={"churn": -1.2}, seed=14)
        d5, t5 = lm.loyalty_scenario(300, sectors=4, scale=(1, 5), seed=15)  # ordinal by default
        for d in densities:
            lines.append(row("interaction + asymmetry", d3, t3, d, interaction=True, asymmetry=True))
            lines.append(row("behaviour (churn)", d4, t4, d, outcomes={"churn": "churn"}))
            lines.append(row("ordinal items (1-5, every score sampled)", d5, t5, d))
    load1 = os.getloadavg()
    head = [
        __doc__.strip().splitlines()[0],
        "",
        f"Machine: {os.cpu_count()} cores; load average (1, 5, 15 min) at the start: "
        f"{' '.join(f'{v:.2f}' for v in load0)}; at the end: {' '.join(f'{v:.2f}' for v in load1)}",
        f"Settings: {SETTINGS}. Targets (issue 18): linear first call in a new process <= 5 s, warm <= 2 s,"
        " min ESS/s >= 300; interaction + asymmetry and churn <= 10 s warm, >= 100 min ESS/s.",
        "",
    ]
    OUT.write_text("\n".join(head + lines) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
