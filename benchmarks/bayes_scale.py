"""fit_bayes flat in the number of respondents (run: python benchmarks/bayes_scale.py).

The Holzinger-Swineford CFA's structure on simulated data of N = 10^3 ... 10^6 respondents, each N
in a new process (so the peak resident memory is that N's): one small warm-up fit first (imports,
the compiled kernel loaded), then the timed call ``fit_bayes(HS_MODEL, data)`` with the package's
defaults (4 chains x 1000 draws after 1000 tuning). The pointwise log-likelihood is not computed by
the fit (``loo``/``waic`` compute it in blocks when asked), so the call is sufficient statistics,
sampling and post-processing. Target (issue 18): wall(10^6) <= 1.5 x wall(10^3), memory flat apart
from the data. Output: benchmarks/results/bayes_scale.txt, with the load average.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "results" / "bayes_scale.txt"
SIZES = [int(float(s)) for s in os.environ.get("BENCH_SIZES", "1e3 1e4 1e5 1e6").split()]
ONE = """
import resource, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {root!r})
import loyaltymodels as lm
from loyaltymodels.datasets import HS_MODEL
truth = ("visual =~ 0.9*x1 + 0.5*x2 + 0.7*x3\\ntextual =~ 1.0*x4 + 1.1*x5 + 0.9*x6\\n"
         "speed =~ 0.6*x7 + 0.7*x8 + 0.6*x9\\nvisual ~~ 0.4*textual + 0.3*speed\\ntextual ~~ 0.3*speed")
small, _ = lm.simulate(truth, n=300, seed=2)
lm.fit_bayes(HS_MODEL, small, seed=1, draws=50, tune=50, chains=2, progressbar=False, check=False)
data, _ = lm.simulate(truth, n={n}, seed=1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
post = lm.fit_bayes(HS_MODEL, data, seed=1, progressbar=False, check=False)
wall = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(wall, post.attrs["sampling_seconds"], before, peak, data.memory_usage().sum() / 2**20)
"""


def main() -> None:
    load0 = os.getloadavg()
    head = f"{'N':>9} {'call s':>7} {'sampling s':>10} {'peak MB before':>14} {'peak MB after':>13} {'data MB':>8}"
    lines, walls = [head], {}
    print(head, flush=True)
    for n in SIZES:
        out = subprocess.run(
            [sys.executable, "-c", ONE.format(root=str(ROOT), n=n)], capture_output=True, text=True, check=True
        ).stdout.split()
        wall, sampling, before, peak, data_mb = map(float, out[-5:])
        walls[n] = wall
        lines.append(f"{n:>9} {wall:7.2f} {sampling:10.2f} {before:14.0f} {peak:13.0f} {data_mb:8.1f}")
        print(lines[-1], flush=True)
    load1 = os.getloadavg()
    ratio = walls[max(walls)] / walls[min(walls)]
    text = [
        __doc__.strip().splitlines()[0],
        "",
        f"Machine: {os.cpu_count()} cores; load average (1, 5, 15 min) at the start: "
        f"{' '.join(f'{v:.2f}' for v in load0)}; at the end: {' '.join(f'{v:.2f}' for v in load1)}",
        "",
        *lines,
        "",
        f"wall(N={max(walls)}) / wall(N={min(walls)}) = {ratio:.2f} (target <= 1.5)",
    ]
    OUT.write_text("\n".join(text) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
