"""A fitted SEM as lavaan prints it (``summary(fit, fit.measures = TRUE, standardized = TRUE)``),
and as a lossless JSON file."""

from __future__ import annotations

import json
import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..data.files import check_writable, read_json
from ..errors import DataError
from ..spec.provenance import package_versions, spec_attrs, spec_from_attrs

if TYPE_CHECKING:
    from ..spec.model import ModelSpec
    from .fit import SemFit

FORMAT = "loyaltymodels.SemFit"
_W = 54  # width of lavaan's label column + value


def _line(label: str, value: Any, fmt: str = "{:.3f}") -> str:
    text = value if isinstance(value, str) else (fmt.format(value) if np.isfinite(value) else "NA")
    return f"  {label:<{_W - len(text) - 2}}{text}"


def _line2(label: str, a: Any, b: Any, fmt: str = "{:.3f}") -> str:
    """A row with lavaan's two columns (Standard, Scaled/Robust)."""

    def cell(v: Any) -> str:
        if v is None or v == "":
            return ""
        return v if isinstance(v, str) else (fmt.format(v) if np.isfinite(v) else "NA")

    return f"  {label:<{_W - 14}}{cell(a):>12}{cell(b):>12}"


_TESTS = {
    "yuan.bentler.mplus": "Yuan-Bentler correction (Mplus variant)",
    "satorra.bentler": "Satorra-Bentler correction",
    "scaled.shifted": "mean and variance adjusted correction",
}
_SE = {"standard": "Standard", "robust.huber.white": "Sandwich", "robust.sem": "Robust.sem"}


def _robust_blocks(fit: SemFit) -> list[str]:
    """lavaan's two-column test and fit-index blocks of a robust estimator."""
    fm, info = fit.fit_measures, fit.info
    shifted = info.get("test") == "scaled.shifted"
    out = [
        "",
        "Model Test User Model:",
        f"  {'':<{_W - 14}}{'Standard':>12}{'Scaled':>12}",
        _line2("Test statistic", fm["chisq"], fm["chisq_scaled"]),
        _line2("Degrees of freedom", int(fm["df"]), int(fm["df_scaled"]), "{:d}"),
        _line2("P-value (Chi-square)", fm["pvalue"], fm["pvalue_scaled"]),
        _line2("Scaling correction factor", "", fm["chisq_scaling_factor"]),
    ]
    if shifted:
        out.append(_line2("Shift parameter", "", info.get("chisq_shift_parameter", np.nan)))
    out.append(f"    {_TESTS.get(info.get('test', ''), '')}")
    return out


def _robust_indices(fm: pd.Series) -> list[str]:
    return [
        "",
        "User Model versus Baseline Model:",
        f"  {'':<{_W - 14}}{'Standard':>12}{'Scaled':>12}",
        _line2("Comparative Fit Index (CFI)", fm["cfi"], fm["cfi_scaled"]),
        _line2("Tucker-Lewis Index (TLI)", fm["tli"], fm["tli_scaled"]),
        _line2("Robust Comparative Fit Index (CFI)", "", fm["cfi_robust"]),
        _line2("Robust Tucker-Lewis Index (TLI)", "", fm["tli_robust"]),
        "",
        "Root Mean Square Error of Approximation:",
        "",
        _line2("RMSEA", fm["rmsea"], fm["rmsea_scaled"]),
        _line2("90 Percent confidence interval - lower", fm["rmsea_ci_lower"], fm["rmsea_ci_lower_scaled"]),
        _line2("90 Percent confidence interval - upper", fm["rmsea_ci_upper"], fm["rmsea_ci_upper_scaled"]),
        _line2("P-value H_0: RMSEA <= 0.050", fm["rmsea_pvalue"], fm["rmsea_pvalue_scaled"]),
        _line2("Robust RMSEA", "", fm["rmsea_robust"]),
        _line2("90 Percent confidence interval - lower", "", fm["rmsea_ci_lower_robust"]),
        _line2("90 Percent confidence interval - upper", "", fm["rmsea_ci_upper_robust"]),
        "",
        "Standardized Root Mean Square Residual:",
        "",
        _line("SRMR", fm["srmr"]),
    ]


