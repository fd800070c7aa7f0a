"""PSIS-LOO between invariance levels of the loyalty model with ordinal items (issue 20, point 2):
the pointwise log-likelihood integrated over each respondent's scores (bayes.integrated) against
the density given the sampled scores that the fit used to store.

Data: tests/loyalty/test_ordinal.py::numpy_truth (2 sectors x 300, nine 5-point skewed items, a
truth written in NumPy), once as drawn (every item invariant) and once with exp2's cut points
shifted by +0.8 in sector b (a non-invariant item). Each data set is fitted at scalar and
configural invariance (draws=500, tune=500, chains=2, seed=1) and the levels compared by
``compare_fits`` (LOO); the conditional density's Pareto k is shown beside the integrated one's.

Run: ``OMP_NUM_THREADS=1 python benchmarks/ordinal_loo.py`` (about 30 minutes: four ordinal fits on
the PyMC graph); writes benchmarks/results/ordinal_loo.txt. ``--outcome`` adds the churn outcome
form's LOO (one more ordinal fit) to it.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "loyalty"))
sys.path.insert(0, str(ROOT))

import loyaltymodels as lm  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "ordinal_loo.txt"
CACHE = Path(os.environ.get("TMPDIR", "/tmp"))
SAMPLER = dict(draws=500, tune=500, chains=2, seed=1, progressbar=False, check=False)


def shifted(data, item="exp2", sector="b", by=0.8):
    """The data with ``item``'s answers in ``sector`` read through cut points moved by ``by``: the
    latent response is rebuilt from the category's midpoint, a respondent drops a category with
    probability ~ the shift's share of it (a non-invariant threshold written in NumPy)."""
    from test_ordinal import CUTS

    rng = np.random.default_rng(5)
    out = data.copy()
    rows = out.sector == sector
    cuts = np.asarray(CUTS[item[:3]])
    y = out.loc[rows, item].to_numpy()
    lo = np.concatenate([[-3.0], cuts])[y - 1]
    hi = np.concatenate([cuts, [3.0]])[y - 1]
    ystar = lo + (hi - lo) * rng.random(rows.sum())
    out.loc[rows, item] = 1 + np.searchsorted(cuts + by, ystar)
    return out


def main() -> None:
    from test_ordinal import MODEL, numpy_truth

    lines = [*__doc__.split("\n\nRun:")[0].splitlines(), ""]
    base = numpy_truth(300, seed=0)
    for label, data in (("invariant", base), ("exp2 shifted in b", shifted(base))):
        fits, seconds = {}, {}
        for level in ("scalar", "configural"):
            saved = CACHE / f"ordinal_loo_{label.split()[0]}_{level}.nc"
            if saved.exists():  # a rerun after a failure further on reuses the fits
                fits[level] = lm.load_posterior(saved)
                seconds[level] = float(fits[level].attrs.get("fit_seconds", np.nan))
                continue
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits[level] = lm.fit_loyalty(MODEL, data, sector="sector", invariance=level, **SAMPLER)
            seconds[level] = time.perf_counter() - t
            fits[level].attrs["fit_seconds"] = seconds[level]
            fits[level].to_netcdf(saved)
            print(f"{label} {level}: {seconds[level]:.0f} s", flush=True)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = lm.compare_fits(fits)
        loo_s = time.perf_counter() - t
        lines.append(
            f"data: {label}; fits {seconds['scalar']:.0f} s (scalar), {seconds['configural']:.0f} s "
            f"(configural); LOO of both {loo_s:.0f} s"
        )
        lines.append(table.to_string())
        for level, post in fits.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = lm.loo(post)
                cond = _conditional_loo(post)
            lines.append(
                f"  {level}: integrated elpd {r.elpd:.1f} (se {r.se:.1f}), Pareto k > 0.7: "
                f"{int((r.pareto_k > 0.7).sum())} of {r.pareto_k.size} (max {float(r.pareto_k.max()):.2f}); "
                f"given the scores: elpd {cond.elpd:.1f}, k > 0.7: {int((cond.pareto_k > 0.7).sum())}"
            )
        lines.append("")
    load = os.getloadavg()
    lines.append(f"Written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; 1-minute load at the end {load[0]:.1f}.")
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def outcome_section() -> list[str]:
    """The churn outcome form with ordinal items (ordered-probit items, logistic churn in loyalty):
    LOO from the integrated likelihood of :func:`loyaltymodels.loyalty.conditional.integrated_loglik`."""
    from test_ordinal import MODEL, numpy_truth

    data = numpy_truth(300, seed=0, churn=True)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = lm.fit_loyalty(MODEL, data, sector="sector", outcomes={"churn": "churn"}, **SAMPLER)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = lm.loo(post)
    loo_s = time.perf_counter() - t
    flagged = [str(w.message)[:160] for w in caught if "importance points" in str(w.message)]
    return [
        "churn outcome form (numpy_truth(300, churn=True), outcomes={'churn': 'churn'}, same sampler): "
        f"fit {fit_s:.0f} s, LOO {loo_s:.0f} s; integrated elpd {r.elpd:.1f} (se {r.se:.1f}), "
        f"Pareto k > 0.7: {int((r.pareto_k > 0.7).sum())} of {r.pareto_k.size} (max {float(r.pareto_k.max()):.2f})"
        + (f"; warned: {flagged[0]}" if flagged else "; no low-ESS warning"),
        "",
    ]


