"""Power analysis on Dask: throughput, scaling, set-up reuse, false positives at effect 0, and the
time of a Bayesian replication with the compiled model reused.

1. SEM replications per second (wall time of ``power_analysis``, store writes and summary included)
   on a warm 1-worker and 2-worker ``LocalCluster`` (one single-threaded process per core), tasks
   sized by time (the default); target >= 1.7x on 2 cores. The two runs use the same seed and must
   give identical tables.
2. Task size: replications per Dask task (1, 5, 20) on 2 workers; and per-worker set-up reuse (the
   parsed model kept on the worker) against parsing it in every replication. Then the speed-up
   against the time of one replication (about 1 ms with no model to 0.3 s for a 3-sector
   questionnaire model), with one replication per task and with tasks sized by time: a task costs
   the scheduler, the shipping of its records and one Parquet append on the client whatever it
   holds, so with one replication per task the speed-up collapses when a replication is short.
3. False-positive rate at effect 0 (equal weights in both sectors): must stay within the Monte
   Carlo interval of 5%; and a power curve with a clear effect. Also: does a warm start (the
   previous replication's estimates) save optimiser iterations over fit_sem's covariance-based
   starting values?
4. Bayesian replications on one worker: the first (building and compiling the model) against the
   following ones (compiled model reused).

Run when the machine is quiet: ``.venv/bin/python benchmarks/power.py``; writes
``benchmarks/results/power.txt`` (and ``power_curve.png``) as it goes.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import loyaltymodels as lm

RESULTS = Path(__file__).parent / "results"
SCENARIO = lm.loyalty_power_scenario(weights={"retail": (0.45, 0.25), "banking": (0.3, 0.3)})
NULL = lm.loyalty_power_scenario(weights={"retail": (0.35, 0.35), "banking": (0.3, 0.3)})
TARGETS = [lm.weights_differ("retail"), lm.weights_differ("banking")]


class Report:
    def __init__(self, path: Path) -> None:
        self.file = path.open("w")

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()


def _cluster(workers: int):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    )
    return cluster, Client(cluster)


def _timed(**kwargs) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The result, its records (one row per replication) and the wall time (store writes included)."""
    with tempfile.TemporaryDirectory() as store:
        start = time.perf_counter()
        res = lm.power_analysis(progress=False, store=store, **kwargs)
        wall = time.perf_counter() - start
        records = lm.read_power_records(store)
    return res, records.drop_duplicates(["n", "rep"]), wall


def _warm(client, workers: int, estimator: str = "sem", **kw) -> None:
    """Import the package and set the model up on every worker before timing."""
    lm.power_analysis(
        SCENARIO,
        n=[200],
        reps=2 * workers,
        seed=0,
        client=client,
        batch_size=1,
        target=TARGETS,
        estimator=estimator,
        progress=False,
        **kw,
    )


