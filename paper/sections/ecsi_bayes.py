"""The ECSI model by Bayesian SEM (``lm.studies.ecsi``): blavaan's default priors and regularising
priors on the paths, beside ML, on the standardized scale. Sampling: short chains in fast mode."""

from __future__ import annotations

import pandas as pd

import loyaltymodels as lm
from loyaltymodels.studies.ecsi import REGULARISING_PRIOR

from .common import Section, count, num, word

LABELS = {"ML": "ML", "Bayes": "Bayes", "Bayes-reg": "Bayes-reg"}


def paths_table(paths: pd.DataFrame) -> pd.DataFrame:
    """One row per path: estimate and SE (or posterior SD) per estimator, and R-hat of the fits."""
    p = paths[paths.estimator.isin(list(LABELS))].copy()
    p["path"] = p.lhs + " ← " + p.rhs
    wide = p.pivot_table(index="path", columns="estimator", values=["est", "se"], sort=False)
    out = pd.DataFrame({"path": wide.index})
    for e in LABELS:
        out[e] = wide[("est", e)].to_numpy()
        out[f"{e} {'se' if e == 'ML' else 'sd'}"] = wide[("se", e)].to_numpy()
    out["max R-hat"] = p.groupby("path", sort=False).r_hat.max().reindex(wide.index).to_numpy()
    return out.round(3)


def make(fast: bool) -> Section:
    """Bayesian ECSI fits (two compiles, two samplings) and the numbers the text quotes."""
    study = lm.studies.ecsi(fast=fast, bootstrap=20)  # PLS is covered by the studies section
    tab = paths_table(study.paths)
    row = tab.set_index("path")
    unstable = ["SAT ← EXPE", "SAT ← QUAL", "VAL ← EXPE", "VAL ← QUAL"]
    bayes_rows = study.paths[study.paths.estimator.isin(["Bayes", "Bayes-reg"])]
    s = study.settings
    n = {
        "draws": count(s["draws"]),
        "tune": count(s["tune"]),
        "chains": count(s["chains"]),
        "prior": word(REGULARISING_PRIOR),
        "max_rhat": num(bayes_rows.r_hat.max(), 2),
        "max_rhat_reg": num(bayes_rows[bayes_rows.estimator == "Bayes-reg"].r_hat.max(), 2),
        "sat_expe_ml": num(row.loc["SAT ← EXPE", "ML"], 2),
        "sat_expe_ml_se": num(row.loc["SAT ← EXPE", "ML se"], 2),
        "sat_expe_bayes_sd": num(row.loc["SAT ← EXPE", "Bayes sd"], 2),
        "sat_expe_reg": num(row.loc["SAT ← EXPE", "Bayes-reg"], 2),
        "sat_expe_reg_sd": num(row.loc["SAT ← EXPE", "Bayes-reg sd"], 2),
        "unstable_ml_se_min": num(row.loc[unstable, "ML se"].min(), 2),
        "unstable_reg_sd_max": num(row.loc[unstable, "Bayes-reg sd"].max(), 2),
        "sat_loy_bayes": num(row.loc["LOY ← SAT", "Bayes"]),
        "sat_loy_reg": num(row.loc["LOY ← SAT", "Bayes-reg"]),
        "sat_loy_ml": num(row.loc["LOY ← SAT", "ML"]),
    }
    return Section(numbers=n, tables={"ecsi_bayes": tab})
