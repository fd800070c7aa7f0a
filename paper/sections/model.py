"""The beliefs + experience model: its lavaan syntax and the sector profiles of the generator."""

from __future__ import annotations

import pandas as pd

import loyaltymodels as lm
from loyaltymodels.data.scenarios import OUTCOMES, SECTOR_PROFILES

from .common import Section, count, num


def make(fast: bool) -> Section:
    """Syntax of :func:`lm.loyalty_model` and the generator's default sector weights."""
    spec = lm.parse_model(lm.loyalty_model())
    profiles = pd.DataFrame([{"sector": s, "w_beliefs": b, "w_experience": e} for s, (b, e) in SECTOR_PROFILES.items()])
    return Section(
        numbers={
            "n_items": count(len(spec.observed)),
            "n_latents": count(len(spec.latents)),
            "n_sectors": count(len(SECTOR_PROFILES)),
            "churn_effect": num(OUTCOMES["churn"]["effect"], 1),
            "churn_base": num(OUTCOMES["churn"]["base_rate"], 0, percent=True),
        },
        tables={"sector_profiles": profiles},
        texts={"model_syntax": lm.loyalty_model()},
    )
