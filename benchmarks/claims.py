"""Replications of issue 19's loyalty claims, each on and off, on truths written here in NumPy.

Every condition draws 2 sectors x 250 respondents from a truth written below (independent of the
package's generators), fits the loyalty model the claim needs, and records the 90% intervals of
the quantities whose truth is known and the claim's verdict. Over replications:

- **coverage** of the 90% intervals (target 85-95%);
- **verdicts**: the rate at which each claim is reported -- a *false-positive rate* where the truth
  does not hold the claim (target <= 10%), a *detection rate* where it does.

Conditions (loyalty's residual SD 0.7, so the model's coefficients are the truth's / 0.7):

====================  ===============================================  ==============================
condition             truth                                            fit, verdicts
====================  ===============================================  ==============================
surface_congruent     0.3 (B + E) - 0.25 (E - B)^2                     surface: congruence (on)
surface_concave       0.4 B + 0.4 E - 0.15 (E^2 - 1)                   surface: congruence (off)
surface_linear        0.4 B + 0.4 E                                    surface: congruence (off)
diminishing_concave   as surface_concave                               diminishing + kink on |E - B|:
                                                                       curvature found (on), kink (off)
promise_shortfall     0.4 P + 0.6 min(G, 0), G = E - P                 promise_pairs: gap (on)
promise_symmetric     0.4 P + 0.3 G                                    promise_pairs: gap (off)
promise_concave       0.4 P + 0.3 G - 0.15 E^2                         promise_pairs + diminishing:
                                                                       curvature (on), gap (off)
promise_*_prior05     the three promise truths, the same data sets     weights normal(0,1), the
                                                                       asymmetry normal(0,0.5)
boxes_determined      loyalty = experience + 0.05 noise (1-7 ratings)  satisfied_not_loyal: near 0 (on)
boxes_weak            0.3 E + 0.3 B - 0.5 + 0.8 noise                  satisfied_not_loyal: near 0 (off)
boxes_strong          loyalty = experience + 0.3 noise                 satisfied_not_loyal: coverage only
*_prior1              every condition above, the same data sets        the former defaults: weights'
                                                                       mean (and a measured gap's
                                                                       asymmetry) normal(0,1)
boxes_determined_wide as boxes_determined, data sets of its own        weight_mu normal(0,10) (run
                                                                       before it was the default)
====================  ===============================================  ==============================

The truths, and what each condition fits and reads, are in benchmarks/claims_truths.py: the same
as the fast tests' (tests/loyalty/test_surface.py, test_promise.py, test_diminishing.py,
test_boxes.py), written again there so that neither can drift into the other.

Why the ``_prior05`` and ``_prior1`` conditions. The promise gap's asymmetry ``d`` had the
unmeasured kink's prior normal(0,0.5); over 45 replications of the shortfall truth (d = 0.857) it
came out 0.65 on average (90% coverage 0.80): the posterior SD (~0.26) is half the prior's, so the
prior shrank it. A measured gap's ``d`` is a difference of two slopes on the weights' scale and got
their prior, then normal(0,1). That prior in turn bounded loyalty's R^2 in the reference sector
only: loyalty's residual variance is fixed to 1 there (``std_lv``), so a loyalty determined by
experience needs weights of ~20 residual SDs in that sector, while the other sectors reach the same
R^2 through their free residual variance. On the determined truth the reference sector's share came
out 0.110 against 0.048 in the other (coverage 0/100), on the strong truth 0.148 against 0.139
(truth 0.129). The weights' mean now has blavaan's prior for regressions, normal(0,10) (and a
measured gap's asymmetry with it); every condition's replications under the former defaults stay
as ``*_prior1`` on the same data sets (``seeds_of``), so the two are compared replication by
replication. On the determined truth the share (0.025) is in any case a boundary quantity (R^2 =
0.9975): an equal-tailed interval of a share piled against 0 cannot cover a truth next to 0 at its
nominal rate; ``boxes_strong`` asks the coverage question off the boundary (share 0.129).

Cheap on purpose, and said so in the summary: 2 sectors x 250, draws=300, tune=300, chains=2
(target_accept 0.95 for the promise and diminishing fits, as in the tests). A replication whose
fit has a divergence or an R-hat above 1.05 (``loyaltymodels.power.batch.fit_status``) is counted
as not converged and reported; it stays in the rates (the summary also gives them without it).

Runs on Dask through the power room (``dask_client``, ``replication_seed``: replication ``rep`` of
a condition draws from ``SeedSequence(ENTROPY, spawn_key=(crc32(condition), rep))``, whatever the
order, the number of workers or a resume). Replications go round-robin over the conditions, and
every finished one is appended to ``claims.csv``; a rerun skips the (condition, rep) pairs already
there. ``claims.txt`` is written from whatever the CSV holds.

Run: ``OMP_NUM_THREADS=1 python benchmarks/claims.py [--reps 100] [--until 10:50] [--workers 1]``;
``--summary`` only rewrites claims.txt from the CSV.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # claims_truths, beside this file

from claims_truths import CI, CONDITIONS, N_PER_SECTOR, model_of, read_claims, simulate

RESULTS = Path(__file__).parent / "results"
ENTROPY = 20261207
SAMPLER = dict(draws=300, tune=300, chains=2, cores=1, progressbar=False)
COLUMNS = [
    "condition",
    "rep",
    "spawn_key",
    "kind",
    "quantity",
    "sector",
    "truth",
    "estimate",
    "ci_lower",
    "ci_upper",
    "covered",
    "verdict",
    "converged",
    "divergences",
    "max_rhat",
    "fit_seconds",
    "load_start",
    "load_end",
    "worker",
    "error",
]


def replicate(condition: str, rep: int, entropy: int = ENTROPY) -> list[dict[str, Any]]:
    """One replication of one condition (a Dask task): draw, fit, read; never raises."""
    import loyaltymodels as lm
    from loyaltymodels.defaults import one_blas_thread
    from loyaltymodels.power.analysis import replication_seed
    from loyaltymodels.power.batch import fit_status, worker_name

    cond = CONDITIONS[condition]
    key = zlib.crc32((cond.seeds_of or condition).encode())
    data_seq, fit_seq = replication_seed(entropy, key, rep).spawn(2)
    base: dict[str, Any] = dict(
        condition=condition, rep=int(rep), spawn_key=f"{key},{rep}", worker=worker_name(), error=""
    )
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    status: dict[str, Any] = dict(converged=False, divergences=np.nan, max_rhat=np.nan)
    with one_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data = simulate(cond, np.random.default_rng(data_seq))
            post = lm.fit_loyalty(
                model_of(cond),
                data,
                sector="sector",
                seed=int(fit_seq.generate_state(1)[0]),
                check=False,
                **SAMPLER,
                **cond.fit,
            )
            converged, _ = fit_status(post, "bayes")
            status = dict(
                converged=converged,
                divergences=int(post["sample_stats"]["diverging"].sum()),
                max_rhat=_max_rhat(post),
            )
            rows = read_claims(cond, post)
        except Exception as err:  # recorded, counted as a failed replication in the summary
            base["error"] = f"{type(err).__name__}: {err}"[:300]
    elapsed = time.perf_counter() - started
    if not rows:
        rows = [dict(kind="failed", quantity="", sector="")]
    extra = dict(fit_seconds=elapsed, load_start=load_start, load_end=os.getloadavg()[0], **status)
    return [{c: {**base, **extra, **r}.get(c, np.nan) for c in COLUMNS} for r in rows]


def _max_rhat(post: Any) -> float:
    import arviz_stats as azs

    ds = post["posterior"].dataset
    r = azs.rhat(ds)
    return float(max(np.nanmax(np.asarray(r[v].values, dtype=float)) for v in r.data_vars))


# -- the run -----------------------------------------------------------------------------------------
def done_keys(csv: Path) -> set[tuple[str, int]]:
    if not csv.exists():
        return set()
    old = pd.read_csv(csv, usecols=["condition", "rep"])
    return {(str(c), int(r)) for c, r in zip(old.condition, old.rep)}


def append_rows(csv: Path, rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.to_csv(csv, mode="a", header=not csv.exists(), index=False)


def run(
    out: Path = RESULTS,
    reps: int = 100,
    until: dt.datetime | None = None,
    n_workers: int = 1,
    conditions: list[str] | None = None,
    client: Any = None,
) -> int:
    """Run the missing replications round-robin over the conditions, appending each to
    ``out/claims.csv``; stop (losing only the replications in flight) at ``until``. Returns the
    number of replications finished."""
    from distributed import wait

    from loyaltymodels.power.batch import dask_client

    out.mkdir(parents=True, exist_ok=True)
    csv = out / "claims.csv"
    names = list(conditions or CONDITIONS)
    done = done_keys(csv)
    todo = [(c, r) for r in range(reps) for c in names if (c, r) not in done]
    finished = 0
    with dask_client(client, n_workers) as c:
        in_flight: list[Any] = []
        ahead = max(1, sum(c.nthreads().values()))  # a task per worker, so a stop wastes little
        while todo or in_flight:
            past = until is not None and dt.datetime.now(dt.UTC) >= until
            while todo and len(in_flight) < ahead and not past:
                cond, rep = todo.pop(0)
                in_flight.append(c.submit(replicate, cond, rep, pure=False))
            if not in_flight:
                break
            timeout = None if until is None else max(1.0, (until - dt.datetime.now(dt.UTC)).total_seconds())
            try:
                ready = wait(in_flight, timeout=timeout, return_when="FIRST_COMPLETED").done
            except TimeoutError:  # `until` came with a replication still running
                ready = set()
            for fut in ready:
                append_rows(csv, fut.result())
                finished += 1
                in_flight.remove(fut)
            if until is not None and dt.datetime.now(dt.UTC) >= until:
                c.cancel(in_flight)
                break
    return finished


# -- the summary -------------------------------------------------------------------------------------
def _wilson(hits: int, total: int) -> tuple[float, float]:
    from loyaltymodels.indices.intervals import wilson

    if total == 0:
        return np.nan, np.nan
    lo, hi = wilson(hits / total, total, 0.95)
    return max(0.0, float(lo)), min(1.0, float(hi))  # no float noise below 0 or above 1


def summarise(csv: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per condition and per claim / quantity, from whatever the CSV holds.

    Returns the verdict table (one row per condition and claim: replications, not converged,
    failed, the rate with its Wilson 95% interval, what the rate is; coverage over every estimate
    of the condition; median fit time; load at the first and last replication) and the coverage
    table (one row per condition and quantity).
    """
    rec = pd.read_csv(csv, keep_default_na=True)
    rec["sector"] = rec["sector"].fillna("")
    per_rep = rec.drop_duplicates(["condition", "rep"])
    verdicts, coverage = [], []
    for name in [c for c in CONDITIONS if c in set(rec.condition)] + sorted(set(rec.condition) - set(CONDITIONS)):
        reps = per_rep[per_rep.condition == name]
        est = rec[(rec.condition == name) & (rec.kind == "estimate")]
        ok = est[est.converged.astype(bool)]
        cov_hits, cov_n = int(est.covered.astype(bool).sum()), len(est)
        base = dict(
            condition=name,
            reps=len(reps),
            not_converged=int((~reps.converged.astype(bool) & (reps.kind != "failed")).sum()),
            failed=int((reps.kind == "failed").sum()),
            coverage=cov_hits / cov_n if cov_n else np.nan,
            coverage_lower=_wilson(cov_hits, cov_n)[0],
            coverage_upper=_wilson(cov_hits, cov_n)[1],
            coverage_converged=float(ok.covered.astype(bool).mean()) if len(ok) else np.nan,
            median_fit_s=float(reps.fit_seconds.median()),
            load_start=float(reps.sort_values("rep").load_start.iloc[0]),
            load_end=float(reps.sort_values("rep").load_end.iloc[-1]),
        )
        claims = rec[(rec.condition == name) & (rec.kind == "verdict")]
        if claims.empty:  # a coverage-only condition keeps its row
            verdicts.append({**base, "claim": "(coverage only)", "claim_true": np.nan, "rate_is": ""})
        for claim, g in claims.groupby("quantity", sort=False):
            hits, n = int(g.verdict.astype(bool).sum()), len(g)
            lo, hi = _wilson(hits, n)
            holds = bool(g.truth.iloc[0] == 1)
            verdicts.append(
                {
                    **base,
                    "claim": claim,
                    "claim_true": holds,
                    "rate_is": "detection" if holds else "false_positive",
                    "rate": hits / n,
                    "rate_lower": lo,
                    "rate_upper": hi,
                }
            )
        for (q, s), g in est.groupby(["quantity", "sector"], sort=False):
            hits, n = int(g.covered.astype(bool).sum()), len(g)
            lo, hi = _wilson(hits, n)
            coverage.append(
                dict(
                    condition=name,
                    quantity=q,
                    sector=s,
                    n=n,
                    truth=float(g.truth.iloc[0]),
                    mean_estimate=float(g.estimate.mean()),
                    coverage=hits / n,
                    coverage_lower=lo,
                    coverage_upper=hi,
                )
            )
    return pd.DataFrame(verdicts), pd.DataFrame(coverage)