def summary_text(fit: SemFit, standardized: bool = True, fit_measures: bool = True) -> str:
    """The report printed by :meth:`SemFit.summary`."""
    fm, info, spec = fit.fit_measures, fit.info, fit.spec
    robust = "chisq_scaled" in fm
    out = [
        f"loyaltymodels {package_versions().get('loyaltymodels', '')} (lavaan conventions) "
        f"{'ended normally' if fit.converged else 'did NOT converge'} after {info['iterations']} iterations",
        "",
        _line("Estimator", info.get("estimator", "ML")),
        _line("Optimization method", "FISHER-BFGS"),
        _line("Number of model parameters", int(fm["npar"]), "{:d}"),
        "",
    ]
    report = fit.data_report or {}
    n_total, n_used = report.get("n_total"), report.get("n_used")
    if n_total is not None and n_used is not None and n_used < n_total:
        # lavaan's "Used Total" columns when rows were dropped (listwise deletion)
        out.append(f"{'':{_W - 4}}Used{'Total':>12}")
        out.append(_line("Number of observations", int(n_used), "{:d}") + f"{int(n_total):>12d}")
    if spec.ngroups > 1:
        out.append(_line("Number of observations per group:", ""))
        for lab, n in zip(spec.group_labels, fit.sample["n"]):
            out.append(_line(f"  {lab}", int(n), "{:d}"))
    elif not (n_total is not None and n_used is not None and n_used < n_total):
        out.append(_line("Number of observations", int(fm["ntotal"]), "{:d}"))
    if info.get("missing") == "fiml":
        out.append(_line("Number of missing patterns", sum(_npatterns(fit)), "{:d}"))
    if fit.data_report.get("sampling_weights"):
        out.append(_line("Sampling weights variable", str(fit.data_report["sampling_weights"])))
    if robust:
        out += _robust_blocks(fit)
    else:
        out += [
            "",
            "Model Test User Model:",
            "",
            _line("Test statistic", fm["chisq"]),
            _line("Degrees of freedom", int(fm["df"]), "{:d}"),
            _line("P-value (Chi-square)", fm["pvalue"]),
        ]
    if spec.ngroups > 1 and (fit._problem is not None or fit.info.get("estimator") != "WLSMV"):
        out.append(_line("Test statistic for each group:", ""))
        for lab, n, f in zip(spec.group_labels, fit.sample["n"], fit.problem.group_objectives(fit.theta)):
            out.append(_line(f"  {lab}", n * f))
    if fit_measures and robust:
        out += [
            "",
            "Model Test Baseline Model:",
            "",
            _line2("Test statistic", fm["baseline_chisq"], fm["baseline_chisq_scaled"]),
            _line2("Degrees of freedom", int(fm["baseline_df"]), int(fm["baseline_df_scaled"]), "{:d}"),
            _line2("P-value", fm["baseline_pvalue"], fm["baseline_pvalue_scaled"]),
            _line2("Scaling correction factor", "", fm["baseline_chisq_scaling_factor"]),
        ]
        if np.isfinite(fm["logl"]):
            out += [
                "",
                "Loglikelihood and Information Criteria:",
                "",
                _line("Loglikelihood user model (H0)", fm["logl"]),
                _line("Loglikelihood unrestricted model (H1)", fm["unrestricted_logl"]),
                "",
                _line("Akaike (AIC)", fm["aic"]),
                _line("Bayesian (BIC)", fm["bic"]),
                _line("Sample-size adjusted Bayesian (SABIC)", fm["bic2"]),
            ]
        out += _robust_indices(fm)
    elif fit_measures:
        out += [
            "",
            "Model Test Baseline Model:",
            "",
            _line("Test statistic", fm["baseline_chisq"]),
            _line("Degrees of freedom", int(fm["baseline_df"]), "{:d}"),
            _line("P-value", fm["baseline_pvalue"]),
            "",
            "User Model versus Baseline Model:",
            "",
            _line("Comparative Fit Index (CFI)", fm["cfi"]),
            _line("Tucker-Lewis Index (TLI)", fm["tli"]),
            "",
            "Loglikelihood and Information Criteria:",
            "",
            _line("Loglikelihood user model (H0)", fm["logl"]),
            _line("Loglikelihood unrestricted model (H1)", fm["unrestricted_logl"]),
            "",
            _line("Akaike (AIC)", fm["aic"]),
            _line("Bayesian (BIC)", fm["bic"]),
            _line("Sample-size adjusted Bayesian (SABIC)", fm["bic2"]),
            "",
            "Root Mean Square Error of Approximation:",
            "",
            _line("RMSEA", fm["rmsea"]),
            _line("90 Percent confidence interval - lower", fm["rmsea_ci_lower"]),
            _line("90 Percent confidence interval - upper", fm["rmsea_ci_upper"]),
            _line("P-value H_0: RMSEA <= 0.050", fm["rmsea_pvalue"]),
            "",
            "Standardized Root Mean Square Residual:",
            "",
            _line("SRMR", fm["srmr"]),
        ]
    out += [
        "",
        "Parameter Estimates:",
        "",
        _line("Standard errors", _SE.get(info.get("se", "standard"), "Standard")),
        _line("Information", info.get("information", "expected").capitalize()),
        _line("Information saturated (h1) model", "Structured"),
    ]
    params = fit.parameters
    names = [*params.lhs.astype(str), *params.rhs.astype(str)]
    labels = [str(v) for v in params.label if isinstance(v, str) and v]
    _NAME["width"] = max(19, 6 + max(map(len, names), default=0) + (3 + max(map(len, labels)) if labels else 0))
    for g in range(1, spec.ngroups + 1):
        if spec.ngroups > 1:
            out += ["", f"Group {g} [{spec.group_labels[g - 1]}]:"]
        out += _parameter_blocks(params[params.group == g], spec, standardized)
    defined = params[params.op == ":="]
    if len(defined):
        out += ["", "Defined Parameters:", _header(standardized)]
        out += [_row(f"    {r.lhs}", r, standardized) for r in defined.itertuples()]
    if len(fit.r2):
        labels = list(spec.group_labels)
        names = [
            key if isinstance(key, str) else f"{key[1]} [{labels[int(key[0]) - 1] if labels else key[0]}]"
            for key in fit.r2.index
        ]
        width = max(16, *map(len, names))
        out += ["", "R-Square:", f"{'':{width + 4}}{'Estimate':>9}"]
        for name, v in zip(names, fit.r2.to_numpy()):
            out.append(f"    {name:<{width}}{v:9.3f}")
    if fit.warnings:
        out += ["", "Warnings:"] + [f"  - {w}" for w in fit.warnings]
    return "\n".join(out)


