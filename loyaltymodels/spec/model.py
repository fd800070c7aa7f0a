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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError, SpecError
from . import syntax as _syntax
from .partable import COLUMNS, CONSTRAINT_OPS, EQUALITY_CLASSES, SpecWarning, _build_table, _unique, _vnames

__all__ = [
    "COLUMNS",
    "CONSTRAINT_OPS",
    "EQUALITY_CLASSES",
    "ModelSpec",
    "SpecWarning",
    "as_spec",
    "from_partable",
    "parse_model",
    "to_syntax",
]

_DEFAULT_OPTIONS: dict[str, Any] = dict(
    std_lv=False,
    auto=True,
    auto_fix_first=None,
    auto_fix_single=True,
    auto_cov_lv_x=True,
    auto_cov_y=True,
    fixed_x=True,
    orthogonal=False,
    meanstructure=None,
    int_ov_free=True,
    int_lv_free=False,
    ngroups=None,
    group_labels=None,
    group_equal=(),
    group_partial=(),
    ordinal=None,
)


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
        return (
            f"ModelSpec({len(self.latents)} latent, {len(self.observed)} observed, "
            f"{self.ngroups} group{'s' if self.ngroups > 1 else ''}, npar={self.npar})"
        )


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
        return (
            model if not options and std_lv == model.options["std_lv"] else model.with_options(std_lv=std_lv, **options)
        )
    if isinstance(model, pd.DataFrame):
        return from_partable(model, std_lv=std_lv, **options)
    unknown = set(options) - set(_DEFAULT_OPTIONS)
    if unknown:
        raise ArgumentError(f"parse_model() got unknown option(s) {sorted(unknown)}; known: {sorted(_DEFAULT_OPTIONS)}")
    opts = {**_DEFAULT_OPTIONS, **options, "std_lv": std_lv}
    _check_options(opts)
    opts["std_lv"] = bool(std_lv)
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


#: Options that are True or False (a string such as "no" would otherwise count as True).
_FLAGS = (
    "std_lv",
    "auto",
    "auto_fix_single",
    "auto_cov_lv_x",
    "auto_cov_y",
    "fixed_x",
    "orthogonal",
    "int_ov_free",
    "int_lv_free",
)


def _check_options(opts: Mapping[str, Any]) -> None:
    """Refuse option values that would be read as something else than meant, naming them."""

    def flag(value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    for name in _FLAGS:
        if not flag(opts[name]):
            raise ArgumentError(f"{name}={opts[name]!r}: give True or False")
    for name in ("auto_fix_first", "meanstructure"):
        if opts[name] is not None and not flag(opts[name]):
            raise ArgumentError(f"{name}={opts[name]!r}: give True, False or None (lavaan's default)")
    ngroups, labels = opts["ngroups"], opts["group_labels"]
    if ngroups is not None and (
        not isinstance(ngroups, (int, np.integer)) or isinstance(ngroups, (bool, np.bool_)) or ngroups < 1
    ):
        raise ArgumentError(f"ngroups={ngroups!r}: give the number of groups, an integer of at least 1")
    if labels is not None:
        if isinstance(labels, str) or not isinstance(labels, Sequence):
            raise ArgumentError(f"group_labels={labels!r}: give one label per group, as a list")
        if ngroups is not None and len(labels) != ngroups:
            raise ArgumentError(f"group_labels has {len(labels)} label(s) for ngroups={ngroups}; give one per group")
        if len(set(map(str, labels))) != len(labels):
            raise ArgumentError(f"group_labels={list(labels)!r}: each group needs its own label")
    ordinal = opts["ordinal"]
    if ordinal is not None:
        if not isinstance(ordinal, Mapping):
            raise ArgumentError(
                f"ordinal={ordinal!r}: give a mapping item -> number of thresholds, e.g. {{'q1': 4}} for 5 categories"
            )
        for item, k in ordinal.items():
            if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)) or k < 1:
                raise ArgumentError(f"ordinal[{item!r}] = {k!r}: the number of thresholds is an integer of at least 1")


def _check_group_equal(value: str | Sequence[str]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value or ())
    for item in items:
        if item not in EQUALITY_CLASSES:
            raise SpecError(f"unknown group_equal class {item!r}; choose among {', '.join(EQUALITY_CLASSES)}")
    return items


# -- table -> syntax -------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    """A value as lavaan syntax writes it: ``NA``, ``Inf``/``-Inf`` (as R), or the shortest
    decimal that reads back to the same float (``repr``)."""
    if math.isnan(x):
        return "NA"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return repr(float(x)).removesuffix(".0")


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
    # The number of groups is part of the syntax only through c(...) vectors: when no term needs
    # one, the first user term spells its own values out per group, so that the text alone
    # parses back to as many groups (c(1, 1)*x1 must not come back as one group).
    terms: dict[tuple[str, str, str], str] = {}
    for k in keys:
        rows = by_key[k].sort_values("group")
        mods = _modifiers(rows, bare_by.get(k))
        if rows.user.any() or mods:
            terms[k] = mods
    if ngroups > 1 and not any("c(" in m for m in terms.values()):
        first = next((k for k in user_keys if not by_key[k].exo.any()), None)
        if first is not None:
            terms[first] = _modifiers(by_key[first].sort_values("group"), bare_by.get(first), per_group=True)
    lines: list[tuple[tuple[str, str], str]] = [
        ((k[0], "~" if k[1] == "~1" else k[1]), mods + ("1" if k[1] == "~1" else k[2])) for k, mods in terms.items()
    ]
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


def _modifiers(rows: pd.DataFrame, ref: pd.DataFrame | None, per_group: bool = False) -> str:
    """The ``mod*`` prefix of one term: only what differs from what the defaults would give
    (``per_group``: the fixed/free status written as a ``c(...)`` vector even where it does not)."""

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
    if differs("free") or differs("value") or per_group:
        status = [_fmt(math.nan if f else v) for f, v in zip(rows.free, rows.value)]
        parts.append(f"c({', '.join(status)})" if per_group else vec(status))
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
    defaults = dict(
        group=1,
        label="",
        free=True,
        value=math.nan,
        start=math.nan,
        lower=math.nan,
        upper=math.nan,
        prior="",
        user=True,
        exo=False,
    )
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