def write_summary(csv: Path, txt: Path, note: str = "") -> pd.DataFrame:
    verdicts, coverage = summarise(csv)
    reps = verdicts.groupby("condition").reps.first() if len(verdicts) else pd.Series(dtype=int)
    head = [
        "Issue 19's claims over replications (benchmarks/claims.py): truths written in NumPy,",
        f"2 sectors x {N_PER_SECTOR}, draws={SAMPLER['draws']}, tune={SAMPLER['tune']}, chains={SAMPLER['chains']}"
        " (cheap on purpose; target_accept 0.95 for promise/diminishing fits),",
        f"{int(CI * 100)}% intervals; Wilson 95% intervals on every rate.",
        "Not converged = a divergence or R-hat > 1.05;",
        "such replications stay in the rates (coverage_converged leaves them out).",
        f"Replications per condition: {reps.min() if len(reps) else 0}-{reps.max() if len(reps) else 0}."
        + (f" {note}" if note else ""),
        f"Written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC from {csv.name}.",
        "",
        "Verdicts (rate_is: detection where the truth holds the claim, false_positive where it does not)",
        "and each condition's coverage over all its estimates:",
    ]
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_rows", 500):
        body = verdicts.to_string(index=False, float_format=lambda x: f"{x:.3g}")
        cov = coverage.to_string(index=False, float_format=lambda x: f"{x:.3g}")
    txt.write_text("\n".join(head) + "\n" + body + "\n\nCoverage per quantity:\n" + cov + "\n")
    return verdicts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--until", help="HH:MM UTC today: stop then (replications in flight are lost)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--conditions", nargs="*")
    parser.add_argument("--summary", action="store_true", help="only rewrite claims.txt from claims.csv")
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    until = None
    if args.until:
        h, m = (int(x) for x in args.until.split(":"))
        until = dt.datetime.now(dt.UTC).replace(hour=h, minute=m, second=0, microsecond=0)
    if not args.summary:
        n = run(args.out, args.reps, until, args.workers, args.conditions)
        print(f"{n} replications finished")
    if (args.out / "claims.csv").exists():
        print(write_summary(args.out / "claims.csv", args.out / "claims.txt", args.note).to_string())


if __name__ == "__main__":
    main()
