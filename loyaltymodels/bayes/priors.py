"""Prior distributions of the Bayesian SEM: blavaan's defaults, as an editable table.

Every free parameter (``par`` of the parameter table) belongs to one of blavaan's classes

=========  ==========================================  =====================
class      rows                                        default (blavaan)
=========  ==========================================  =====================
``nu``     intercepts of observed variables (``~1``)   ``normal(0,32)``
``alpha``  means/intercepts of latent variables        ``normal(0,10)``
``lambda`` loadings (``=~``)                           ``normal(0,10)``
``beta``   regressions (``~``, ``<~``)                 ``normal(0,10)``
``theta``  residual variances of observed variables    ``gamma(1,0.5)[sd]``
``psi``    (residual) variances of latent variables    ``gamma(1,0.5)[sd]``
``rho``    covariances, as correlations                ``beta(1,1)``
``tau``    thresholds of ordinal items (``|``)         ``normal(0,1.5)``
=========  ==========================================  =====================

Prior strings use Stan's parameterisations (``normal(mean, sd)``, ``gamma(shape, rate)``),
as blavaan's ``dpriors(target = "stan")``. A variance prior carries a suffix saying what it is a
prior on: ``[sd]`` (the default), ``[var]`` or ``[prec]``. A ``beta(a,b)`` on a correlation is a
prior on ``(r + 1) / 2``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import SpecError
from ..spec.layout import param_name
from ..spec.model import ModelSpec, as_spec

#: blavaan's default priors (``dpriors(target = "stan")``), by parameter class.
DEFAULT_PRIORS: dict[str, str] = {
    "nu": "normal(0,32)",
    "alpha": "normal(0,10)",
    "lambda": "normal(0,10)",
    "beta": "normal(0,10)",
    "theta": "gamma(1,0.5)[sd]",
    "psi": "gamma(1,0.5)[sd]",
    "rho": "beta(1,1)",
    "tau": "normal(0,1.5)",
}
#: family -> (number of arguments, support); the support decides which classes may use it.
FAMILIES: dict[str, tuple[int, str]] = {
    "normal": (2, "real"),
    "student_t": (3, "real"),
    "cauchy": (2, "real"),
    "uniform": (2, "interval"),
    "lognormal": (2, "positive"),
    "gamma": (2, "positive"),
    "inv_gamma": (2, "positive"),
    "exponential": (1, "positive"),
    "half_normal": (1, "positive"),
    "half_cauchy": (1, "positive"),
    "beta": (2, "unit"),
}
_ALIASES = {
    "invgamma": "inv_gamma",
    "inverse_gamma": "inv_gamma",
    "halfnormal": "half_normal",
    "halfcauchy": "half_cauchy",
    "t": "student_t",
    "studentt": "student_t",
}
_VARIANCE = ("theta", "psi")
_PRIOR_RE = re.compile(r"^\s*([a-z_]+)\s*\(([^()]*)\)\s*(?:\[\s*(sd|var|prec)\s*\])?\s*$")


@dataclass(frozen=True)
class Prior:
    """One parsed prior: ``family(args)[scale]``; ``scale`` is only used by variance classes."""

    family: str
    args: tuple[float, ...]
    scale: str = "sd"

    def __str__(self) -> str:
        args = ",".join(f"{a:g}" for a in self.args)
        return f"{self.family}({args})" + (
            f"[{self.scale}]" if self.scale != "sd" or self.family in ("gamma", "inv_gamma", "lognormal") else ""
        )


def parse_prior(text: str, cls: str | None = None, where: str = "") -> Prior:
    """Read a prior string such as ``"normal(0,10)"`` or ``"gamma(1,.5)[sd]"``.

    Examples
    --------
    >>> parse_prior("gamma(1,.5)[sd]", "theta")
    Prior(family='gamma', args=(1.0, 0.5), scale='sd')
    >>> str(parse_prior("normal(0, 10)"))
    'normal(0,10)'
    """
    at = f" for {where}" if where else ""
    m = _PRIOR_RE.match(str(text).lower())
    if not m:
        raise SpecError(
            f"cannot read the prior {text!r}{at}: write it as in Stan, e.g. "
            "'normal(0,10)' or 'gamma(1,0.5)[sd]' (JAGS's dnorm(...) is not supported)"
        )
    family = _ALIASES.get(m.group(1), m.group(1))
    if family not in FAMILIES:
        raise SpecError(
            f"unknown prior distribution {m.group(1)!r}{at}; known: {', '.join(FAMILIES)} "
            "(Stan's names and parameterisations, as blavaan's target='stan')"
        )
    try:
        args = tuple(float(a) for a in m.group(2).split(",") if a.strip())
    except ValueError:
        raise SpecError(f"the arguments of the prior {text!r}{at} must be numbers") from None
    nargs, _support = FAMILIES[family]
    if len(args) != nargs:
        raise SpecError(f"{family} takes {nargs} argument(s), the prior {text!r}{at} has {len(args)}")
    prior = Prior(family, args, m.group(3) or "sd")
    if cls is not None:
        _check_support(prior, cls, text, at)
    return prior


def _check_support(prior: Prior, cls: str, text: str, at: str) -> None:
    support = FAMILIES[prior.family][1]
    if cls in _VARIANCE:
        ok = support == "positive"
        need = "a positive distribution (gamma, inv_gamma, lognormal, exponential, half_normal, half_cauchy)"
    elif cls == "rho":
        ok = support == "unit" or (support == "interval" and -1 <= prior.args[0] < prior.args[1] <= 1)
        need = "beta(a,b) (on (r+1)/2) or uniform(lo,hi) within (-1, 1)"
    elif cls == "tau":
        ok = prior.family in ("normal", "student_t", "cauchy")
        need = "normal, student_t or cauchy (thresholds are ordered on the real line)"
    else:
        ok = support in ("real", "interval")
        need = "a distribution on the real line (normal, student_t, cauchy, uniform)"
    if not ok:
        raise SpecError(f"the prior {text!r}{at} does not suit a {cls} parameter: use {need}")


def parameter_class(lhs: str, op: str, rhs: str, latents: set[str]) -> str:
    """blavaan's class of one table row (``lambda``, ``theta``, ...)."""
    if op == "=~":
        return "lambda"
    if op in ("~", "<~"):
        return "beta"
    if op == "~1":
        return "alpha" if lhs in latents else "nu"
    if op == "|":
        return "tau"
    if op == "~~":
        if lhs != rhs:
            return "rho"
        return "psi" if lhs in latents else "theta"
    raise SpecError(f"row '{lhs} {op} {rhs}' has no prior class")


