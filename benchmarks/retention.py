"""Benchmark and recovery table of fit_retention (run: python benchmarks/retention.py [--reps N]).

The issue's size: 3 sectors x 500 customers x 12 periods of follow-up, plus 200 prospects per sector
who answered the beliefs items only (``lm.loyalty_scenario(500, sectors=3, follow_up=12,
behaviour={"prospects": 200})``, 0-10 items); 2 chains x 500 draws after 500 tuning on 2 cores
(nutpie). Per replication two data sets of the same structure:

- effects on: the generator's defaults (log hazard ratio per SD: Experience -0.35, Loyalty -0.35,
  Beliefs 0; Experience's changes by -0.02 per period of tenure; conversion log-odds of Beliefs 0.8);
- effects off: every hazard, tenure and conversion effect 0 (the intervals must cover 0).

(a) Speed: replication 0's "on" fit is the first call in this process (it compiles), its "off" fit a
second call on new data of the same structure (the compiled graph is reused, ``compile_seconds`` 0);
min bulk ESS over the model's parameters (not the latent scores) and min ESS per sampling second.
(b) Recovery: per parameter, the truth on the model's scale (``hazard`` at the median tenure
``tenure_ref``: beta + delta * tenure_ref; ``tenure_change`` per 12 periods: 12 delta), the mean
estimate, bias, RMSE, 90% interval coverage and width, over the replications run.
(c) Independent computation on the true latent scores (the generator's, which the fit never sees):
the same discrete-time (cloglog, baseline per period and sector) hazard by statsmodels' GLM (one
slope for all sectors, beside ``hazard_mean``; and a slope per sector, beside ``hazard[sector]``) and
lifelines' Cox model (time-varying, Efron ties), with the tenure interactions; conversion by
statsmodels' logit. Reported: the difference from the package's estimate in SDs
(``|ours - theirs| / sqrt(sd^2 + se^2)``) and the interval width ratio ours / theirs (the precision
lost by measuring the drivers with three 0-10 items each). Kaplan-Meier curves per sector against the
package's population-averaged survival curves: largest difference, and whether it lies within the
Kaplan-Meier 95% band; both against the true survival (mean over customers of prod(1 - h) from the
true scores): largest difference and the package's 90% band coverage.

Results are rewritten after every replication (stop it at any time). The load average is recorded.
Output: benchmarks/results/retention.txt, retention.csv (one row per replication, arm, parameter) and
retention_parts.json (the comparisons and run times behind the text).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import loyaltymodels as lm

OUT = Path(__file__).parent / "results"
SETTINGS = dict(draws=500, tune=500, chains=2, cores=2, check=False)
N, SECTORS, PERIODS, PROSPECTS = 500, 3, 12, 200
FACTORS = ("Beliefs", "Experience", "Loyalty")
OFF = {
    "hazard": dict.fromkeys(FACTORS, 0.0),
    "tenure_change": dict.fromkeys(FACTORS, 0.0),
    "conversion": dict.fromkeys(FACTORS, 0.0),
}
CHECKED = ("hazard_mean", "hazard_sector_sd", "tenure_change", "baseline", "loyalty_path", "conversion_mean")


def simulate(arm: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    how: dict = {"prospects": PROSPECTS} | (OFF if arm == "off" else {})
    return lm.loyalty_scenario(N, sectors=SECTORS, follow_up=PERIODS, behaviour=how, latent_scores=True, seed=seed)


def fit(data: pd.DataFrame, truth: pd.DataFrame, seed: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lm.fit_retention(
            truth.attrs["model"],
            data,
            sector="sector",
            tenure="tenure",
            acquisition="became_customer",
            seed=seed,
            **SETTINGS,
        )


def speed(post) -> dict:
    import arviz_stats as azs

    p = post.posterior
    names = [v for v in CHECKED if v in p]
    ess = min(float(np.nanmin(azs.ess(p[v], method="bulk").values)) for v in names)
    rhat = max(float(np.nanmax(azs.rhat(p[v]).values)) for v in names)
    s = post.attrs["sampling_seconds"]
    div = post.sample_stats["diverging"].to_numpy().ravel().astype(bool)
    where = []  # the parameters whose draws differ most between divergent and other draws
    if 0 < div.sum() < len(div):
        for v in ("hazard_sector_sd", "conversion_sector_sd", "hazard_mean", "tenure_change", "loyalty_path"):
            if v not in p:
                continue
            x = p[v].stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy().reshape(len(div), -1)
            names = [f"{v}[{i}]" for i in range(x.shape[1])]
            if p[v].ndim == 3:
                names = [f"{v}[{c}]" for c in p[v][p[v].dims[-1]].values]
            gap = (x[div].mean(0) - x[~div].mean(0)) / x.std(0)
            where += list(zip(names, gap))
        where.sort(key=lambda t: -abs(t[1]))
    return {
        "compile_s": post.attrs["compile_seconds"],
        "sampling_s": s,
        "total_s": post.attrs["total_seconds"],
        "min_ess": ess,
        "ess_per_s": ess / s,
        "max_rhat": rhat,
        "divergences": int(div.sum()),
        "divergent_where": ", ".join(f"{n} {g:+.1f} SD" for n, g in where[:3]),
    }


def truths(truth: pd.DataFrame, info: dict) -> dict[str, float]:
    """The truth on the model's scale, by the posterior's variable names."""
    t = truth.drop_duplicates("parameter").set_index("parameter").value
    ref, unit = info["tenure_ref"], info["tenure_unit"]
    out = {}
    for k in FACTORS:
        out[f"hazard_mean[{k}]"] = t[f"hazard:{k}"] + t[f"tenure_change:{k}"] * ref
        out[f"tenure_change[{k}]"] = t[f"tenure_change:{k}"] * unit
    out["conversion_mean[Beliefs]"] = t["conversion:Beliefs"]
    return out


def estimates(post) -> dict[str, np.ndarray]:
    p = post.posterior
    out = {}
    for k in FACTORS:
        out[f"hazard_mean[{k}]"] = p["hazard_mean"].sel(factor_=k).to_numpy().ravel()
        out[f"tenure_change[{k}]"] = p["tenure_change"].sel(factor_=k).to_numpy().ravel()
        for s in p.sector.values:
            out[f"hazard[{s},{k}]"] = p["hazard"].sel(sector=s, factor_=k).to_numpy().ravel()
    out["conversion_mean[Beliefs]"] = p["conversion_mean"].sel(acquisition_driver="Beliefs").to_numpy().ravel()
    return out


def person_periods(data: pd.DataFrame, info: dict) -> pd.DataFrame:
    """One row per customer and period observed, with the true scores and their tenure interactions."""
    cust = data[data.time.notna()].reset_index(drop=True)
    t = cust.time.to_numpy(int)
    rows = np.repeat(np.arange(len(cust)), t)
    period = np.arange(len(rows)) - np.repeat(np.cumsum(t) - t, t)
    ten = (cust.tenure.to_numpy()[rows] + period - info["tenure_ref"]) / info["tenure_unit"]
    out = pd.DataFrame({"id": rows, "start": period, "stop": period + 1, "sector": cust.sector.to_numpy()[rows]})
    out["event"] = ((period + 1 == t[rows]) & (cust.event.to_numpy()[rows] == 1)).astype(int)
    for k in FACTORS:
        out[k] = cust[k].to_numpy()[rows]
        out[f"{k}_ten"] = out[k] * ten
    return out


def independent(data: pd.DataFrame, info: dict) -> dict[str, dict[str, tuple[float, float]]]:
    """(estimate, SE) per parameter from statsmodels' discrete-time GLM, lifelines' Cox, statsmodels' logit,
    on the true scores."""
    import statsmodels.api as sm
    from lifelines import CoxTimeVaryingFitter

    pp = person_periods(data, info)
    cov = [*FACTORS, *(f"{k}_ten" for k in FACTORS)]
    dummies = pd.get_dummies(pp[["start", "sector"]].astype(str), drop_first=False, dtype=float)
    dummies = dummies.drop(columns=[c for c in dummies if c.startswith("sector_")][:1])  # sector 1 as reference
    X = pd.concat([dummies, pp[cov]], axis=1)
    link = sm.families.links.CLogLog()
    glm = sm.GLM(pp.event, X, family=sm.families.Binomial(link=link)).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cox = CoxTimeVaryingFitter().fit(
            pp[["id", "start", "stop", "event", *cov]],
            id_col="id",
            start_col="start",
            stop_col="stop",
            event_col="event",
        )
    pros = data[data.became_customer.notna()]
    logit = sm.Logit(pros.became_customer, sm.add_constant(pros[["Beliefs"]])).fit(disp=0)

    def name(c: str) -> str:
        return f"tenure_change[{c[:-4]}]" if c.endswith("_ten") else f"hazard_mean[{c}]"

    # the same with a slope per sector (tenure changes shared): beside the package's per-sector
    # effects, a like-for-like width ratio (the pooled GLM's beside hazard_mean also carries the
    # uncertainty of a mean over three sectors)
    by = [f"{k}@{s}" for s in sorted(pp.sector.unique()) for k in FACTORS]
    Xs = pd.concat(
        [dummies, pp[[f"{k}_ten" for k in FACTORS]]]
        + [(pp[k] * (pp.sector == s)).rename(f"{k}@{s}") for s in sorted(pp.sector.unique()) for k in FACTORS],
        axis=1,
    )
    per = sm.GLM(pp.event, Xs, family=sm.families.Binomial(link=link)).fit()
    return {
        "GLM, slope per sector": {
            f"hazard[{c.split('@')[1]},{c.split('@')[0]}]": (per.params[c], per.bse[c]) for c in by
        },
        "discrete-time GLM": {name(c): (glm.params[c], glm.bse[c]) for c in cov}
        | {"conversion_mean[Beliefs]": (logit.params["Beliefs"], logit.bse["Beliefs"])},
        "Cox (lifelines)": {name(c): (cox.params_[c], cox.standard_errors_[c]) for c in cov},
    }


def curves(data: pd.DataFrame, truth: pd.DataFrame, post) -> list[dict]:
    """Kaplan-Meier and the true survival per sector beside the package's population curve."""
    from lifelines import KaplanMeierFitter

    spec = truth.attrs["behaviour"]
    ours = lm.survival_curves(post)
    a0 = np.log(-np.log(1 - spec["baseline"]))
    delta = np.array([spec["tenure_change"][k] for k in FACTORS])
    out = []
    for s, cust in data[data.time.notna()].groupby("sector"):
        X = cust[list(FACTORS)].to_numpy()
        beta = np.array([spec["hazard"][s][k] for k in FACTORS])
        ten = cust.tenure.to_numpy()[:, None] + np.arange(PERIODS)[None, :]
        h = -np.expm1(-np.exp(a0 + (X @ beta)[:, None] + ten * (X @ delta)[:, None]))
        true = np.concatenate([[1.0], np.cumprod(1 - h, axis=1).mean(0)])
        km = KaplanMeierFitter().fit(cust.time, cust.event)
        t = np.arange(1, PERIODS + 1)
        km_s = km.survival_function_at_times(t).to_numpy()
        band = km.confidence_interval_survival_function_.reindex(t, method="ffill").to_numpy()
        mine = ours[ours.sector == s].set_index("period").loc[t]
        est = mine.survival.to_numpy()
        out.append(
            {
                "sector": s,
                "max_vs_km": float(np.abs(est - km_s).max()),
                "within_km_band": float(np.mean((est >= band[:, 0]) & (est <= band[:, 1]))),
                "max_km_vs_true": float(np.abs(km_s - true[1:]).max()),
                "max_ours_vs_true": float(np.abs(est - true[1:]).max()),
                "ours_band_covers_true": float(
                    np.mean((mine.ci_lower.to_numpy() <= true[1:]) & (true[1:] <= mine.ci_upper.to_numpy()))
                ),
                "km_band_width": float(np.mean(band[:, 1] - band[:, 0])),
                "ours_band_width": float(np.mean(mine.ci_upper - mine.ci_lower)),
            }
        )
    return out


