"""The six claims from one fit of the Bayesian loyalty model (``lm.fit_loyalty``), when the package
has it: driver weights, balance effects (interaction, asymmetry), the satisfied-not-loyal share and
the churn effect, each read with the loyalty module's own summaries at 95%."""

from __future__ import annotations

import pandas as pd

import loyaltymodels as lm

from . import common

METHOD = "Bayesian loyalty model (posterior mean, 95% interval)"
MASS = 0.95


def fit(data: pd.DataFrame, fast: bool, seed: int):
    """One posterior with every claim's term: sectors, interaction, asymmetry, churn."""
    size = dict(draws=300, tune=300, chains=2) if fast else dict(draws=1000, tune=1000, chains=4)
    return lm.fit_loyalty(
        lm.loyalty_model(),
        data,
        sector="sector",
        outcomes={"churn": "churn"},
        interaction=True,
        asymmetry=True,
        seed=seed,
        progressbar=common.PROGRESS,
        **size,
    )


def weights(post, sectors) -> pd.DataFrame:
    """``sector, driver, estimate, ci_lower, ci_upper`` of :func:`lm.driver_weights` (no pooled row:
    it has no single truth)."""
    w = lm.driver_weights(post, mass=MASS)
    w = w[w.sector.isin(sectors)]
    return w.rename(columns={"mean": "estimate"})[["sector", "driver", "estimate", "ci_lower", "ci_upper"]]


def nonlinear(post, true: dict[str, float]) -> pd.DataFrame:
    """Pooled interaction and asymmetry (:func:`lm.balance_effects`) and the churn effect
    (:func:`lm.outcome_effects`), as ``claim, quantity, estimate, se, truth, ci_lower, ci_upper``."""
    bal = lm.balance_effects(post, mass=MASS)
    bal = bal[bal.sector == "pooled"].set_index("term")
    out = lm.outcome_effects(post, mass=MASS).set_index("outcome")
    rows = [
        ("interaction", "beliefs × experience", bal.loc["interaction"]),
        ("asymmetry", "shortfall minus surplus slope", bal.loc["asymmetry"]),
        ("churn", "log-odds of churn per SD of loyalty", out.loc["churn"]),
    ]
    return pd.DataFrame(
        [
            {
                "claim": c,
                "quantity": q,
                "estimate": r["mean"],
                "se": r["sd"],
                "truth": true[c],
                "ci_lower": r.ci_lower,
                "ci_upper": r.ci_upper,
                "method": METHOD,
            }
            for c, q, r in rows
        ]
    )


def satisfied_not_loyal(post, truth_by_sector: pd.Series) -> pd.DataFrame:
    """Per-sector latent share of satisfied customers who are not loyal, beside the truth."""
    s = lm.satisfied_not_loyal(post, mass=MASS, split="median")  # the generator's truth is median-split
    s = s[s.sector.isin(truth_by_sector.index)]
    return pd.DataFrame(
        {
            "sector": s.sector.to_numpy(),
            "estimate": s["mean"].to_numpy(),
            "ci_lower": s.ci_lower.to_numpy(),
            "ci_upper": s.ci_upper.to_numpy(),
            "truth": truth_by_sector[s.sector].to_numpy(),
            "method": METHOD,
        }
    )