def _conditional_loo(post):
    """LOO on the density given each draw's sampled scores (what the fit stored before)."""
    import arviz_stats as azs
    import xarray as xr

    from loyaltymodels.bayes.draws import model_spec, observed_data, row_draws
    from loyaltymodels.bayes.integrated import sem_terms, threshold_cuts

    spec = model_spec(post)
    rows = row_draws(post, spec)
    obs = observed_data(post, spec)
    eta = post["posterior"]["eta"].transpose("chain", "draw", "respondent", "factor").to_numpy()
    C, D = eta.shape[:2]
    eta = eta.reshape(C * D, *eta.shape[2:])
    ll = np.zeros((C * D, obs.n))
    table = spec.table
    for g, where in obs.rows.items():
        y = obs.y[g].copy()
        cuts = {}
        for j, v in enumerate(obs.items):
            cats = np.unique(np.concatenate([obs.y[h][:, j] for h in obs.y]))
            cats = cats[~np.isnan(cats)]
            y[:, j] = np.searchsorted(cats, y[:, j])
            cuts[j] = threshold_cuts(table, rows, v, g)
        for d in range(C * D):
            cond, _ = sem_terms(layout_of(spec), rows[d : d + 1], g, y, cuts={j: c[d : d + 1] for j, c in cuts.items()})
            ll[d, where] = cond(eta[d, where])[0]
    tree = post.copy()
    tree["log_likelihood"] = xr.Dataset(
        {"y": (("chain", "draw", "respondent"), ll.reshape(C, D, -1))},
        coords={"chain": post["posterior"]["chain"].values, "draw": post["posterior"]["draw"].values},
    )
    return azs.loo(tree, pointwise=True)


def layout_of(spec):
    from loyaltymodels.algebra.matrices import ram_layout

    return ram_layout(spec)


if __name__ == "__main__":
    if "--outcome" in sys.argv:  # only the outcome form, appended to the results
        text = OUT.read_text().rstrip("\n").splitlines()
        stamp = text.pop() if text and text[-1].startswith("Written") else ""
        extra = outcome_section()
        load = os.getloadavg()[0]
        extra.append(f"Outcome form written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; 1-minute load {load:.1f}.")
        OUT.write_text("\n".join([*text, *extra, stamp]) + "\n")
        print("\n".join(extra))
    else:
        main()