def free_rows(spec: ModelSpec) -> pd.DataFrame:
    """The first row of each free parameter ``par``, with its ``name`` and ``class``."""
    t = spec.table
    rows = t[(t.par >= 0) & (t.group > 0)].drop_duplicates("par").sort_values("par")
    latents = set(spec.latents)
    rows = rows.assign(
        name=[param_name(l, o, r, g) for l, o, r, g in zip(rows.lhs, rows.op, rows.rhs, rows.group)],
        **{"class": [parameter_class(l, o, r, latents) for l, o, r in zip(rows.lhs, rows.op, rows.rhs)]},
    )
    return rows.reset_index(drop=True)


def default_priors(model: str | ModelSpec, **options: Any) -> pd.DataFrame:
    """The prior of every free parameter: blavaan's defaults, or the syntax's ``prior("...")``.

    Edit the ``prior`` column and pass the table back as ``priors=`` to :func:`build_model` or
    :func:`fit_bayes`; or pass a dict by class (``{"lambda": "normal(0,1)"}``), label or lavaan
    parameter name (``{"visual=~x2": "normal(1,0.5)"}``). In R: ``blavaan::dpriors()``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> lm.default_priors("f =~ x1 + x2 + x3").loc[:3, ["name", "class", "prior"]]
        name   class             prior
    0  f=~x2  lambda      normal(0,10)
    1  f=~x3  lambda      normal(0,10)
    2  x1~~x1  theta  gamma(1,0.5)[sd]
    3  x2~~x2  theta  gamma(1,0.5)[sd]
    """
    spec = as_spec(model, **options)
    rows = free_rows(spec)
    prior = [p if p else DEFAULT_PRIORS[c] for p, c in zip(rows["prior"].fillna(""), rows["class"])]
    out = rows[["lhs", "op", "rhs", "group", "label", "par", "name", "class"]].assign(prior=prior)
    return out.reset_index(drop=True)


def resolve_priors(spec: ModelSpec, priors: pd.DataFrame | Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`default_priors` with ``priors`` applied and every string parsed (column ``parsed``).

    Precedence, lowest first: class default, ``priors[class]``, the syntax's ``prior("...")``,
    ``priors[label]`` or ``priors[name]``, a row of an edited table.
    """
    table = default_priors(spec)
    syntax_prior = free_rows(spec)["prior"].fillna("").to_numpy()
    if isinstance(priors, pd.DataFrame):
        need = {"lhs", "op", "rhs", "prior"}
        if need - set(priors.columns):
            raise SpecError(
                f"a priors table needs the columns {sorted(need)}; missing {sorted(need - set(priors.columns))}"
            )
        key = lambda d: list(zip(d.lhs, d.op, d.rhs, d.get("group", pd.Series(1, index=d.index))))  # noqa: E731
        given = dict(zip(key(priors), priors["prior"]))
        unknown = [k for k in given if k not in set(key(table))]
        if unknown:
            raise SpecError(f"priors table rows {unknown} are not free parameters of the model")
        table["prior"] = [given.get(k, p) for k, p in zip(key(table), table["prior"])]
    elif priors:
        classes, unmatched = set(DEFAULT_PRIORS), []
        for k, v in priors.items():
            if k in classes:
                hit = (table["class"] == k).to_numpy() & (syntax_prior == "")
            else:
                hit = ((table["label"] == k) | (table["name"] == k)).to_numpy()
                if not hit.any():
                    unmatched.append(k)
                    continue
            table.loc[hit, "prior"] = v
        if unmatched:
            raise SpecError(
                f"priors: {unmatched} are neither parameter classes ({', '.join(DEFAULT_PRIORS)}) "
                "nor labels or parameter names of the model (see default_priors(model))"
            )
    table["parsed"] = [parse_prior(p, c, n) for p, c, n in zip(table["prior"], table["class"], table["name"])]
    return table