def _npatterns(fit: SemFit) -> list[int]:
    return [len(st.patterns or ()) for st in fit.problem.stats]


#: Width of the name column: lavaan's 19, wider when a name needs it (set per summary; names are
#: never cut, so qualité_service_1 and qualité_service_2 stay two rows a reader can tell apart).
_NAME = {"width": 19}


def _header(standardized: bool) -> str:
    cols = ["Estimate", "Std.Err", "z-value", "P(>|z|)"] + (["Std.lv", "Std.all"] if standardized else [])
    return f"{'':{_NAME['width']}}" + "".join(f"{c:>9}" for c in cols)


def _num(x: float, width: int = 9) -> str:
    return f"{x:{width}.3f}" if x is not None and np.isfinite(x) else " " * width


def _row(name: str, r: Any, standardized: bool) -> str:
    label = f" ({r.label})" if isinstance(r.label, str) and r.label else ""
    text = f"{name + label:<{_NAME['width']}}"
    free = r.par >= 0 or r.op == ":="
    cells = [
        _num(r.est),
        _num(r.se) if free else " " * 9,
        _num(r.z) if free else " " * 9,
        _num(r.pvalue) if free else " " * 9,
    ]
    if standardized:
        cells += [_num(r.std_lv), _num(r.std_all)]
    return text + "".join(cells)


_SECTIONS = [
    ("=~", "Latent Variables"),
    ("<~", "Composites"),
    ("~", "Regressions"),
    ("~~cov", "Covariances"),
    ("~1", "Intercepts"),
    ("|", "Thresholds"),
    ("~~var", "Variances"),
    ("~*~", "Scales y*"),
]


def _parameter_blocks(rows: pd.DataFrame, spec: ModelSpec, standardized: bool) -> list[str]:
    out = []
    # lavaan marks endogenous variables' residual (co)variances and intercepts with a dot
    dotted = (
        set(spec.indicators)
        | set(spec.endogenous_latents)
        | {v for v in spec.observed if v in set(spec.table.loc[spec.table.op == "~", "lhs"])}
    )
    for key, title in _SECTIONS:
        if key == "~~cov":
            sel = rows[(rows.op == "~~") & (rows.lhs != rows.rhs)]
        elif key == "~~var":
            sel = rows[(rows.op == "~~") & (rows.lhs == rows.rhs)]
        else:
            sel = rows[rows.op == key]
        if sel.empty:
            continue
        out += ["", f"{title}:", _header(standardized)]
        if key in ("~1", "~~var", "~*~"):
            for r in sel.itertuples():
                out.append(_row(f"   {'.' if r.lhs in dotted else ' '}{r.lhs}", r, standardized))
            continue
        if key == "|":
            for r in sel.itertuples():
                out.append(_row(f"    {r.lhs}|{r.rhs}", r, standardized))
            continue
        for lhs, block in sel.groupby("lhs", sort=False):
            dot = "." if key == "~~cov" and lhs in dotted else ""
            out.append(f"  {dot}{lhs} {'~~' if key == '~~cov' else key}")
            for r in block.itertuples():
                dot = "." if key == "~~cov" and r.rhs in dotted else " "
                out.append(_row(f"   {dot}{r.rhs}", r, standardized))
    return out


