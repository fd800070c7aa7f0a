"""One model specification: lavaan syntax -> lavaan's parameter table.

The parameter table is the package's spine (lavaan's ``parTable()``): one row per parameter and per
group, with the columns

``id lhs op rhs group label free value start lower upper prior user exo plabel par``

``free`` is a bool, ``value`` the fixed value (NaN when free, or when fixed to a sample statistic as
exogenous covariates are), ``user`` says whether the row was written in the syntax or added by a
default, ``par`` numbers the free parameters from 0 (equal labels share a number; -1 when fixed).
``group`` counts from 1; constraint and definition rows (``:= == < >``) have group 0, as in lavaan.
Every back end (ML, Bayes, PLS, the simulator) reads this table; results add columns to it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from . import syntax as _syntax
from .errors import LoyaltyModelsWarning, SpecError

COLUMNS = ["id", "lhs", "op", "rhs", "group", "label", "free", "value", "start", "lower", "upper",
           "prior", "user", "exo", "plabel", "par"]
CONSTRAINT_OPS = (":=", "==", "<", ">")
#: group_equal classes, as lavaan names them (``group.equal``).
EQUALITY_CLASSES = ("loadings", "composite.loadings", "intercepts", "means", "thresholds",
                    "regressions", "residuals", "residual.covariances", "lv.variances",
                    "lv.covariances")

_DEFAULT_OPTIONS: dict[str, Any] = dict(
    std_lv=False, auto=True, auto_fix_first=None, auto_fix_single=True, auto_cov_lv_x=True,
    auto_cov_y=True, fixed_x=True, orthogonal=False, meanstructure=None, int_ov_free=True,
    int_lv_free=False, ngroups=None, group_labels=None, group_equal=(), group_partial=(),
    ordinal=None,
)


class SpecWarning(LoyaltyModelsWarning):
    """A specification that works but is probably not what was meant (duplicated formula, ...)."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model: the parameter table plus the variable roles derived from it.

    Build it with :func:`parse_model`. ``partable`` returns a copy, so a spec cannot be changed by
    accident; edit the copy and pass it back (:func:`parse_model` accepts a table too).
    """

    table: pd.DataFrame = field(repr=False)
    syntax: str = field(repr=False)
    options: Mapping[str, Any] = field(repr=False)

    @property
    def partable(self) -> pd.DataFrame:
        return self.table.copy()

    # -- variable roles (lavaan's lavNames), read from group 1 ------------------------------------
    @cached_property
    def _names(self) -> dict[str, list[str]]:
        t = self.table
        return _vnames(t[t.group <= 1], ordinal=self.options.get("ordinal"))

    latents = property(lambda self: self._names["lv"], doc="Latent variables, in order of appearance.")
    observed = property(lambda self: self._names["ov"], doc="Observed variables, in lavaan's order.")
    indicators = property(lambda self: self._names["ov_ind"], doc="Observed indicators of latents.")
    exogenous_latents = property(lambda self: self._names["lv_x"])
    endogenous_latents = property(lambda self: [v for v in self.latents if v not in self._names["lv_x"]])
    covariates = property(lambda self: self._names["ov_x"], doc="Exogenous observed covariates (x).")
    composites = property(lambda self: self._names["lv_composite"])
    ordinal = property(lambda self: self._names["ov_ord"], doc="Observed variables with thresholds.")

    @property
    def ngroups(self) -> int:
        return int(self.table.group.max())

    @property
    def group_labels(self) -> list:
        labels = self.options.get("group_labels")
        return list(labels) if labels is not None else list(range(1, self.ngroups + 1))

    @property
    def meanstructure(self) -> bool:
        return bool((self.table.op == "~1").any())

    @property
    def defined(self) -> list[str]:
        """Names of the defined parameters (``:=``)."""
        return self.table.loc[self.table.op == ":=", "lhs"].tolist()

    @property
    def npar(self) -> int:
        """Number of free parameters, as lavaan's ``npar``: equal labels count once, each ``==``
        constraint removes one."""
        t = self.table
        return int(t.loc[t.free, "par"].nunique() - (t.op == "==").sum())

    @property
    def ndat(self) -> int:
        """Number of sample moments the model is fitted to (lavaan's ``ndat``), fixed-x removed."""
        p, nx = len(self.observed), len(self.covariates) if self.options.get("fixed_x", True) else 0
        per = p * (p + 1) // 2 - nx * (nx + 1) // 2
        if self.meanstructure:
            per += p - nx
        return per * self.ngroups

    @property
    def df(self) -> int:
        """Degrees of freedom of the model's chi-square test: ``ndat - npar``."""
        return self.ndat - self.npar

    def with_options(self, **options: Any) -> ModelSpec:
        """The same model with other options (``std_lv=True``, ``ngroups=2``, ...)."""
        return parse_model(self.syntax, **{**self.options, **options})

    def to_syntax(self) -> str:
        """lavaan syntax that parses back into this table (see :func:`to_syntax`)."""
        return to_syntax(self.table, self.options)

    def __repr__(self) -> str:
        return (f"ModelSpec({len(self.latents)} latent, {len(self.observed)} observed, "
                f"{self.ngroups} group{'s' if self.ngroups > 1 else ''}, npar={self.npar})")


def parse_model(model: str | ModelSpec | pd.DataFrame, *, std_lv: bool = False, **options: Any) -> ModelSpec:
    """Parse lavaan model syntax into a :class:`ModelSpec` and its parameter table.

    Defaults are those of lavaan's ``sem()`` and ``cfa()``: the first loading of each latent is fixed
    to 1 (or, with ``std_lv=True``, every latent variance to 1); residual variances of observed and
    latent variables, variances and covariances of exogenous latents and covariances of the purely
    dependent variables are free; exogenous observed covariates are fixed to their sample moments
    (``fixed_x``); a mean structure (free intercepts, latent means 0) is added with several groups,
    user intercepts or ``meanstructure=True``.

    Parameters
    ----------
    model : str, ModelSpec or DataFrame
        lavaan syntax, an existing spec (re-derived with the options given), or a parameter table.
    std_lv : bool
        Identify latents by fixing their variances to 1 rather than their first loading.
    **options
        ``ngroups``, ``group_labels``, ``group_equal`` (any of :data:`EQUALITY_CLASSES`),
        ``group_partial`` (``"lhs op rhs"`` strings exempt from ``group_equal``), ``meanstructure``,
        ``fixed_x``, ``orthogonal``, ``ordinal`` (mapping item -> number of thresholds), ``auto``
        (False: add no default parameter, as lavaan's ``lavaan()``), ``auto_fix_first``,
        ``auto_fix_single``, ``auto_cov_lv_x``, ``auto_cov_y``, ``int_ov_free``, ``int_lv_free``.

    Raises
    ------
    SpecError
        With the line and column of the problem and what was expected there.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> spec = lm.parse_model("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9")
    >>> spec.npar  # lavaan: npar 21
    21
    >>> spec.partable.loc[:3, ["lhs", "op", "rhs", "free", "value"]]
          lhs  op rhs   free  value
    0  visual  =~  x1  False    1.0
    1  visual  =~  x2   True    NaN
    2  visual  =~  x3   True    NaN
    3 textual  =~  x4  False    1.0
    """
    if isinstance(model, ModelSpec):
        return model if not options and std_lv == model.options["std_lv"] else \
            model.with_options(std_lv=std_lv, **options)
    if isinstance(model, pd.DataFrame):
        return from_partable(model, std_lv=std_lv, **options)
    unknown = set(options) - set(_DEFAULT_OPTIONS)
    if unknown:
        raise TypeError(f"parse_model() got unknown option(s) {sorted(unknown)}; "
                        f"known: {sorted(_DEFAULT_OPTIONS)}")
    opts = {**_DEFAULT_OPTIONS, **options, "std_lv": bool(std_lv)}
    opts["group_equal"] = _check_group_equal(opts["group_equal"])
    opts["group_partial"] = tuple(opts["group_partial"] or ())
    if opts["ordinal"] is not None:
        opts["ordinal"] = dict(opts["ordinal"])
    formulas = _syntax.parse(model)
    table = _build_table(formulas, opts)
    opts["ngroups"] = int(table.group.max())
    return ModelSpec(table=table, syntax=model, options=opts)


def as_spec(model: str | ModelSpec | pd.DataFrame, **options: Any) -> ModelSpec:
    """The :class:`ModelSpec` for ``model`` with ``options`` applied (what every back end calls).

    Options equal to the spec's own are not re-derived, so passing a spec through is free.
    """
    if isinstance(model, ModelSpec):
        changed = {k: v for k, v in options.items() if model.options.get(k) != v}
        return model.with_options(**changed) if changed else model
    return parse_model(model, **options)


def _check_group_equal(value: str | Sequence[str]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value or ())
    for item in items:
        if item not in EQUALITY_CLASSES:
            raise SpecError(f"unknown group_equal class {item!r}; choose among {', '.join(EQUALITY_CLASSES)}")
    return items


# -- variable roles --------------------------------------------------------------------------------
def _unique(seq) -> list[str]:
    return list(dict.fromkeys(seq))


def _vnames(rows: pd.DataFrame | list, ordinal: Mapping[str, int] | None = None) -> dict[str, list[str]]:
    """lavaan's ``lav_partable_vnames`` on (lhs, op, rhs[, user]) rows: who is latent, observed,
    exogenous, dependent, and the order in which observed variables are listed."""
    if isinstance(rows, pd.DataFrame):
        rows = list(zip(rows.lhs, rows.op, rows.rhs, rows.user))
    lhs_of = lambda *ops: _unique(r[0] for r in rows if r[1] in ops)  # noqa: E731
    rhs_of = lambda *ops: _unique(r[2] for r in rows if r[1] in ops)  # noqa: E731
    lv = lhs_of("=~", "<~")
    lv_composite = [v for v in lhs_of("<~") if v not in lhs_of("=~")]
    eqs_y, eqs_x, v_ind = lhs_of("~"), rhs_of("~", "<~"), rhs_of("=~")
    ov_ind = [v for v in v_ind if v not in lv]
    ov_y = [v for v in eqs_y if v not in lv and v not in ov_ind]
    ov_x = [v for v in eqs_x if v not in lv and v not in ov_ind and v not in ov_y]
    extra = [r[0] for r in rows if r[1] in ("~~", "~1", "|", "~*~") and r[0] not in lv] + \
            [r[2] for r in rows if r[1] == "~~" and r[2] not in lv]
    ov = _unique(ov_ind + ov_y + ov_x + extra)
    # an x mentioned by the user in a variance, covariance or intercept is modelled, not fixed
    mentioned = {r[0] for r in rows if r[1] in ("~~", "~1") and r[3]} | \
                {r[2] for r in rows if r[1] == "~~" and r[3]}
    ov_x = [v for v in ov_x if v not in mentioned]
    ov_ord = [v for v in ov if v in set(lhs_of("|")) | set(ordinal or {})]
    return dict(
        lv=lv, lv_composite=lv_composite, ov=ov, ov_ind=ov_ind, ov_x=ov_x, ov_ord=ov_ord,
        ov_nox=[v for v in ov if v not in ov_x],
        ov_y=[v for v in ov if v in eqs_y and v not in v_ind and v not in eqs_x and v not in lv],
        lv_x=[v for v in lv if v not in v_ind and v not in eqs_y],
        lv_y=[v for v in lv if v in eqs_y and v not in v_ind and v not in eqs_x],
    )


# -- building the table ----------------------------------------------------------------------------
def _default_rows(names: dict[str, list[str]], opts: dict, meanstructure: bool,
                  ordinal: Mapping[str, int]) -> list[tuple[str, str, str]]:
    """The rows lavaan adds for one group, in lavaan's order (lav_partable_flat)."""
    rows: list[tuple[str, str, str]] = []
    for v in names["ov_ord"]:
        rows += [(v, "|", f"t{k}") for k in range(1, ordinal.get(v, 0) + 1)]
    rows += [(v, "~~", v) for v in names["ov_nox"] + names["lv"]]
    if opts["auto_cov_lv_x"]:
        rows += _pairs(names["lv_x"])
    if opts["auto_cov_y"]:
        rows += _pairs(names["lv_y"] + names["ov_y"])
    x = names["ov_x"]
    rows += [(x[j], "~~", x[i]) for j in range(len(x)) for i in range(j, len(x))]  # lower triangle
    if meanstructure:
        rows += [(v, "~1", "") for v in names["ov"] + names["lv"]]
    return rows


def _pairs(vs: list[str]) -> list[tuple[str, str, str]]:
    return [(vs[i], "~~", vs[j]) for i in range(len(vs)) for j in range(i + 1, len(vs))]


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    """Identity of a parameter: ``~~`` is symmetric."""
    return (lhs, op, rhs) if op != "~~" or lhs <= rhs else (rhs, op, lhs)


def _build_table(formulas: list[_syntax.Formula], opts: dict) -> pd.DataFrame:
    model = [f for f in formulas if f.op not in CONSTRAINT_OPS]
    constraints = [f for f in formulas if f.op in CONSTRAINT_OPS]
    if not model:
        f = formulas[0]
        raise SpecError("the model has no =~, ~ or ~~ formula, only constraints or definitions",
                        line=f.line, column=f.col, expected="at least one model formula")
    model = _drop_duplicates(model)
    ngroups = _ngroups(model, opts)
    ordinal = dict(opts["ordinal"] or {})
    user_rows = [(f.lhs, f.op, f.rhs, True) for f in model]
    names = _vnames(user_rows, ordinal)
    meanstructure = opts["meanstructure"]
    if meanstructure is None:
        meanstructure = ngroups > 1 or any(f.op == "~1" for f in model)
    seen = {_key(f.lhs, f.op, f.rhs) for f in model}
    defaults = [r for r in _default_rows(names, opts, meanstructure, ordinal) if _key(*r) not in seen] \
        if opts["auto"] else []

    base = _base_status(model, defaults, names, opts, meanstructure)
    records = []
    for g in range(1, ngroups + 1):
        for row in base:
            rec = {k: v for k, v in row.items() if k != "_formula"}
            rec["group"] = g
            if "_formula" in row:
                _apply_modifiers(rec, row["_formula"], g)
            records.append(rec)
    table = pd.DataFrame.from_records(records)
    if ngroups > 1:
        _multigroup_defaults(table, names, opts)
    if opts["group_equal"]:
        _apply_group_equal(table, names, opts)
    if constraints:
        extra = pd.DataFrame.from_records([
            dict(lhs=f.lhs, op=f.op, rhs=f.rhs, group=0, label="", free=False, value=math.nan,
                 start=math.nan, lower=math.nan, upper=math.nan, prior="", user=True, exo=False)
            for f in constraints])
        table = pd.concat([table, extra], ignore_index=True)
    _check_constraints(table, constraints)
    return _finish(table)


def _drop_duplicates(model: list[_syntax.Formula]) -> list[_syntax.Formula]:
    seen: dict[tuple, _syntax.Formula] = {}
    out = []
    for f in model:
        k = _key(f.lhs, f.op, f.rhs)
        if k in seen:
            warnings.warn(f"line {f.line}: '{f.lhs} {f.op} {f.rhs}' repeats line {seen[k].line}; "
                          "the repeat is ignored (as lavaan does)", SpecWarning, stacklevel=4)
            continue
        seen[k] = f
        out.append(f)
    return out


def _ngroups(model: list[_syntax.Formula], opts: dict) -> int:
    lengths = {len(v) for f in model for v in (f.fixed, f.label, f.start, f.lower, f.upper)
               if v is not None and len(v) > 1}
    ngroups = opts["ngroups"]
    if opts["group_labels"] is not None:
        ngroups = ngroups or len(opts["group_labels"])
    if ngroups is None:
        ngroups = max(lengths, default=1)
    for f in model:
        for v in (f.fixed, f.label, f.start, f.lower, f.upper):
            if v is not None and len(v) not in (1, ngroups):
                raise SpecError(f"c(...) on '{f.lhs} {f.op} {f.rhs}' has {len(v)} values but the "
                                f"model has {ngroups} group(s)", line=f.line, column=f.col,
                                expected=f"{ngroups} values, one per group")
    return int(ngroups)


def _base_status(model, defaults, names, opts, meanstructure) -> list[dict]:
    """Free/fixed status of every row of one group before user modifiers (lavaan's rules)."""
    std_lv = opts["std_lv"]
    auto_fix_first = (not std_lv) if opts["auto_fix_first"] is None else opts["auto_fix_first"]
    rows = [dict(lhs=f.lhs, op=f.op, rhs=f.rhs, user=True, _formula=f) for f in model] + \
           [dict(lhs=l, op=o, rhs=r, user=False) for (l, o, r) in defaults]
    lv, ov_x, ov_ord = set(names["lv"]), set(names["ov_x"]), set(names["ov_ord"])
    composites = set(names["lv_composite"])
    first_seen: set[str] = set()
    n_ind = pd.Series([f.lhs for f in model if f.op == "=~"]).value_counts().to_dict()
    all_ind = [f.rhs for f in model if f.op == "=~"]
    single = {f.rhs for f in model if f.op == "=~" and n_ind.get(f.lhs) == 1 and f.rhs not in lv
              and all_ind.count(f.rhs) == 1}
    for r in rows:
        r.update(free=True, value=math.nan, exo=False, label="", start=math.nan, lower=math.nan,
                 upper=math.nan, prior="")
        lhs, op, rhs = r["lhs"], r["op"], r["rhs"]
        fix = None
        if op in ("=~", "<~") and lhs not in first_seen:
            first_seen.add(lhs)
            if (auto_fix_first and op == "=~") or (op == "<~" and (auto_fix_first or std_lv)):
                fix = 1.0
        elif op == "~~" and lhs == rhs and not r["user"]:
            if lhs in lv and std_lv and lhs not in composites:
                fix = 1.0
            elif lhs in composites:
                fix = 0.0
            elif lhs in ov_ord:
                fix = 1.0  # delta parameterization: residual variance is not a free parameter
            elif lhs in single and opts["auto_fix_single"]:
                fix = 0.0
        elif op == "~~" and lhs != rhs and not r["user"] and opts["orthogonal"] and lhs in lv and rhs in lv:
            fix = 0.0
        elif op == "~1" and not r["user"]:
            if lhs in lv and not opts["int_lv_free"]:
                fix = 0.0
            elif lhs in ov_ord or (lhs not in lv and not opts["int_ov_free"]):
                fix = 0.0
        if fix is not None:
            r.update(free=False, value=fix)
        if not r["user"] and opts["fixed_x"] and (
                (op == "~~" and lhs in ov_x and rhs in ov_x) or (op == "~1" and lhs in ov_x)):
            r.update(free=False, value=math.nan, exo=True)  # fixed to the sample statistic
    return rows


def _pick(values: list | None, g: int):
    if values is None:
        return None
    return values[0] if len(values) == 1 else values[g - 1]


def _apply_modifiers(rec: dict, f: _syntax.Formula, g: int) -> None:
    fixed = _pick(f.fixed, g)
    if fixed is not None:
        if math.isnan(fixed):
            rec.update(free=True, value=math.nan)
        else:
            rec.update(free=False, value=float(fixed))
    label = _pick(f.label, g)
    if label:
        rec["label"] = label
    for key in ("start", "lower", "upper"):
        v = _pick(getattr(f, key), g)
        if v is not None:
            rec[key] = float(v)
    if f.prior:
        rec["prior"] = f.prior


def _multigroup_defaults(t: pd.DataFrame, names, opts) -> None:
    ge = opts["group_equal"]
    later = (t.group > 1) & ~t.user
    if "intercepts" in ge and "means" not in ge and not opts["int_lv_free"]:
        idx = later & (t.op == "~1") & t.lhs.isin(names["lv"]) & ~t.lhs.isin(names["lv_composite"])
        t.loc[idx, ["free", "value"]] = [True, math.nan]
    if opts["std_lv"] and "loadings" in ge and "lv.variances" not in ge:
        idx = later & (t.op == "~~") & (t.lhs == t.rhs) & t.lhs.isin(names["lv"])
        t.loc[idx, ["free", "value"]] = [True, math.nan]


def _equality_class(lhs: str, op: str, rhs: str, lv: set[str]) -> str | None:
    if op == "=~":
        return "loadings"
    if op == "<~":
        return "composite.loadings"
    if op == "|":
        return "thresholds"
    if op == "~":
        return "regressions"
    if op == "~1":
        return "means" if lhs in lv else "intercepts"
    if op == "~~":
        if lhs == rhs:
            return "lv.variances" if lhs in lv else "residuals"
        return "lv.covariances" if lhs in lv and rhs in lv else "residual.covariances"
    return None


def _apply_group_equal(t: pd.DataFrame, names, opts) -> None:
    """Tie parameters of the chosen classes across groups with a shared label (lavaan's plabel of
    the group-1 row, e.g. ``.p2.``); user labels and ``group_partial`` rows are left alone."""
    lv = set(names["lv"])
    partial = {p.replace(" ", "") for p in opts["group_partial"]}
    classes = set(opts["group_equal"])
    first = t[t.group == 1].reset_index()
    for _, row in first.iterrows():
        cls = _equality_class(row.lhs, row.op, row.rhs, lv)
        if cls not in classes or f"{row.lhs}{row.op}{row.rhs}" in partial or row.exo:
            continue
        same = (t.lhs == row.lhs) & (t.op == row.op) & (t.rhs == row.rhs) & (t.group > 0)
        if (t.loc[same, "label"].fillna("") != "").any() or not t.loc[same, "free"].any():
            continue
        t.loc[same, "label"] = f".p{row['index'] + 1}."


def _check_constraints(t: pd.DataFrame, constraints: list[_syntax.Formula]) -> None:
    known = set(t.label) - {""}
    for f in constraints:
        for name in f.names:
            if name not in known:
                hint = ", ".join(sorted(n for n in known if not n.startswith("."))) or "none yet"
                raise SpecError(f"'{name}' in '{f.lhs} {f.op} {f.rhs}' is not a parameter label; "
                                f"label a parameter first, e.g. 'y ~ {name}*x' (labels: {hint})",
                                line=f.line, column=f.col, expected="a label defined in the model")
        if f.op == ":=":
            known.add(f.lhs)


def _finish(t: pd.DataFrame) -> pd.DataFrame:
    """Fill the remaining columns, propagate fixed values along labels, number the free params."""
    labelled = t[(t.label != "") & (t.group > 0)]
    for label, rows in labelled.groupby("label", sort=False):
        fixed = rows[~rows.free]
        if len(fixed):
            values = fixed.value.dropna().unique()
            if len(values) > 1:
                raise SpecError(f"label {label!r} is shared by parameters fixed to different "
                                f"values {sorted(values)}; use one value or different labels")
            t.loc[rows.index, ["free", "value"]] = [False, float(values[0]) if len(values) else math.nan]
    t["id"] = np.arange(1, len(t) + 1)
    t["plabel"] = [f".p{i}." if g > 0 else "" for i, g in zip(t.id, t.group)]
    par, ids = [], {}
    for free, label in zip(t.free, t.label):
        if not free:
            par.append(-1)
            continue
        key = label if label else object()
        if key not in ids:
            ids[key] = len(ids)
        par.append(ids[key])
    t["par"] = par
    t = t.astype({"group": int, "free": bool, "user": bool, "exo": bool, "value": float,
                  "start": float, "lower": float, "upper": float, "par": int})
    return t[COLUMNS].reset_index(drop=True)


# -- table -> syntax -------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return "NA" if math.isnan(x) else repr(float(x)).removesuffix(".0")


def to_syntax(table: pd.DataFrame, options: Mapping[str, Any] | None = None) -> str:
    """lavaan syntax for a parameter table, so that parsing it (with the same options) gives the
    table back: every user row, and every default row whose status was edited, with the modifiers
    that differ from the defaults (``c(...)`` where groups differ).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> print(lm.to_syntax(lm.parse_model("f =~ x1 + a*x2 + start(0.5)*x3").partable))
    f =~ x1 + a*x2 + start(0.5)*x3
    """
    opts = {**_DEFAULT_OPTIONS, **(options or {})}
    t = table[table.group > 0]
    ngroups = int(t.group.max())
    keys = _unique(zip(t.lhs, t.op, t.rhs))
    by_key = {k: rows for k, rows in t.groupby(["lhs", "op", "rhs"], sort=False)}
    user_keys = [k for k in keys if by_key[k].user.any()]
    bare_text = "\n".join(_term_line(k, "") for k in user_keys)
    bare = _build_table(_syntax.parse(bare_text), {**opts, "ngroups": ngroups}) if user_keys else None
    bare_by = {k: rows for k, rows in bare.groupby(["lhs", "op", "rhs"], sort=False)} if bare is not None else {}
    lines: list[tuple[tuple[str, str], str]] = []
    for k in keys:
        rows = by_key[k].sort_values("group")
        ref = bare_by.get(k)
        mods = _modifiers(rows, ref, ngroups)
        if rows.user.any() or mods:
            lines.append(((k[0], "~" if k[1] == "~1" else k[1]), mods + ("1" if k[1] == "~1" else k[2])))
    out: list[str] = []
    for (lhs, op), term in lines:  # consecutive terms with the same lhs and op share one line
        if out and out[-1].startswith(f"{lhs} {op} "):
            out[-1] += f" + {term}"
        else:
            out.append(f"{lhs} {op} {term}")
    cons = table[table.group == 0]
    out += [f"{r.lhs} {r.op} {r.rhs}" for r in cons.itertuples()]
    return "\n".join(out)


def _term_line(k: tuple[str, str, str], mods: str) -> str:
    lhs, op, rhs = k
    return f"{lhs} ~ {mods}1" if op == "~1" else f"{lhs} {op} {mods}{rhs}"


def _modifiers(rows: pd.DataFrame, ref: pd.DataFrame | None, ngroups: int) -> str:
    """The ``mod*`` prefix of one term: only what differs from what the defaults would give."""
    def vec(values: list[str]) -> str:
        return values[0] if len(set(values)) == 1 else f"c({', '.join(values)})"

    def differs(col: str) -> bool:
        if ref is None or len(ref) != len(rows):
            return True
        a, b = rows[col].to_numpy(), ref[col].to_numpy()
        if a.dtype.kind == "f":
            return not np.array_equal(a, b, equal_nan=True)
        return not np.array_equal(a, b)

    parts = []
    if differs("free") or differs("value"):
        parts.append(vec([_fmt(math.nan if f else v) for f, v in zip(rows.free, rows.value)]))
    if differs("label"):
        labels = list(rows.label)
        parts.append(vec([lab or "NA" for lab in labels]) if any(labels) else "")
    if rows.start.notna().any():
        parts.append(f"start({vec([_fmt(v) for v in rows.start])})")
    for key in ("lower", "upper"):
        if rows[key].notna().any():
            parts.append(f"{key}({vec([_fmt(v) for v in rows[key]])})")
    if (rows.prior != "").any():
        parts.append(f'prior("{rows.prior.iloc[0]}")')
    parts = [p for p in parts if p]
    return "".join(p + "*" for p in parts)


def from_partable(table: pd.DataFrame, **options: Any) -> ModelSpec:
    """A :class:`ModelSpec` from a (possibly edited) parameter table.

    Only ``lhs, op, rhs`` are required; ``group, label, free, value, start, ...`` are read when
    present. The table is written back to syntax (:func:`to_syntax`) and parsed again, so the result
    obeys exactly the same rules as a parsed model.
    """
    missing = {"lhs", "op", "rhs"} - set(table.columns)
    if missing:
        raise SpecError(f"a parameter table needs the columns lhs, op, rhs; missing {sorted(missing)}")
    t = table.copy()
    defaults = dict(group=1, label="", free=True, value=math.nan, start=math.nan, lower=math.nan,
                    upper=math.nan, prior="", user=True, exo=False)
    for col, val in defaults.items():
        if col not in t:
            t[col] = val
    t["label"] = t["label"].fillna("")
    t["prior"] = t["prior"].fillna("")
    opts = {k: v for k, v in options.items() if k in _DEFAULT_OPTIONS}
    opts.setdefault("ngroups", int(t.group.max()) if len(t) else 1)
    t["user"] = t["user"].astype(bool)
    text = to_syntax(t, opts)
    return parse_model(text, **opts)
