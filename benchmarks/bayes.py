"""Benchmark of the Bayesian back end on the Holzinger-Swineford CFA (run: python benchmarks/bayes.py).

In one process: compile time, sampling time (warm-up included), min bulk ESS per second and max
R-hat of the marginal sufficient-statistics form (the default: the generic numba kernel; also its
PyMC graph compiled by nutpie), the per-respondent MVN form and the conditional (latent-score)
form, with nutpie and with PyMC's NUTS. PyMC's NUTS on the respondent and conditional forms is
bounded (``BENCH_PYMC_LIMIT`` seconds, default 900): past that it is stopped and reported as
"> limit". Then the call-to-posterior time of ``fit_bayes``: for a structure compiled earlier in
the process (warm), in a new Python process with the disk caches as they are (first call), and in
a new process with empty numba and PyTensor caches (cold). 4 chains x 1000 draws after 1000
tuning, on this 2-core machine; the load average is written beside the table.
Output: benchmarks/results/bayes.txt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import loyaltymodels as lm
from loyaltymodels.bayes.fit import _parts
from loyaltymodels.bayes.sampling import clear_cache, compile_parts
from loyaltymodels.datasets import HS_MODEL, load_holzinger_swineford

OUT = Path(__file__).parent / "results" / "bayes.txt"
ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(draws=1000, tune=1000, chains=4, cores=2, check=False)
LIMIT = int(os.environ.get("BENCH_PYMC_LIMIT", 900))
REPS = int(os.environ.get("BENCH_REPS", 3))
CONFIGS = (
    ("marginal", "nutpie", "auto"),
    ("marginal", "nutpie", "pytensor"),
    ("marginal", "pymc", "auto"),
    ("respondent", "nutpie", "auto"),
    ("respondent", "pymc", "auto"),
    ("conditional", "nutpie", "auto"),
    ("conditional", "pymc", "auto"),
)


NOTES = [
    "Notes: the per-respondent form computes L^-1 (y - mu)' as one matrix product, and BLAS runs",
    "single-threaded while sampling; before, its triangular solve with 301 right-hand sides went",
    "multithreaded in OpenBLAS beside the chains (93 s under nutpie; PyMC NUTS > 4 min).",
    "The conditional form mixes poorly (R-hat up to 1.03 in 4 x 1000 draws), as docs/findings.md records.",
]


class _TimeUp(Exception):
    pass


def _alarm(signum, frame):
    raise _TimeUp


def one(form: str, sampler: str, density: str, hs, reps: int) -> dict:
    """Compile once, sample ``reps`` times (seeds 1, 2, ...); medians of time and ESS."""
    parts = _parts(HS_MODEL, hs, None, None, (), None, "fiml", form, {})
    compiled = compile_parts(parts, sampler=sampler, cache=False, density=density)
    row = dict(form=form, sampler=sampler, density=compiled.density, reps=reps)
    bounded = sampler == "pymc" and form != "marginal"
    runs = []
    for seed in range(1, reps + 1):
        if bounded:
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(LIMIT)
        try:
            post = lm.fit_compiled(compiled, seed=seed, **SETTINGS)
        except _TimeUp:
            return dict(row, timeout=LIMIT)
        finally:
            if bounded:
                signal.alarm(0)
        s = lm.bayes_summary(post)
        free = s[s.free]
        sample = post.attrs.get("sampler_seconds", post.attrs["sampling_seconds"])
        # PyMC compiles inside pm.sample: its first call's total minus its own sampling time
        compile_s = compiled.compile_seconds if sampler == "nutpie" else post.attrs["sampling_seconds"] - sample
        runs.append(
            dict(
                compile=compile_s,
                sample=sample,
                ess=free.ess_bulk.min(),
                ess_s=free.ess_bulk.min() / sample,
                rhat=free.r_hat.max(),
                div=int(post["sample_stats"]["diverging"].sum()),
            )
        )
    med = {k: float(np.median([r[k] for r in runs])) for k in ("sample", "ess", "ess_s")}
    return dict(
        row,
        compile=runs[0]["compile"],
        rhat=max(r["rhat"] for r in runs),
        div=sum(r["div"] for r in runs),
        runs=[round(r["ess_s"]) for r in runs],
        **med,
    )


def fresh_call(cold: bool) -> float:
    """fit_bayes in a new Python process, timed from the call (imports before it excluded);
    ``cold``: with empty numba and PyTensor caches."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        if cold:
            env.update(PYTENSOR_FLAGS=f"compiledir={tmp}/pt", NUMBA_CACHE_DIR=f"{tmp}/nb")
        code = (
            "import time, loyaltymodels as lm; from loyaltymodels.datasets import *; "
            "hs=load_holzinger_swineford(); t=time.perf_counter(); "
            "lm.fit_bayes(HS_MODEL, hs, seed=1, progressbar=False, check=False); "
            "print(time.perf_counter()-t)"
        )
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
        return float(res.stdout.strip().splitlines()[-1])


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    warnings.simplefilter("ignore")
    import nutpie  # noqa: F401 - imported here, so that no row's compile time holds its import
    import pymc  # noqa: F401

    hs = load_holzinger_swineford()
    info = {"load_start": load()}
    rows = []
    only = os.environ.get("BENCH_ONLY")  # e.g. "marginal/nutpie/auto,respondent/pymc/auto"
    for form, sampler, density in CONFIGS:
        if only and f"{form}/{sampler}/{density}" not in only.split(","):
            continue
        reps = 1 if (form, sampler) == ("conditional", "pymc") else REPS
        rows.append(one(form, sampler, density, hs, reps))
        print(rows[-1], flush=True)
        write(rows, info)
    clear_cache()
    lm.fit_bayes(HS_MODEL, hs, seed=1, progressbar=False, check=False)
    warm = []
    for seed in (2, 3, 4):
        t = time.perf_counter()
        lm.fit_bayes(HS_MODEL, hs, seed=seed, progressbar=False, check=False)
        warm.append(time.perf_counter() - t)
    info["warm"] = warm
    compiled = lm.compile_model(HS_MODEL, hs)  # from the cache: the power-analysis loop
    new_data = []
    for seed in (5, 6, 7):
        boot = hs.sample(len(hs), replace=True, random_state=seed).reset_index(drop=True)
        t = time.perf_counter()
        lm.fit_compiled(compiled, boot, seed=seed, **SETTINGS)
        new_data.append(time.perf_counter() - t)
    info["new_data"] = new_data
    info["first"] = [fresh_call(cold=False) for _ in range(3)]
    info["cold"] = [fresh_call(cold=True) for _ in range(2)]
    info["load_end"] = load()
    write(rows, info)


