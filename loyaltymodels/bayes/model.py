"""The PyMC model of a Bayesian SEM: priors as random variables, rows by gathers, the likelihood.

Kept apart from :mod:`loyaltymodels.bayes.fit` (the user-facing calls) so that the graph, its starting
values and their unconstrained form live together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import DataSummary, fixed_values, item_stats
from .likelihoods import add_likelihood, check_conditional, pattern_stats
from .parameterization import Plan, RVGroup, natural_start, ram_tensors, row_values, sampled_start

if TYPE_CHECKING:
    import pymc as pm


@dataclass(frozen=True)
class ModelParts:
    """A model's plan, data and likelihood form, with its PyMC model built on first use (the
    compiled density needs no PyMC graph, so a fit on it never builds one)."""

    plan: Plan = field(repr=False)
    summary: DataSummary = field(repr=False)
    form: str = "marginal"
    built: pm.Model | None = field(default=None, repr=False)

    @property
    def model(self) -> pm.Model:
        """The PyMC model of :func:`build_pymc` (built now if it has not been)."""
        if self.built is None:
            object.__setattr__(self, "built", build_pymc(self.plan, self.summary, self.form))
        return self.built


def choose_form(plan: Plan, summary: DataSummary, form: str | None) -> str:
    """The marginal form for continuous items, the conditional one when items are ordinal."""
    if form is None:
        form = "conditional" if summary.ordinal else "marginal"
    if summary.ordinal and form != "conditional":
        from ..errors import SpecError

        raise SpecError(
            f"ordinal items ({list(summary.ordinal)}) have no closed-form marginal "
            "likelihood; use form='conditional' (the default for ordinal data)"
        )
    if form == "conditional":
        check_conditional(plan)
    return form


def build_pymc(plan: Plan, summary: DataSummary, form: str) -> pm.Model:
    """The ``pm.Model`` (see :func:`loyaltymodels.bayes.fit.build_model`)."""
    import pymc as pm
    import pytensor.tensor as pt

    coords = {"factor": list(plan.layout.latents), "respondent": np.arange(summary.n)}
    names = plan.priors.set_index("par")["name"]
    for g in plan.rvs:
        coords[f"{g.name}_parameter"] = names.loc[g.pars].tolist()
    stats = item_stats(plan.spec, summary)
    with pm.Model(coords=coords) as model:
        rvs = {g.name: random_variable(g) for g in plan.rvs}
        fixed = pm.Data("fixed", fixed_values(plan.spec, stats))
        rows = row_values(plan, rvs, fixed, pt)
        positive_definite_check(plan, rows)
        add_likelihood(plan, summary, rows, form)
    return model


def random_variable(g: RVGroup) -> Any:
    """The PyMC random variable of one prior class (a vector, its prior and PyMC's transform)."""
    import pymc as pm
    from pymc.distributions import transforms

    a = [g.args[:, k] for k in range(g.args.shape[1])]
    dims = f"{g.name}_parameter"
    f = g.prior.family
    if g.positive:  # sign identification: the prior truncated to positive loadings
        if f != "normal":
            return pm.Truncated(g.name, _dist(f, a), lower=0.0, dims=dims)
        return pm.TruncatedNormal(g.name, mu=a[0], sigma=a[1], lower=0.0, dims=dims)
    extra = {"transform": transforms.ordered} if g.ordered else {}
    if g.ordered:
        extra["initval"] = np.linspace(-1, 1, len(g.pars))
    return {
        "normal": lambda: pm.Normal(g.name, mu=a[0], sigma=a[1], dims=dims, **extra),
        "student_t": lambda: pm.StudentT(g.name, nu=a[0], mu=a[1], sigma=a[2], dims=dims, **extra),
        "cauchy": lambda: pm.Cauchy(g.name, alpha=a[0], beta=a[1], dims=dims, **extra),
        "uniform": lambda: pm.Uniform(g.name, lower=a[0], upper=a[1], dims=dims),
        "lognormal": lambda: pm.LogNormal(g.name, mu=a[0], sigma=a[1], dims=dims),
        "gamma": lambda: pm.Gamma(g.name, alpha=a[0], beta=a[1], dims=dims),
        "inv_gamma": lambda: pm.InverseGamma(g.name, alpha=a[0], beta=a[1], dims=dims),
        "exponential": lambda: pm.Exponential(g.name, lam=a[0], dims=dims),
        "half_normal": lambda: pm.HalfNormal(g.name, sigma=a[0], dims=dims),
        "half_cauchy": lambda: pm.HalfCauchy(g.name, beta=a[0], dims=dims),
        "beta": lambda: pm.Beta(g.name, alpha=a[0], beta=a[1], dims=dims),
    }[f]()


def _dist(f, a):
    import pymc as pm

    return {
        "student_t": lambda: pm.StudentT.dist(nu=a[0], mu=a[1], sigma=a[2]),
        "cauchy": lambda: pm.Cauchy.dist(alpha=a[0], beta=a[1]),
        "uniform": lambda: pm.Uniform.dist(lower=a[0], upper=a[1]),
    }[f]()


def positive_definite_check(plan: Plan, rows: Any) -> None:
    """Correlations get independent priors (blavaan's ``rho ~ beta(1,1)``); a block of three or
    more correlated variables must also form a positive-definite matrix, so draws outside that set
    get zero density (Sylvester: every leading minor > 0). For a full block with beta(1,1) this
    is exactly LKJ(1), the uniform prior on correlation matrices, and it keeps blavaan's
    one-prior-per-correlation table; checked on the RAM S matrix, so it covers latent and
    residual covariances alike."""
    import pymc as pm
    import pytensor.tensor as pt

    lay, conds = plan.layout, []
    for g in range(1, lay.ngroups + 1):
        c = lay.S[g]
        off = c.i != c.j
        for block in correlation_blocks(c.i[off], c.j[off]):
            if len(block) < 3:
                continue
            S = ram_tensors(lay, rows, g, pt)[1][block][:, block]
            d = pt.sqrt(pt.diag(S))
            R = S / pt.outer(d, d)
            conds += [pt.gt(pt.linalg.det(R[:k, :k]), 0) for k in range(2, len(block) + 1)]
    if conds:
        pm.Potential("positive_definite", pt.switch(pt.all(pt.stack(conds)), 0.0, -np.inf))


def correlation_blocks(i: np.ndarray, j: np.ndarray) -> list[list[int]]:
    """Connected components of the covariance graph (variables linked by a covariance)."""
    parent: dict[int, int] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in zip(i.tolist(), j.tolist()):
        parent[find(a)] = find(b)
    comps: dict[int, list[int]] = {}
    for x in list(parent):
        comps.setdefault(find(x), []).append(x)
    return [sorted(v) for v in comps.values()]


# -- starting values ---------------------------------------------------------------------------
def start_point(plan: Plan, summary: DataSummary, form: str) -> dict[str, np.ndarray]:
    """Starting values of the sampled variables (constrained scale), per docs/findings.md's sign trap."""
    stats = item_stats(plan.spec, summary)
    natural = natural_start(plan, stats)
    point = {g.name: sampled_start(g, natural) for g in plan.rvs}
    if form == "conditional":
        point["z"] = _score_start(plan, summary)
    return point


def _score_start(plan: Plan, summary: DataSummary) -> np.ndarray:
    """Latent-score starts oriented by the data: the mean of each factor's standardized items
    (so a factor does not start flipped), standardized; 0 for factors without items."""
    t = plan.table
    y = summary.y
    with np.errstate(invalid="ignore"):
        zy = (y - np.nanmean(y, 0)) / np.nanstd(y, 0)
    out = np.zeros((summary.n, len(plan.layout.latents)))
    for k, f in enumerate(plan.layout.latents):
        items = [summary.items.index(v) for v in t.rhs[(t.op == "=~") & (t.lhs == f)].unique() if v in summary.items]
        if items:
            s = np.nan_to_num(np.nanmean(zy[:, items], axis=1))
            out[:, k] = (s - s.mean()) / (s.std() or 1.0)
    return out


def unconstrained(model: pm.Model, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``point`` mapped through each variable's PyMC transform (value-variable names)."""
    from pymc.distributions import transforms as tr

    out = {}
    for rv in model.free_RVs:
        x = np.asarray(point[rv.name], float)
        t = model.rvs_to_transforms.get(rv)
        value = model.rvs_to_values[rv].name
        if t is None:
            y = x
        elif isinstance(t, tr.Ordered):
            y = np.concatenate([x[..., :1], np.log(np.maximum(np.diff(x, axis=-1), 1e-6))], axis=-1)
        elif isinstance(t, tr.LogOddsTransform):
            y = np.log(x) - np.log1p(-x)
        elif isinstance(t, tr.LogTransform):
            y = np.log(x)
        elif isinstance(t, tr.IntervalTransform):
            lo, hi = _bounds(t, rv)
            if lo is not None and hi is not None:
                y = np.log(x - lo) - np.log(hi - x)
            else:
                y = np.log(x - lo)
        else:
            raise NotImplementedError(f"no starting-value transform for {type(t).__name__} ({rv.name})")
        out[value] = y
    return out


def data_values(plan: Plan, summary: DataSummary, form: str) -> dict[str, np.ndarray]:
    """Values of every ``pm.Data`` of :func:`build_pymc` for these data (to swap data in a
    compiled model: nutpie's ``with_data``, PyMC's ``pm.set_data``)."""
    out = {"fixed": fixed_values(plan.spec, item_stats(plan.spec, summary))}
    if form == "conditional":
        cont = [j for j, v in enumerate(summary.items) if v not in summary.ordinal]
        ords = [v for v in summary.items if v in summary.ordinal]
        codes = np.stack([summary.codes(v) for v in ords], 1) if ords else np.zeros((summary.n, 0), int)
        out.update(
            y_continuous=np.nan_to_num(summary.y[:, cont]),
            mask_continuous=(~np.isnan(summary.y[:, cont])).astype(float),
            y_ordinal=np.maximum(codes, 0),
            mask_ordinal=(codes >= 0).astype(float),
        )
        return out
    if form == "respondent":
        for k, pat in enumerate(summary.patterns):
            out[f"y_{k}"] = summary.y[np.ix_(pat.rows, pat.idx)]
        return out
    for g, st in pattern_stats(summary, plan.layout.n_observed).items():
        out.update({f"{k}_g{g}": st[k] for k in ("n", "ybar", "s")})
        if not st["complete"]:
            out.update({f"mask_g{g}": st["mask"], f"q_g{g}": st["q"]})
    return out


def constrained(model: pm.Model, upoint: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of :func:`unconstrained` (value-variable names -> random-variable names)."""
    from pymc.distributions import transforms as tr
    from scipy.special import expit

    out = {}
    for rv in model.free_RVs:
        y = np.asarray(upoint[model.rvs_to_values[rv].name], float)
        t = model.rvs_to_transforms.get(rv)
        if t is None:
            x = y
        elif isinstance(t, tr.Ordered):
            x = np.cumsum(np.concatenate([y[..., :1], np.exp(y[..., 1:])], axis=-1), axis=-1)
        elif isinstance(t, tr.LogOddsTransform):
            x = expit(y)
        elif isinstance(t, tr.LogTransform):
            x = np.exp(y)
        else:
            lo, hi = _bounds(t, rv)
            x = lo + (hi - lo) * expit(y) if hi is not None else lo + np.exp(y)
        out[rv.name] = x
    return out


def _bounds(t, rv):
    """Bounds of an interval transform as NumPy values (``None`` where unbounded)."""
    a, b, lower, upper = t.get_a_and_b(rv.owner.inputs)
    out = []
    for v, bounded in ((a, lower), (b, upper)):
        if not bounded:
            out.append(None)
            continue
        value = v.data if hasattr(v, "data") else v.eval() if hasattr(v, "eval") else v
        out.append(np.asarray(value, float))
    return tuple(out)
