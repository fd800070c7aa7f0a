"""Time a full ``lm.fit_sem`` (fit + SEs + standardized solution with delta-method SEs + fit
measures + admissibility checks) against a bare semopy fit of the same model, in one process.

Bare semopy = ``semopy.Model(desc).fit(df, options={"ftol": 1e-12})`` (the tolerance at which it
agrees with lavaan, see ../shared/FINDINGS.md) + ``semopy.calc_stats`` + ``inspect(std_est=True)``.
semopy is timed twice: as users run it (default BLAS threads) and with one BLAS thread, which is
what fit_sem uses (threads only slow small matrices down on a shared machine). Runs alternate
between the contenders and the median of the repeats is reported. Target: ratio <= 1.5.

Run: ``.venv/bin/python benchmarks/sem.py [repeats]``
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

import semopy
from threadpoolctl import threadpool_limits

import loyaltymodels as lm
from loyaltymodels import datasets
from loyaltymodels.errors import SemWarning

CASES = [("HS CFA", datasets.HS_MODEL, datasets.load_holzinger_swineford),
         ("Political Democracy", datasets.POLDEM_MODEL, datasets.load_political_democracy),
         ("ECSI", datasets.ECSI_MODEL, datasets.load_ecsi)]


def _ours(model, data):
    return lm.fit_sem(model, data)


def _semopy(model, data):
    m = semopy.Model(model)
    m.fit(data, options={"ftol": 1e-12})
    semopy.calc_stats(m)
    m.inspect(std_est=True)
    return m


def _semopy_one_thread(model, data):
    with threadpool_limits(1, user_api="blas"):
        return _semopy(model, data)


def _time(fun, *args) -> float:
    start = time.perf_counter()
    fun(*args)
    return time.perf_counter() - start


def main(repeats: int = 7) -> None:
    warnings.simplefilter("ignore", SemWarning)
    contenders = {"fit_sem": _ours, "semopy": _semopy, "semopy 1 thread": _semopy_one_thread}
    print(f"{'model':<21}{'fit_sem ms':>11}{'semopy ms':>11}{'ratio':>7}{'semopy(1t) ms':>15}{'ratio':>7}")
    for name, model, load in CASES:
        data = load()
        for fun in contenders.values():  # warm-up: imports, caches
            fun(model, data)
        times = {k: [] for k in contenders}
        for _ in range(repeats):
            for key, fun in contenders.items():
                times[key].append(_time(fun, model, data))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{name:<21}{med['fit_sem'] * 1e3:11.1f}{med['semopy'] * 1e3:11.1f}"
              f"{med['fit_sem'] / med['semopy']:7.2f}{med['semopy 1 thread'] * 1e3:15.1f}"
              f"{med['fit_sem'] / med['semopy 1 thread']:7.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