def throughput(say, reps: int) -> None:
    say(f"## 1-2. SEM throughput: 2 sectors x n = 200, {reps} replications, targets {[t.name for t in TARGETS]}")
    rate, tables = {}, {}
    for workers in (1, 2):
        cluster, client = _cluster(workers)
        try:
            _warm(client, workers)
            cpu = time.process_time()
            res, rec, dt = _timed(scenario=SCENARIO, n=[200], reps=reps, seed=1, target=TARGETS, client=client)
            cpu = time.process_time() - cpu
            rate[workers], tables[workers] = reps / dt, res
            per_rep = rec.elapsed.median()
            say(
                f"{workers} worker(s): {rate[workers]:6.2f} replications/s  ({dt:5.1f} s wall; median "
                f"{1000 * per_rep:.0f} ms per replication inside the worker; tasks of "
                f"{res.attrs['batch_size']} after the probe; client and scheduler CPU {cpu:.1f} s)"
            )
            if workers == 2:
                for size in (1, 5, 20):
                    _, _, dt = _timed(
                        scenario=SCENARIO, n=[200], reps=reps, seed=1, target=TARGETS, client=client, batch_size=size
                    )
                    say(f"   batch_size={size:<3}: {reps / dt:6.2f} replications/s")
            else:
                small = max(20, reps // 5)
                for reuse in (True, False):
                    _, rec, dt = _timed(
                        scenario=SCENARIO, n=[200], reps=small, seed=2, target=TARGETS, client=client, reuse=reuse
                    )
                    per = rec.elapsed.median()
                    say(
                        f"   model set up once per worker={reuse!s:<5}: median {1000 * per:.0f} ms per "
                        f"replication ({small / dt:.2f} replications/s)"
                    )
        finally:
            client.close()
            cluster.close()
    same = tables[1].equals(tables[2])
    say(f"speed-up 2 workers / 1 worker: {rate[2] / rate[1]:.2f}x (target >= 1.7x); identical results: {same}")
    say(f"load after section 1: {_load()}")


# -- speed-up against the time of one replication ------------------------------------------------
def _two_samples(n, rng):
    """No model: two groups of n, the target a t test (a replication costs about a millisecond)."""
    data = pd.DataFrame({"g": np.repeat([0, 1], n), "x": rng.normal(0, 1, 2 * n) + np.repeat([0.0, 0.3], n)})
    return data, pd.DataFrame({"parameter": ["difference"], "value": [0.3]})


def _t_test(data, truth) -> bool:
    from scipy import stats

    return bool(stats.ttest_ind(data.x[data.g == 1], data.x[data.g == 0]).pvalue < 0.05)


def _questionnaire_scenario():
    """The default questionnaire (27 questions, 4 factors) in 3 sectors: a heavier SEM replication."""
    import dataclasses

    from loyaltymodels.design.effects import QuestionnaireDraw

    weights = {"retail": (0.3, 0.1, 0.3), "banking": (0.2, 0.1, 0.4), "telecom": (0.1, 0.1, 0.5)}
    q = lm.questionnaire(items_per_construct=3, sectors=list(weights))
    core = dataclasses.replace(q, items=q.items[q.items.factor != ""].reset_index(drop=True))
    scenario = lm.Scenario(
        QuestionnaireDraw(core, weights, 0.4, 0.75),
        model=q.to_syntax(),
        fit_options={"group": "sector", "group_equal": ("loadings", "intercepts")},
    )
    return scenario, [lm.weights_differ(s, beliefs="Beliefs", experience="Experience") for s in weights]


def per_replication_time(say) -> None:
    """How the 2-worker speed-up depends on the work in one replication, with one replication per
    task (batch_size=1) and with tasks sized by time (the default)."""
    heavy, heavy_targets = _questionnaire_scenario()
    cases = [
        ("no model (t test on 2 x 100)", dict(scenario=_two_samples, estimator="none", target=_t_test, n=[100]), 2000),
        ("SEM, 2 sectors x 50", dict(scenario=SCENARIO, target=TARGETS, n=[50]), 200),
        ("SEM, 2 sectors x 200", dict(scenario=SCENARIO, target=TARGETS, n=[200]), 200),
        ("SEM, questionnaire 3 sectors x 300", dict(scenario=heavy, target=heavy_targets, n=[300]), 40),
    ]
    say()
    say("## Speed-up against the time of one replication (2 workers / 1 worker, same replications)")
    say(f"load at start: {_load()}")
    times: dict = {}
    for workers in (1, 2):
        cluster, client = _cluster(workers)
        try:
            for label, kw, reps in cases:
                warm = dict(kw, reps=2 * workers, seed=0, client=client, batch_size=1, progress=False)
                lm.power_analysis(**warm)
                for size in (1, None):
                    res, rec, dt = _timed(seed=1, reps=reps, client=client, batch_size=size, **kw)
                    times[(label, workers, size)] = (dt, rec.elapsed.median(), res.attrs["batch_size"])
        finally:
            client.close()
            cluster.close()
    say("| replication | median time in the worker | 1 worker, rep/s | 2 workers, batch 1 | 2 workers, by time |")
    say("|---|---|---|---|---|")
    for label, _, reps in cases:
        one = times[(label, 1, None)]
        t1 = reps / one[0]
        b1 = reps / times[(label, 2, 1)][0]
        auto = times[(label, 2, None)]
        say(
            f"| {label} | {1000 * one[1]:.1f} ms | {t1:.1f} | {b1:.1f} ({b1 / (reps / times[(label, 1, 1)][0]):.2f}x) "
            f"| {reps / auto[0]:.1f} ({reps / auto[0] / t1:.2f}x, tasks of {auto[2]}) |"
        )
    say(f"load at end: {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def false_positives_and_curve(say, reps_null: int, reps_curve: int) -> None:
    cluster, client = _cluster(2)
    try:
        _warm(client, 2)
        say()
        say(
            f"## 3. Effect 0: equal weights in both sectors, n = 200 per sector, {reps_null} replications, "
            "two-sided Wald test at 5%"
        )
        res, _, dt = _timed(scenario=NULL, n=[200], reps=reps_null, seed=7, target=TARGETS, client=client)
        cols = [
            "quantity",
            "n_per_sector",
            "reps",
            "n_failed",
            "n_detected",
            "power",
            "power_lower",
            "power_upper",
            "bias",
            "rmse",
            "sd",
            "mean_se",
        ]
        say(res[cols].round(4).to_string(index=False))
        ok = (
            (res.query("kind == 'target'").power_lower <= 0.05) & (res.query("kind == 'target'").power_upper >= 0.05)
        ).all()
        say(f"5% inside every 95% Wilson interval: {ok}  ({dt:.0f} s)")
        say()
        say(f"## Power curve: retail (0.45, 0.25), banking (0.30, 0.30); {reps_curve} replications per n")
        res, _, dt = _timed(
            scenario=SCENARIO, n=[50, 100, 200, 400], reps=reps_curve, seed=8, target=TARGETS, client=client
        )
        say(res.query("kind == 'target'")[cols[:8]].round(3).to_string(index=False))
        say(f"({dt:.0f} s)")
        fig = lm.plot_power(res, nominal=0.05)
        fig.savefig(RESULTS / "power_curve.png", dpi=110, bbox_inches="tight")
    finally:
        client.close()
        cluster.close()


def bayes(say, reps: int) -> None:
    say()
    opts = {"draws": 1000, "tune": 1000, "chains": 4}
    say(f"## 4. Bayesian replications on 1 worker (nutpie, {opts}, cores=1), {reps} replications, n = 200")
    cluster, client = _cluster(1)
    try:
        lm.power_analysis(
            SCENARIO, n=[20], reps=1, seed=0, client=client, target=lm.Target.from_callable(_noop), progress=False
        )  # imports only: the Bayesian model is not touched
        res, rec, dt = _timed(
            scenario=SCENARIO,
            n=[200],
            reps=reps,
            seed=3,
            target=TARGETS,
            client=client,
            estimator="bayes",
            fit_options=opts,
            batch_size=1,
        )
        first = rec[rec.setup].elapsed
        reused = rec[~rec.setup].elapsed
        say(f"first replication (build + compile + sample): {first.iloc[0]:.1f} s")
        say(
            f"later replications (compiled model reused): median {reused.median():.2f} s, "
            f"range {reused.min():.2f}-{reused.max():.2f} s ({len(reused)} replications)"
        )
        say(f"converged {int(rec.converged.sum())}/{len(rec)}; wall {dt:.0f} s")
        say(
            res.query("kind == 'target'")[["quantity", "power", "n_failed", "bias", "rmse"]]
            .round(3)
            .to_string(index=False)
        )
    finally:
        client.close()
        cluster.close()


def start_values(say, count: int = 30) -> None:
    """Does a warm start (the previous replication's estimates) beat fit_sem's own starting values?"""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from loyaltymodels.sem import engine

    say()
    say(f"## SEM start values: {count} data sets (2 sectors x n = 200), one BLAS thread, in-process")
    warm, its, times = None, {"fit_sem starts": [], "warm start": []}, {"fit_sem starts": [], "warm start": []}
    with threadpool_limits(1, user_api="blas"):
        for k in range(count):
            data, truth = SCENARIO.generate(200, np.random.default_rng(k))
            fit = lm.fit_sem(truth.attrs["model"], data, **SCENARIO.fit_options)
            problem, cons = fit.problem, engine.constraints(fit.problem)
            for label, start in (("fit_sem starts", engine.start_values(problem)), ("warm start", warm)):
                if start is None:
                    continue
                t0 = time.perf_counter()
                opt = engine.optimize(problem, start, cons)
                times[label].append(time.perf_counter() - t0)
                its[label].append(opt.iterations)
            warm = fit.theta
    for label in its:
        say(f"{label:<15}: {np.mean(its[label]):5.1f} iterations, median {1000 * np.median(times[label]):.0f} ms")


def _noop(fit, truth) -> bool:
    return False


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    say = Report(RESULTS / "power.txt")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    say(f"# benchmarks/power.py, {datetime.date.today()}, {os.cpu_count()}-core shared machine (load at start {load})")
    throughput(say, reps)
    per_replication_time(say)
    start_values(say)
    false_positives_and_curve(say, reps_null=1000, reps_curve=200)
    bayes(say, reps=6)
    say()
    say(f"load at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
