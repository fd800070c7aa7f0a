"""Benchmark of the Bayesian back end on the Holzinger-Swineford CFA (run: python benchmarks/bayes.py).

In one process: compile time, sampling time (warm-up included), min bulk ESS per second and max
R-hat of the marginal sufficient-statistics form (the default), the per-respondent MVN form and the
conditional (latent-score) form, with nutpie and with PyMC's NUTS; then the call-to-posterior time
of ``fit_bayes`` for a structure compiled earlier in the process, and, in a subprocess with empty
PyTensor/numba caches, the time of a first, cold ``fit_bayes``. 4 chains x 1000 draws after 1000
tuning, on this 2-core machine. Output: benchmarks/results/bayes.txt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import loyaltymodels as lm  # noqa: E402
from loyaltymodels.bayes import _parts  # noqa: E402
from loyaltymodels.datasets import HS_MODEL, load_holzinger_swineford  # noqa: E402
from loyaltymodels.sampling import clear_cache, compile_parts  # noqa: E402

OUT = Path(__file__).parent / "results" / "bayes.txt"
SETTINGS = dict(draws=1000, tune=1000, chains=4, cores=2, check=False)


def one(form: str, sampler: str, hs) -> dict:
    t0 = time.perf_counter()
    parts = _parts(HS_MODEL, hs, None, None, (), None, "fiml", form, {})
    compiled = compile_parts(parts, sampler=sampler, cache=False)
    post = lm.fit_compiled(compiled, seed=1, **SETTINGS)
    total = time.perf_counter() - t0
    s = lm.bayes_summary(post)
    free = s[s.free]
    sample = post.attrs.get("sampler_seconds", post.attrs["sampling_seconds"])
    compile_s = compiled.compile_seconds if sampler == "nutpie" else post.attrs["sampling_seconds"] - sample
    div = int(post["sample_stats"]["diverging"].sum())
    return dict(form=form, sampler=sampler, compile=compile_s, sample=sample, ess=free.ess_bulk.min(),
                ess_s=free.ess_bulk.min() / sample, rhat=free.r_hat.max(), div=div, total=total)


def cold_call() -> float:
    """A first fit_bayes in a fresh process with empty PyTensor and numba caches."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTENSOR_FLAGS=f"compiledir={tmp}/pt", NUMBA_CACHE_DIR=f"{tmp}/nb")
        code = ("import time, loyaltymodels as lm; from loyaltymodels.datasets import *; hs=load_holzinger_swineford();"
                "t=time.perf_counter(); lm.fit_bayes(HS_MODEL, hs, seed=1, progressbar=False, check=False);"
                "print(time.perf_counter()-t)")
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[1])
        return float(res.stdout.strip().splitlines()[-1])


def main() -> None:
    warnings.simplefilter("ignore")
    hs = load_holzinger_swineford()
    rows = []
    for form, sampler in (("marginal", "nutpie"), ("marginal", "pymc"), ("conditional", "nutpie"),
                          ("respondent", "nutpie"), ("respondent", "pymc"), ("conditional", "pymc")):
        if sampler == "pymc" and form != "marginal" and os.environ.get("BENCH_SKIP_SLOW_PYMC"):
            continue
        rows.append(one(form, sampler, hs))
        print(rows[-1], flush=True)
        write(rows, None)
    clear_cache()
    t = time.perf_counter()
    lm.fit_bayes(HS_MODEL, hs, seed=1, progressbar=False, check=False)
    first = time.perf_counter() - t
    calls = []
    for seed in (2, 3, 4):
        t = time.perf_counter()
        lm.fit_bayes(HS_MODEL, hs, seed=seed, progressbar=False, check=False)
        calls.append(time.perf_counter() - t)
    cold = cold_call()
    write(rows, (cold, first, calls))


def write(rows, calls_info) -> None:
    ref = next((r for r in rows if r["form"] == "respondent" and r["sampler"] == "pymc"), None)
    ref = ref["ess_s"] if ref else np.nan
    lines = ["Holzinger-Swineford CFA (N = 301, 9 items, 30 free parameters with the mean structure),",
             "4 chains x 1000 draws after 1000 tuning, 2 cores. compile: s to compile (nutpie: numba;",
             "PyMC: inside pm.sample, total minus its sampling time); sample: s of sampling incl. warm-up;",
             "ESS/s = min bulk ESS over free parameters / sample s; x PyMC resp = ESS/s over PyMC NUTS on",
             "the per-respondent form.", "",
             f"{'form':<12}{'sampler':<9}{'compile s':>10}{'sample s':>10}{'min ESS':>9}{'ESS/s':>8}"
             f"{'x PyMC resp':>13}{'max R-hat':>11}{'div':>5}"]
    for r in rows:
        lines.append(f"{r['form']:<12}{r['sampler']:<9}{r['compile']:>10.1f}{r['sample']:>10.2f}{r['ess']:>9.0f}"
                     f"{r['ess_s']:>8.0f}{r['ess_s'] / ref:>13.1f}{r['rhat']:>11.3f}{r['div']:>5}")
    if calls_info is None:
        OUT.write_text("\n".join(lines) + "\n(incomplete run)\n")
        return
    cold, first, calls = calls_info
    lines += ["", "fit_bayes(HS_MODEL, hs) call to posterior (nutpie, marginal form, summary-ready DataTree):",
              f"  cold (fresh process, empty PyTensor/numba caches): {cold:.1f} s",
              f"  first call in a process (disk caches warm):        {first:.1f} s",
              f"  structure already compiled in the process:         {np.median(calls):.1f} s "
              f"(median of {len(calls)}: {', '.join(f'{c:.1f}' for c in calls)})",
              "For scale (FINDINGS): Stan (blavaan's engine) 34 s compile + 10 s sampling, 185 ESS/s."]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