# -- JSON ------------------------------------------------------------------------------------------
def _clean(x: Any) -> Any:
    """JSON-safe, lossless: floats as JSON numbers (repr round-trips), NaN/inf as strings."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else repr(x)  # 'nan', 'inf', '-inf'
    if isinstance(x, pd.Series):
        return {"index": _clean(list(x.index)), "values": _clean(x.to_numpy()), "name": x.name}
    if x is None or isinstance(x, str):
        return x
    return str(x)


def _unclean_float(v):
    return float(v) if isinstance(v, str) else (np.nan if v is None else v)


def frame_to_json(df: pd.DataFrame) -> dict:
    return {
        "columns": list(df.columns),
        "dtypes": {c: str(df[c].dtype) for c in df.columns},
        "data": {c: _clean(df[c].tolist()) for c in df.columns},
    }


def frame_from_json(d: dict) -> pd.DataFrame:
    out = {}
    for c in d["columns"]:
        dtype, values = d["dtypes"][c], d["data"][c]
        if dtype.startswith("float"):
            out[c] = pd.Series([_unclean_float(v) for v in values], dtype=dtype)
        elif dtype in ("object", "str", "string"):
            out[c] = pd.Series(values, dtype=dtype)
        else:
            out[c] = pd.Series(values).astype(dtype)
    return pd.DataFrame(out, columns=d["columns"])


def to_json(fit: SemFit, path: str | os.PathLike[str]) -> None:
    r2 = fit.r2
    doc = {
        "format": FORMAT,
        "format_version": 2,  # 2: FIML fits keep their missing-data patterns' moments
        "package_versions": package_versions(),
        "spec": spec_attrs(fit.spec),
        "parameters": frame_to_json(fit.parameters),
        "fit_measures": _clean(fit.fit_measures.to_dict()),
        "r2": {
            "index": _clean([list(k) if isinstance(k, tuple) else k for k in r2.index]),
            "names": list(r2.index.names),
            "values": _clean(r2.to_numpy()),
        },
        "warnings": list(fit.warnings),
        "converged": bool(fit.converged),
        "data_report": _clean(fit.data_report),
        "vcov": {"names": list(fit.vcov.index), "values": _clean(fit.vcov.to_numpy())},
        "sample": _clean(fit.sample),
        "info": _clean(fit.info),
        "bootstrap": _clean(fit.bootstrap),
    }
    target = check_writable(path, what="fit")
    try:
        target.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot write '{target}': {exc.strerror or exc}") from exc


def _floats(x):
    if isinstance(x, list):
        return [_floats(v) for v in x]
    return _unclean_float(x) if isinstance(x, str) or x is None else x


def from_json(path: str | os.PathLike[str]) -> SemFit:
    doc = read_json(path, what="saved ML fit")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = f"format {doc.get('format')!r}" if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
        raise DataError(
            f"'{path}' is not a saved ML fit (it holds {found}, not {FORMAT!r}); give the .json written by "
            "fit.to_json(...) or 'loyaltymodels sem --json'"
        )
    try:
        return _from_doc(doc)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise DataError(
            f"'{path}' is a damaged saved ML fit ({type(exc).__name__}: {exc}); save the fit again"
        ) from exc


def _from_doc(doc: dict[str, Any]) -> SemFit:
    from .fit import SemFit

    spec = spec_from_attrs(doc["spec"])
    r2d = doc["r2"]
    if len(r2d["names"]) > 1:
        index = pd.MultiIndex.from_tuples([tuple(k) for k in r2d["index"]], names=r2d["names"])
    else:
        index = pd.Index(r2d["index"], name=r2d["names"][0])
    r2 = pd.Series(_floats(r2d["values"]), index=index, name="r2", dtype=float)
    names = doc["vcov"]["names"]
    boot = doc["bootstrap"]
    if boot is not None:
        for key in ("estimates", "std_all", "effects"):
            boot[key] = _floats(boot[key])
    return SemFit(
        spec=spec,
        parameters=frame_from_json(doc["parameters"]),
        fit_measures=pd.Series(
            {k: _unclean_float(v) for k, v in doc["fit_measures"].items()}, name="fit_measures", dtype=float
        ),
        r2=r2,
        warnings=tuple(doc["warnings"]),
        converged=doc["converged"],
        data_report=doc["data_report"],
        vcov=pd.DataFrame(_floats(doc["vcov"]["values"]), index=names, columns=names, dtype=float),
        sample={k: _floats(v) if k in ("cov", "mean", "logl_h1") else v for k, v in doc["sample"].items()},
        info=doc["info"],
        bootstrap=boot,
    )
