"""Building lavaan's parameter table from parsed formulas: variable roles, the default rows
``sem()``/``cfa()`` add, fixed/free status, multigroup replication and ``group_equal`` ties.

This is lavaan's ``lav_partable_flat.R`` and ``lav_partable_vnames.R`` in Python; :mod:`.spec` is the
public face (``parse_model``, ``ModelSpec``).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LoyaltyModelsWarning, SpecError
from . import syntax as _syntax

COLUMNS = [
    "id",
    "lhs",
    "op",
    "rhs",
    "group",
    "label",
    "free",
    "value",
    "start",
    "lower",
    "upper",
    "prior",
    "user",
    "exo",
    "plabel",
    "par",
]
CONSTRAINT_OPS = (":=", "==", "<", ">")
#: group_equal classes, as lavaan names them (``group.equal``).
EQUALITY_CLASSES = (
    "loadings",
    "composite.loadings",
    "intercepts",
    "means",
    "thresholds",
    "regressions",
    "residuals",
    "residual.covariances",
    "lv.variances",
    "lv.covariances",
)


class SpecWarning(LoyaltyModelsWarning):
    """A specification that works but is probably not what was meant (duplicated formula, ...)."""


# -- variable roles --------------------------------------------------------------------------------
def _unique[T: Hashable](seq: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(seq))


def _vnames(rows: pd.DataFrame | list, ordinal: Mapping[str, int] | None = None) -> dict[str, list[str]]:
    """lavaan's ``lav_partable_vnames`` on (lhs, op, rhs[, user]) rows: who is latent, observed,
    exogenous, dependent, and the order in which observed variables are listed."""
    if isinstance(rows, pd.DataFrame):
        rows = list(zip(rows.lhs, rows.op, rows.rhs, rows.user))
    lhs_of = lambda *ops: _unique(r[0] for r in rows if r[1] in ops)  # noqa: E731
    rhs_of = lambda *ops: _unique(r[2] for r in rows if r[1] in ops)  # noqa: E731
    # membership is tested on sets: on lists, a model with thousands of indicators took
    # quadratic time here (20,000 indicators: 39 s)
    lv = lhs_of("=~", "<~")
    lv_set = set(lv)
    lv_composite = [v for v in lhs_of("<~") if v not in set(lhs_of("=~"))]
    eqs_y, eqs_x, v_ind = lhs_of("~"), rhs_of("~", "<~"), rhs_of("=~")
    eqs_y_set, eqs_x_set, v_ind_set = set(eqs_y), set(eqs_x), set(v_ind)
    ov_ind = [v for v in v_ind if v not in lv_set]
    ov_ind_set = set(ov_ind)
    ov_y = [v for v in eqs_y if v not in lv_set and v not in ov_ind_set]
    ov_y_set = set(ov_y)
    ov_x = [v for v in eqs_x if v not in lv_set and v not in ov_ind_set and v not in ov_y_set]
    extra = [r[0] for r in rows if r[1] in ("~~", "~1", "|", "~*~") and r[0] not in lv_set] + [
        r[2] for r in rows if r[1] == "~~" and r[2] not in lv_set
    ]
    ov = _unique(ov_ind + ov_y + ov_x + extra)
    # an x mentioned by the user in a variance, covariance or intercept is modelled, not fixed
    mentioned = {r[0] for r in rows if r[1] in ("~~", "~1") and r[3]} | {r[2] for r in rows if r[1] == "~~" and r[3]}
    ov_x = [v for v in ov_x if v not in mentioned]
    ov_x_set = set(ov_x)
    ordinal_set = set(lhs_of("|")) | set(ordinal or {})
    ov_ord = [v for v in ov if v in ordinal_set]
    return dict(
        lv=lv,
        lv_composite=lv_composite,
        ov=ov,
        ov_ind=ov_ind,
        ov_x=ov_x,
        ov_ord=ov_ord,
        ov_nox=[v for v in ov if v not in ov_x_set],
        ov_y=[v for v in ov if v in eqs_y_set and v not in v_ind_set and v not in eqs_x_set and v not in lv_set],
        lv_x=[v for v in lv if v not in v_ind_set and v not in eqs_y_set],
        lv_y=[v for v in lv if v in eqs_y_set and v not in v_ind_set and v not in eqs_x_set],
    )


# -- building the table ----------------------------------------------------------------------------
def _default_rows(
    names: dict[str, list[str]], opts: dict, meanstructure: bool, ordinal: Mapping[str, int]
) -> list[tuple[str, str, str]]:
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
        raise SpecError(
            "the model has no =~, ~ or ~~ formula, only constraints or definitions",
            line=f.line,
            column=f.col,
            expected="at least one model formula",
        )
    model = _drop_duplicates(model)
    ngroups = _ngroups(model, opts)
    ordinal = dict(opts["ordinal"] or {})
    user_rows = [(f.lhs, f.op, f.rhs, True) for f in model]
    names = _vnames(user_rows, ordinal)
    meanstructure = opts["meanstructure"]
    if meanstructure is None:
        meanstructure = ngroups > 1 or any(f.op == "~1" for f in model)
    seen = {_key(f.lhs, f.op, f.rhs) for f in model}
    defaults = (
        [r for r in _default_rows(names, opts, meanstructure, ordinal) if _key(*r) not in seen] if opts["auto"] else []
    )

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
        extra = pd.DataFrame.from_records(
            [
                dict(
                    lhs=f.lhs,
                    op=f.op,
                    rhs=f.rhs,
                    group=0,
                    label="",
                    free=False,
                    value=math.nan,
                    start=math.nan,
                    lower=math.nan,
                    upper=math.nan,
                    prior="",
                    user=True,
                    exo=False,
                )
                for f in constraints
            ]
        )
        table = pd.concat([table, extra], ignore_index=True)
    _check_constraints(table, constraints)
    return _finish(table)


def _drop_duplicates(model: list[_syntax.Formula]) -> list[_syntax.Formula]:
    seen: dict[tuple, _syntax.Formula] = {}
    out = []
    for f in model:
        k = _key(f.lhs, f.op, f.rhs)
        if k in seen:
            warnings.warn(
                f"line {f.line}: '{f.lhs} {f.op} {f.rhs}' repeats line {seen[k].line}; "
                "the repeat is ignored (as lavaan does)",
                SpecWarning,
                stacklevel=4,
            )
            continue
        seen[k] = f
        out.append(f)
    return out


def _ngroups(model: list[_syntax.Formula], opts: dict) -> int:
    lengths = {
        len(v) for f in model for v in (f.fixed, f.label, f.start, f.lower, f.upper) if v is not None and len(v) > 1
    }
    ngroups = opts["ngroups"]
    if opts["group_labels"] is not None:
        ngroups = ngroups or len(opts["group_labels"])
    if ngroups is None:
        ngroups = max(lengths, default=1)
    for f in model:
        for v in (f.fixed, f.label, f.start, f.lower, f.upper):
            if v is not None and len(v) not in (1, ngroups):
                raise SpecError(
                    f"c(...) on '{f.lhs} {f.op} {f.rhs}' has {len(v)} values but the model has {ngroups} group(s)",
                    line=f.line,
                    column=f.col,
                    expected=f"{ngroups} values, one per group",
                )
    return int(ngroups)


def _base_status(
    model: list[_syntax.Formula],
    defaults: list[tuple[str, str, str]],
    names: dict[str, list[str]],
    opts: dict,
    meanstructure: bool,
) -> list[dict]:
    """Free/fixed status of every row of one group before user modifiers (lavaan's rules)."""
    std_lv = opts["std_lv"]
    auto_fix_first = (not std_lv) if opts["auto_fix_first"] is None else opts["auto_fix_first"]
    rows: list[dict[str, Any]] = [dict(lhs=f.lhs, op=f.op, rhs=f.rhs, user=True, _formula=f) for f in model] + [
        dict(lhs=l, op=o, rhs=r, user=False) for (l, o, r) in defaults
    ]
    lv, ov_x, ov_ord = set(names["lv"]), set(names["ov_x"]), set(names["ov_ord"])
    composites = set(names["lv_composite"])
    first_seen: set[str] = set()
    n_ind = Counter(f.lhs for f in model if f.op == "=~")
    n_loads = Counter(f.rhs for f in model if f.op == "=~")
    single = {f.rhs for f in model if f.op == "=~" and n_ind[f.lhs] == 1 and f.rhs not in lv and n_loads[f.rhs] == 1}
    for r in rows:
        r.update(
            free=True, value=math.nan, exo=False, label="", start=math.nan, lower=math.nan, upper=math.nan, prior=""
        )
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
        if (
            not r["user"]
            and opts["fixed_x"]
            and ((op == "~~" and lhs in ov_x and rhs in ov_x) or (op == "~1" and lhs in ov_x))
        ):
            r.update(free=False, value=math.nan, exo=True)  # fixed to the sample statistic
    return rows


def _pick(values: list | None, g: int) -> Any:
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


def _multigroup_defaults(t: pd.DataFrame, names: dict[str, list[str]], opts: dict) -> None:
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


def _apply_group_equal(t: pd.DataFrame, names: dict[str, list[str]], opts: dict) -> None:
    """Tie parameters of the chosen classes across groups with a shared label (lavaan's plabel of
    the group-1 row, e.g. ``.p2.``); user labels and ``group_partial`` rows are left alone."""
    lv = set(names["lv"])
    partial = {p.replace(" ", "") for p in opts["group_partial"]}
    known = {f"{lhs}{op}{rhs}" for lhs, op, rhs in zip(t.lhs, t.op, t.rhs)} | {f"{lhs}~1" for lhs in t.lhs}
    unknown = sorted(partial - known)
    if unknown:  # a typo would otherwise leave the parameter tied, without a word
        raise SpecError(
            f"group_partial names {', '.join(map(repr, unknown))}, not a parameter of the model; "
            "write 'lhs op rhs' as in the syntax, e.g. 'visual =~ x2' or 'x3 ~1'"
        )
    classes = set(opts["group_equal"])
    first = t[t.group == 1].reset_index()
    for _, row in first.iterrows():
        cls = _equality_class(row.lhs, row.op, row.rhs, lv)
        if cls not in classes or f"{row.lhs}{row.op}{row.rhs}" in partial or row.exo:
            continue
        same = (t.lhs == row.lhs) & (t.op == row.op) & (t.rhs == row.rhs) & (t.group > 0)
        if (t.loc[same, "label"].fillna("") != "").any():
            continue
        # only the free rows are tied: a value the syntax fixes in some group (c(NA, 0)*x3) stays
        # fixed there and leaves the others free; labelling it too fixed every group to that value
        tied = same & t.free
        if tied.sum() >= 2:
            t.loc[tied, "label"] = f".p{row['index'] + 1}."


def _check_constraints(t: pd.DataFrame, constraints: list[_syntax.Formula]) -> None:
    known = set(t.label) - {""}
    for f in constraints:
        for name in f.names:
            if name not in known:
                hint = ", ".join(sorted(n for n in known if not n.startswith("."))) or "none yet"
                raise SpecError(
                    f"'{name}' in '{f.lhs} {f.op} {f.rhs}' is not a parameter label; "
                    f"label a parameter first, e.g. 'y ~ {name}*x' (labels: {hint})",
                    line=f.line,
                    column=f.col,
                    expected="a label defined in the model",
                )
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
                raise SpecError(
                    f"label {label!r} is shared by parameters fixed to different "
                    f"values {sorted(float(v) for v in values)}; use one value or different labels"
                )
            t.loc[rows.index, ["free", "value"]] = [False, float(values[0]) if len(values) else math.nan]
        lo, hi = rows.lower.max(), rows.upper.min()  # one parameter: the bounds of all its rows hold
        if lo > hi:
            raise SpecError(
                f"label {label!r} is one parameter with lower bound {lo:g} (from one row) above upper bound "
                f"{hi:g} (from another); no value satisfies both, correct the bounds"
            )
    fixed = ~t.free.astype(bool) & t.value.notna() & (t.group > 0)
    outside = fixed & ((t.value < t.lower) | (t.value > t.upper))  # NaN bounds compare False
    if outside.any():
        r = t[outside].iloc[0]
        where = f" in group {r.group}" if t.group.max() > 1 else ""
        lo, hi = (-math.inf if math.isnan(r.lower) else r.lower), (math.inf if math.isnan(r.upper) else r.upper)
        raise SpecError(
            f"'{r.lhs} {r.op} {r.rhs}'{where} is fixed to {r.value:g} (by the syntax, or as a factor's marker "
            f"loading), outside its bounds [{lo:g}, {hi:g}]; free it (NA*, or std_lv=True for a marker), fix it "
            "inside the bounds, or drop them"
        )
    t["id"] = np.arange(1, len(t) + 1)
    t["plabel"] = [f".p{i}." if g > 0 else "" for i, g in zip(t.id, t.group)]
    par: list[int] = []
    ids: dict[object, int] = {}
    for free, label in zip(t.free, t.label):
        if not free:
            par.append(-1)
            continue
        key = label if label else object()
        if key not in ids:
            ids[key] = len(ids)
        par.append(ids[key])
    t["par"] = par
    t = t.astype(
        {
            "group": int,
            "free": bool,
            "user": bool,
            "exo": bool,
            "value": float,
            "start": float,
            "lower": float,
            "upper": float,
            "par": int,
        }
    )
    return t[COLUMNS].reset_index(drop=True)
