"""The loyalty-level priors of :func:`loyaltymodels.fit_loyalty` (the sector weights' mean and
spread, segment shifts, interaction, asymmetry, outcome coefficients): their defaults, the user's
overrides, and their PyMC random variables. The SEM's own priors (loadings, variances, ...) stay
with :mod:`loyaltymodels.bayes.priors`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..bayes.priors import Prior, parse_prior
from ..errors import SpecError

#: Priors of the loyalty-level parameters (Stan parameterisations, as the SEM priors). Weights are
#: in loyalty residual SDs per driver SD of the reference cell (see :mod:`.build`), and their mean
#: has blavaan's prior for regressions, ``normal(0,10)``. The tighter ``normal(0,1)`` used before
#: 2026-12-07 was a prior against R^2 near 1 *in the reference cell only*: loyalty's residual
#: variance is fixed to 1 there (``std_lv``), so a strongly determined loyalty needs weights of
#: 5-20 residual SDs, while the other cells reach it through their free residual variance. Over
#: 100 replications of loyalty = experience + 0.3 noise (benchmarks/results/claims.txt) normal(0,1)
#: put the satisfied-not-loyal share at 0.148 in the reference sector and 0.139 in the other (truth
#: 0.129; 90% coverage 0.83), normal(0,10) at 0.129 / 0.136 (coverage 0.88). ``half_normal(0.5)``
#: on the between-sector SD puts most mass on differences under 1 without ruling out none; outcome
#: coefficients are on the logit scale per unit of latent loyalty (``normal(0,2.5)``, as bambi's
#: and rstanarm's defaults).
LOYALTY_PRIORS: dict[str, str] = {
    "weight_mu": "normal(0,10)",
    "weight_tau": "half_normal(0.5)",
    "segment_shift": "normal(0,0.5)",
    "interaction": "normal(0,0.5)",
    "asymmetry": "normal(0,0.5)",
    "surface_mu": "normal(0,0.5)",
    "surface_tau": "half_normal(0.2)",
    "diminishing": "normal(0,0.5)",
    "outcome_intercept": "normal(0,2.5)",
    "outcome_slope": "normal(0,2.5)",
    "outcome_cut": "normal(0,5)",
}


def default_loyalty_priors() -> pd.DataFrame:
    """The loyalty-level priors (``priors={name: "..."}`` in :func:`fit_loyalty` overrides them;
    other keys go to the SEM's :func:`~loyaltymodels.default_priors`).

    Examples
    --------
    >>> default_loyalty_priors().set_index("name").loc["weight_tau", "prior"]
    'half_normal(0.5)'
    """
    return pd.DataFrame({"name": list(LOYALTY_PRIORS), "prior": list(LOYALTY_PRIORS.values())})


def split_priors(
    priors: pd.DataFrame | Mapping[str, Any] | None,
) -> tuple[pd.DataFrame | dict[str, Any] | None, dict[str, Any]]:
    if priors is None or isinstance(priors, pd.DataFrame):
        return priors, {}
    own = {k: v for k, v in priors.items() if k in LOYALTY_PRIORS}
    rest = {k: v for k, v in priors.items() if k not in LOYALTY_PRIORS}
    return rest or None, own


#: The asymmetry's prior on a *measured* gap (``promise_pairs``). There ``d`` is a difference of two
#: slopes in promise SDs, on the weights' own scale, so it gets the weights' prior: under the
#: unmeasured kink's normal(0,0.5) a shortfall-only truth (d = 0.857) came out 0.65 on average over
#: 45 replications of 2 x 250 (90% coverage 0.80, benchmarks/results/claims.txt), the posterior SD
#: (~0.26) being half the prior's. The kink on an unmeasured |E - B| keeps normal(0,0.5): it is a
#: device whose zero is assumed (see fit_loyalty's ``asymmetry``), and shrinking it is the safer error.
PROMISE_ASYMMETRY = LOYALTY_PRIORS["weight_mu"]


def own_priors(own: Mapping[str, Any], *, measured_gap: bool = False) -> dict[str, Prior]:
    """The loyalty-level priors, the user's ``own`` over the defaults (``measured_gap``: the
    asymmetry is on a promise gap measured by paired items, :data:`PROMISE_ASYMMETRY`)."""
    out = {}
    defaults = {**LOYALTY_PRIORS, **({"asymmetry": PROMISE_ASYMMETRY} if measured_gap else {})}
    for name, text in {**defaults, **own}.items():
        p = parse_prior(text, where=name)
        positive = name in ("weight_tau", "surface_tau")
        support = {"half_normal", "half_cauchy", "exponential", "gamma", "lognormal", "inv_gamma"}
        if positive != (p.family in support) or (name == "segment_shift" and p.family != "normal"):
            need = (
                "a positive distribution (half_normal, ...)"
                if positive
                else "normal(0,sd) (a zero-sum normal)"
                if name == "segment_shift"
                else "a distribution on the real line"
            )
            raise SpecError(f"the prior {text!r} for {name} must be {need}")
        out[name] = p
    return out


def prior_rv(
    name: str,
    prior: Prior,
    dims: str | tuple[str, ...] | None = None,
    shape: int | tuple[int, ...] | None = None,
    **kw: Any,
) -> Any:
    import pymc as pm

    # float64 arrays: PyTensor casts a Python float that float32 holds exactly (10.0) to float32,
    # and computes its log in float32 (3e-8 off per term against the compiled density)
    a = [np.float64(v) for v in prior.args]
    return {
        "normal": lambda: pm.Normal(name, a[0], a[1], dims=dims, shape=shape, **kw),
        "student_t": lambda: pm.StudentT(name, nu=a[0], mu=a[1], sigma=a[2], dims=dims, shape=shape, **kw),
        "cauchy": lambda: pm.Cauchy(name, a[0], a[1], dims=dims, shape=shape, **kw),
        "half_normal": lambda: pm.HalfNormal(name, a[0], dims=dims, shape=shape),
        "half_cauchy": lambda: pm.HalfCauchy(name, a[0], dims=dims, shape=shape),
        "exponential": lambda: pm.Exponential(name, a[0], dims=dims, shape=shape),
        "gamma": lambda: pm.Gamma(name, alpha=a[0], beta=a[1], dims=dims, shape=shape),
        "lognormal": lambda: pm.LogNormal(name, a[0], a[1], dims=dims, shape=shape),
        "inv_gamma": lambda: pm.InverseGamma(name, alpha=a[0], beta=a[1], dims=dims, shape=shape),
        "uniform": lambda: pm.Uniform(name, a[0], a[1], dims=dims, shape=shape),
    }[prior.family]()