def report(
    rows: list[dict], comps: list[dict], surv: list[dict], runs: list[dict], reps: int, seconds: float | None
) -> None:
    df = pd.DataFrame(rows)
    df.to_csv(OUT / "retention.csv", index=False)
    (OUT / "retention_parts.json").write_text(
        json.dumps({"comps": comps, "surv": surv, "runs": runs, "seconds": seconds}, default=float)
    )
    done = df.replication.nunique()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "fit_retention: 3 sectors x 500 customers x 12 periods (+ 200 prospects per sector, beliefs items only),",
        f"0-10 items, settings {SETTINGS}.",
        f"Replications run: {done} of {reps} asked, as many as the session's time allowed (each: one fit with",
        "effects on, one with effects off, new data of the same structure); more: --reps N.",
        "Engine: the PyMC graph of loyaltymodels.retention.model compiled by nutpie (numba backend), cached per",
        "structure in the process (data as pm.Data, swapped in by nutpie's with_data: no recompile on new data);",
        "not on the package's compiled density (attrs density='pytensor', density_reason says why).",
        f"Machine: {os.cpu_count()} cores shared with other engineers' runs; load average at the end {load};",
        "Wall time of the run: "
        + ("not recorded (see the fits' times in (a))" if seconds is None else f"{seconds:.0f} s."),
        "",
        "(a) speed",
        f"{'call':<44} {'compile s':>9} {'sample s':>9} {'total s':>8} {'min ESS':>8} {'ESS/s':>6} {'R-hat':>6} div",
    ]
    for r in runs:
        lines.append(
            f"{r['call']:<44} {r['compile_s']:9.1f} {r['sampling_s']:9.1f} {r['total_s']:8.1f} {r['min_ess']:8.0f} "
            f"{r['ess_per_s']:6.2f} {r['max_rhat']:6.3f} {r['divergences']:3d}"
        )
    lines += [
        f"  divergent draws (call {i + 1}) sit at: {r['divergent_where']}"
        for i, r in enumerate(runs)
        if r["divergences"]
    ]
    lines += ["", "(b) recovery, 90% intervals (hazard: log hazard ratio per SD at the median tenure; tenure_change:"]
    lines += ["    its change per 12 periods of tenure; conversion: log-odds per SD of beliefs, prospects)"]
    head = (
        f"{'arm':<4} {'parameter':<34} {'truth':>7} {'mean est':>9} {'bias':>7} {'RMSE':>6} {'cover':>6} {'width':>6}"
    )
    lines.append(head)
    for (arm, par), g in df.groupby(["arm", "parameter"], sort=False):
        err, width = g.est - g.truth, (g.ci_upper - g.ci_lower).mean()
        lines.append(
            f"{arm:<4} {par:<34} {g.truth.mean():7.3f} {g.est.mean():9.3f} {err.mean():7.3f} "
            f"{np.sqrt((err**2).mean()):6.3f} {g.covers.mean():6.0%} {width:6.3f}"
        )
    for arm, g in df.groupby("arm", sort=False):
        lines.append(f"  {arm}: all intervals {g.covers.mean():.1%} coverage over {len(g)} intervals")
    if comps:
        c = pd.DataFrame(comps)
        lines += [
            "",
            "(c) against an independent computation on the true latent scores (mean over replications and arms)",
        ]
        lines.append(f"{'reference':<22} {'parameter':<26} {'|diff|/sd':>9} {'max':>6} {'width ours/theirs':>18}")
        for (ref, par), g in c.groupby(["reference", "parameter"], sort=False):
            lines.append(f"{ref:<22} {par:<26} {g.z.mean():9.2f} {g.z.max():6.2f} {g.width_ratio.mean():18.2f}")
        for ref, g in c.groupby("reference", sort=False):
            lines.append(f"  {ref}: |diff| < 2 joint SDs in {np.mean(g.z < 2):.0%} of {len(g)}")
        ten = c[c.parameter.str.startswith("tenure_change") & (c.reference == "discrete-time GLM")]
        per = c[c.reference == "GLM, slope per sector"]
        pooled = c[c.parameter.str.endswith("_mean[Beliefs]") | c.parameter.str.startswith("hazard_mean")]
        lines += [
            "  Loss of precision from measuring the drivers with items (width ratio, ours / on the true scores):",
            f"    like for like, one shared parameter in both (tenure_change): {ten.width_ratio.mean():.2f}",
            f"    per-sector slopes: {per.width_ratio.mean():.2f} (the package pools the sectors: shrinkage narrows",
            "      its intervals; the GLM's slopes per sector are not pooled: the two effects offset)",
            f"    population means (hazard_mean, conversion_mean): {pooled.width_ratio.mean():.2f} (a mean of sectors",
            "      carries their spread; the GLM's one common slope assumes there is none)",
        ]
    if surv:
        s = pd.DataFrame(surv)
        lines += ["", "Survival by sector (periods 1-12): the package's population curve, Kaplan-Meier, the truth"]
        lines.append(
            f"  largest |ours - KM| {s.max_vs_km.max():.3f} (mean {s.max_vs_km.mean():.3f}); ours within KM's 95% band "
            f"at {s.within_km_band.mean():.0%} of periods"
        )
        lines.append(
            f"  largest |ours - truth| {s.max_ours_vs_true.max():.3f}, |KM - truth| {s.max_km_vs_true.max():.3f}; "
            f"our 90% band covers the true curve at {s.ours_band_covers_true.mean():.0%} of periods"
        )
        lines.append(
            f"  mean band width: ours (90%) {s.ours_band_width.mean():.3f}, KM (95%) {s.km_band_width.mean():.3f}"
        )
    (OUT / "retention.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def report_only(reps: int) -> None:
    """Rewrite retention.txt from retention.csv and retention_parts.json (no fits)."""
    parts = json.loads((OUT / "retention_parts.json").read_text())
    rows = pd.read_csv(OUT / "retention.csv").to_dict("records")
    report(rows, parts["comps"], parts["surv"], parts["runs"], reps, parts.get("seconds"))


def main(reps: int) -> None:
    t0 = time.perf_counter()
    rows: list[dict] = []
    comps: list[dict] = []
    surv: list[dict] = []
    runs: list[dict] = []
    for r in range(reps):
        for arm, seed in (("on", 100 + r), ("off", 500 + r)):
            data, truth = simulate(arm, seed)
            post = fit(data, truth, seed=r)
            info = json.loads(post.attrs["retention"])
            if r == 0:
                call = "first call in this process" if arm == "on" else "second call, new data, same structure"
                runs.append({"call": call} | speed(post))
            true = truths(truth, info)
            est = estimates(post)
            for par, draws in est.items():
                k = par.split(",")[-1].rstrip("]") if par.startswith("hazard[") else None
                t = true[par] if k is None else true[f"hazard_mean[{k}]"]  # the generator's sectors share effects
                lo, hi = np.quantile(draws, [0.05, 0.95])
                rows.append(
                    {
                        "replication": r,
                        "arm": arm,
                        "parameter": par,
                        "truth": t,
                        "est": float(draws.mean()),
                        "sd": float(draws.std()),
                        "ci_lower": lo,
                        "ci_upper": hi,
                        "covers": bool(lo <= t <= hi),
                    }
                )
            mine = {row["parameter"]: row for row in rows[-len(est) :]}
            for ref, values in independent(data, info).items():
                for par, (est, se) in values.items():
                    m = mine[par]
                    comps.append(
                        {
                            "replication": r,
                            "arm": arm,
                            "reference": ref,
                            "parameter": par,
                            "z": abs(m["est"] - est) / np.hypot(m["sd"], se),
                            "width_ratio": m["sd"] / se,
                        }
                    )
            surv += [{"replication": r, "arm": arm} | c for c in curves(data, truth, post)]
            print(r, arm, f"{time.perf_counter() - t0:.0f}s", flush=True)
        report(rows, comps, surv, runs, reps, time.perf_counter() - t0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20, help="replications (each: effects on and off)")
    parser.add_argument("--report", action="store_true", help="rewrite the text from the saved results, no fits")
    args = parser.parse_args()
    report_only(args.reps) if args.report else main(args.reps)
