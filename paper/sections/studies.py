"""Published analyses reproduced (``lm.studies``): ECSI by PLS and ML SEM, and the lavaan tutorial's
Holzinger-Swineford CFA and Political Democracy SEM against lavaan's printed numbers. lavaan's own
estimates on ECSI come from the recorded run of ``benchmarks/against_r.py`` (R is not needed here).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import loyaltymodels as lm
from loyaltymodels import datasets

from .common import Section, count, num, sci, word

AGAINST_R = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "against_r.csv"


def against_r() -> pd.DataFrame:
    """The recorded lavaan comparison (one row per model)."""
    return pd.read_csv(AGAINST_R)


def ecsi_paths(study) -> pd.DataFrame:
    """PLS and ML standardized paths side by side, with plspm's published PLS paths."""
    p = study.paths
    pls = p[p.estimator == "PLS"].set_index(["lhs", "rhs"])
    ml = p[p.estimator == "ML"].set_index(["lhs", "rhs"])
    out = pd.DataFrame({"PLS": pls.est, "plspm (published)": pls.published, "ML": ml.est, "ML se": ml.se}).reset_index()
    out.insert(0, "path", out.lhs + " ← " + out.rhs)
    return out.drop(columns=["lhs", "rhs"]).round(3)


def _max_dev(study, table: str, quantity: str) -> float:
    d = study.deviations()
    return float(d[(d.table == table) & (d.quantity == quantity)].max_abs_difference.max())


def agreement(hs, pd_, recorded: pd.DataFrame) -> pd.DataFrame:
    """Largest absolute differences from lavaan: printed tutorial values and recorded lavaan fits."""
    rows = []
    for name, study in (("HS CFA", hs), ("Political Democracy", pd_)):
        rows.append(
            {
                "model": name,
                "against": "lavaan tutorial (printed, 3 decimals)",
                "est": _max_dev(study, "parameters", "est"),
                "se": _max_dev(study, "parameters", "se"),
                "std_all": _max_dev(study, "parameters", "std_all"),
                "fit measures": _max_dev(study, "fit", "value"),
            }
        )
    for r in recorded.itertuples():
        rows.append(
            {
                "model": r.model,
                "against": f"lavaan {r.lavaan_version} run (full precision)",
                "est": r.max_abs_diff_est,
                "se": r.max_abs_diff_se,
                "std_all": float("nan"),
                "fit measures": float("nan"),
            }
        )
    return pd.DataFrame(rows)


def make(fast: bool) -> Section:
    """ECSI paths and R², agreement with lavaan; cheap (no sampling: ML, PLS with a small bootstrap)."""
    ecsi = lm.studies.ecsi(bayes=False, bootstrap=50 if fast else 500)
    hs, pd_ = lm.studies.holzinger_swineford(), lm.studies.political_democracy()
    recorded = against_r()
    paths = ecsi.paths
    ml = paths[paths.estimator == "ML"].set_index(["lhs", "rhs"]).est
    pls = paths[paths.estimator == "PLS"].set_index(["lhs", "rhs"]).est
    r2 = ecsi.tables["r2"].pivot(index="construct", columns="estimator", values="r2")
    fm = ecsi.fit.set_index("measure").value
    agree = agreement(hs, pd_, recorded)
    e = recorded.set_index("model").loc["ECSI"]
    n = {
        "n_obs": count(len(datasets.load_ecsi())),
        "pls_max_dev": sci(max(_max_dev(ecsi, "parameters", "est"), _max_dev(ecsi, "r2", "value"))),
        "sat_loy_pls": num(pls["LOY", "SAT"]),
        "sat_loy_ml": num(ml["LOY", "SAT"]),
        "imag_loy_pls": num(pls["LOY", "IMAG"]),
        "imag_loy_ml": num(ml["LOY", "IMAG"]),
        "qual_r2_ml": num(r2.loc["QUAL", "ML"]),
        "qual_r2_pls": num(r2.loc["QUAL", "PLS"]),
        "sat_r2_ml": num(r2.loc["SAT", "ML"]),
        "sat_r2_pls": num(r2.loc["SAT", "PLS"]),
        "cfi": num(fm["cfi"]),
        "rmsea": num(fm["rmsea"]),
        "srmr": num(fm["srmr"]),
        "chisq": num(fm["chisq"], 1),
        "df": count(int(fm["df"])),
        "lavaan_est_dev": sci(e.max_abs_diff_est),
        "lavaan_se_dev": sci(e.max_abs_diff_se),
        "lavaan_compared": count(int(e.compared)),
        "hs_est_dev": num(_max_dev(hs, "parameters", "est"), 4),
        "pd_est_dev": num(_max_dev(pd_, "parameters", "est"), 4),
        "tutorial_within": word(
            "every"
            if hs.deviations().within_tolerance.all() and pd_.deviations().within_tolerance.all()
            else "not every"
        ),
        "recorded_max_est_dev": sci(recorded.max_abs_diff_est.max()),
    }
    r2_tab = r2[["PLS", "ML"]].reindex(["EXPE", "QUAL", "VAL", "SAT", "LOY"]).reset_index().round(3)
    return Section(
        numbers=n, tables={"ecsi_paths": ecsi_paths(ecsi), "ecsi_r2": r2_tab, "lavaan_agreement": _fmt_agreement(agree)}
    )


def _fmt_agreement(agree: pd.DataFrame) -> pd.DataFrame:
    out = agree.copy()
    for col in ("est", "se", "std_all", "fit measures"):
        out[col] = [("—" if pd.isna(v) else f"{v:.1e}") for v in out[col]]
    return out