def write(rows, info) -> None:
    ref = next((r for r in rows if r["form"] == "respondent" and r["sampler"] == "pymc"), None)
    ref_ess = ref.get("ess_s", np.nan) if ref else np.nan
    lines = [
        "Holzinger-Swineford CFA (N = 301, 9 items, 30 free parameters with the mean structure),",
        "4 chains x 1000 draws after 1000 tuning, 2 cores, one process. density: kernel = the generic",
        "numba log density (compiled once per machine; 'compile' is building its input and loading it),",
        "pytensor = the PyMC graph compiled by nutpie (numba) or inside pm.sample (PyMC: total minus its",
        "sampling time). sample: s of sampling incl. warm-up; ESS/s = min bulk ESS over free parameters /",
        "sample s; x PyMC resp = ESS/s over PyMC NUTS on the per-respondent form. Each row: one",
        "compile, then medians over seeds 1-3 (PyMC NUTS on the conditional form: seed 1 only); ESS/s of",
        "each run in the last column; max R-hat and divergences over the runs.",
        f"Load average (1, 5, 15 min) at the start: {info['load_start']}"
        + (f"; at the end: {info['load_end']}" if "load_end" in info else ""),
        "",
        f"{'form':<12}{'sampler':<8}{'density':<10}{'compile s':>10}{'sample s':>10}{'min ESS':>9}"
        f"{'ESS/s':>8}{'x PyMC resp':>13}{'max R-hat':>11}{'div':>5}  ESS/s per run",
    ]
    for r in rows:
        head = f"{r['form']:<12}{r['sampler']:<8}{r['density']:<10}"
        if "timeout" in r:
            lines.append(
                head + f"{'':>10}{'> ' + str(r['timeout']):>10}   (stopped: not finished after {r['timeout']} s)"
            )
            continue
        lines.append(
            head + f"{r['compile']:>10.1f}{r['sample']:>10.2f}{r['ess']:>9.0f}"
            f"{r['ess_s']:>8.0f}{r['ess_s'] / ref_ess:>13.1f}{r['rhat']:>11.3f}{r['div']:>5}  "
            + ", ".join(map(str, r["runs"]))
        )
    if "cold" not in info:
        OUT.write_text("\n".join(lines) + "\n(incomplete run)\n")
        return
    med = lambda v: f"{np.median(v):.1f} s (" + ", ".join(f"{x:.1f}" for x in v) + ")"  # noqa: E731
    lines += [
        "",
        "fit_bayes(HS_MODEL, hs) call to posterior (nutpie, marginal form, summary-ready DataTree):",
        f"  structure already compiled in this process: {med(info['warm'])}",
        f"  fit_compiled on a new (bootstrap) data set of that structure: {med(info['new_data'])}",
        f"  first call in a new process (disk caches warm): {med(info['first'])}",
        f"  cold (new process, empty numba and PyTensor caches): {med(info['cold'])}",
        "For scale (docs/findings.md): Stan (blavaan's engine) 34 s compile + 10 s sampling, 185 ESS/s.",
        "",
        *NOTES,
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
