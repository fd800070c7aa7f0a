"""Published reference numbers of the analyses that :mod:`loyaltymodels.studies` reproduces.

Typed once, by hand, from the sources named in :data:`SOURCES`; nothing here is computed by this
package. Each table says which source it comes from (``source`` column or key) and how many
decimals the source prints (``decimals``), which is the precision any comparison can claim.

Tables
------
``HS_CFA``            Holzinger-Swineford three-factor CFA: est, se, std_all per parameter.
``HS_FIT``            its fit measures (lavaan names with ``_`` for ``.``).
``HS_INVARIANCE``     configural, metric, scalar and means models by school: fit and the LRTs.
``HS_CONFIGURAL``     the configural model's loadings and factor covariances in each school.
``POLDEM_SEM``        Bollen's Political Democracy SEM: est, se, std_all per parameter.
``POLDEM_FIT``        its fit measures.
:func:`ecsi_pls`      plspm's PLS path coefficients and R^2 for the ECSI model (bundled CSV).
"""

from __future__ import annotations

import io

import pandas as pd

from ..errors import ArgumentError

#: Where every number comes from.
SOURCES: dict[str, str] = {
    "lavaan-cfa": (
        "lavaan tutorial, 'A CFA example' (https://lavaan.ugent.be/tutorial/cfa.html): "
        "cfa(HS.model, data = HolzingerSwineford1939); estimates, SEs and fit measures as printed by "
        "summary(fit, fit.measures = TRUE); the Std.all column as printed by lavaan 0.6-19 for "
        "summary(fit, standardized = TRUE, fit.measures = TRUE) on the same model and data"
    ),
    "lavaan-sem": (
        "lavaan tutorial, 'A SEM example' (https://lavaan.ugent.be/tutorial/sem.html): "
        "sem(model, data = PoliticalDemocracy); summary(fit, standardized = TRUE), as printed by "
        "lavaan 0.6-2 for the tutorial's code (estimates, SEs, Std.all, chi-square 38.125 on 35 df)"
    ),
    "lavaan-sem-fit": (
        "lavaan's summary(fit, fit.measures = TRUE) for the tutorial's Political Democracy model: "
        "loglikelihood, AIC and BIC (-1547.791, 3157.582, 3229.424); not printed on the tutorial page, "
        "typed from lavaan output as already used in tests/sem/test_fit.py (and in semopy's tests)"
    ),
    "lavaan-groups": (
        "lavaan tutorial, 'Multiple groups' (https://lavaan.ugent.be/tutorial/groups.html): "
        "cfa(HS.model, data = HolzingerSwineford1939, group = 'school') printed by lavaan 0.5-16 "
        "(per-school estimates), semTools::measurementInvariance() (chisq, df, cfi, rmsea, bic of "
        "each model and the chi-square differences) and lavTestLRT(fit.configural, fit.metric, "
        "fit.scalar) (AIC, BIC to 1 decimal; p-values of the differences)"
    ),
    "plspm": (
        "R package plspm (Sanchez, Trinchera & Russolillo), plspm(satisfaction, ..., modes = "
        "rep('A', 6), scheme = 'centroid', scaled = FALSE): paths and R^2 as used by "
        "GoogleCloudPlatform/plspm-python's regression tests (tests/data/satisfaction.*.csv); "
        "bundled as loyaltymodels/datasets/ecsi_pls_reference.csv"
    ),
}


def _table(text: str, source: str, decimals: int = 3) -> pd.DataFrame:
    """Whitespace-separated rows ``lhs op rhs est se std_all`` (``-``: not printed, e.g. the SE of a
    fixed loading) into a DataFrame with the source and the printed precision."""
    t = pd.read_csv(
        io.StringIO(text.strip()),
        sep=r"\s+",
        header=None,
        na_values="-",
        names=["lhs", "op", "rhs", "est", "se", "std_all"],
        dtype={"rhs": str},
    )
    return t.assign(group=1, source=source, decimals=decimals)[
        ["lhs", "op", "rhs", "group", "est", "se", "std_all", "source", "decimals"]
    ]


def _measures(values: dict[str, tuple[float, int]], source: str, model: str) -> pd.DataFrame:
    """``{measure: (value, decimals printed)}`` into rows ``model measure published decimals``."""
    return pd.DataFrame(
        [
            {"model": model, "measure": k, "published": float(v), "decimals": d, "source": source}
            for k, (v, d) in values.items()
        ]
    )


# -- Holzinger-Swineford CFA (lavaan-cfa) ----------------------------------------------------------
HS_CFA = _table(
    """
visual  =~ x1       1.000 -     0.772
visual  =~ x2       0.554 0.100 0.424
visual  =~ x3       0.729 0.109 0.581
textual =~ x4       1.000 -     0.852
textual =~ x5       1.113 0.065 0.855
textual =~ x6       0.926 0.055 0.838
speed   =~ x7       1.000 -     0.570
speed   =~ x8       1.180 0.165 0.723
speed   =~ x9       1.082 0.151 0.665
visual  ~~ textual  0.408 0.074 0.459
visual  ~~ speed    0.262 0.056 0.471
textual ~~ speed    0.173 0.049 0.283
x1      ~~ x1       0.549 0.114 0.404
x2      ~~ x2       1.134 0.102 0.821
x3      ~~ x3       0.844 0.091 0.662
x4      ~~ x4       0.371 0.048 0.275
x5      ~~ x5       0.446 0.058 0.269
x6      ~~ x6       0.356 0.043 0.298
x7      ~~ x7       0.799 0.081 0.676
x8      ~~ x8       0.488 0.074 0.477
x9      ~~ x9       0.566 0.071 0.558
visual  ~~ visual   0.809 0.145 1.000
textual ~~ textual  0.979 0.112 1.000
speed   ~~ speed    0.384 0.086 1.000
""",
    "lavaan-cfa",
)

HS_FIT = _measures(
    {
        "npar": (21, 0),
        "chisq": (85.306, 3),
        "df": (24, 0),
        "pvalue": (0.000, 3),
        "baseline_chisq": (918.852, 3),
        "baseline_df": (36, 0),
        "cfi": (0.931, 3),
        "tli": (0.896, 3),
        "logl": (-3737.745, 3),
        "unrestricted_logl": (-3695.092, 3),
        "aic": (7517.490, 3),
        "bic": (7595.339, 3),
        "bic2": (7528.739, 3),
        "rmsea": (0.092, 3),
        "rmsea_ci_lower": (0.071, 3),
        "rmsea_ci_upper": (0.114, 3),
        "rmsea_pvalue": (0.001, 3),
        "srmr": (0.065, 3),
    },
    "lavaan-cfa",
    "cfa",
)

# -- Holzinger-Swineford by school (lavaan-groups) --------------------------------------------------
_INV = {  # level: {measure: (value, decimals)}
    "configural": {
        "chisq": (115.851, 3),
        "df": (48, 0),
        "cfi": (0.923, 3),
        "rmsea": (0.097, 3),
        "aic": (7484.4, 1),
        "bic": (7706.822, 3),
    },
    "metric": {
        "chisq": (124.044, 3),
        "df": (54, 0),
        "cfi": (0.921, 3),
        "rmsea": (0.093, 3),
        "aic": (7480.6, 1),
        "bic": (7680.771, 3),
        "chisq_diff": (8.192, 3),
        "df_diff": (6, 0),
        "pvalue_diff": (0.2244, 4),
    },
    "scalar": {
        "chisq": (164.103, 3),
        "df": (60, 0),
        "cfi": (0.882, 3),
        "rmsea": (0.107, 3),
        "aic": (7508.6, 1),
        "bic": (7686.588, 3),
        "chisq_diff": (40.059, 3),
        "df_diff": (6, 0),
        "pvalue_diff": (4.435e-07, 9),
    },
    # semTools' "equal loadings + intercepts + means", compared with the scalar model
    "means": {
        "chisq": (204.605, 3),
        "df": (63, 0),
        "cfi": (0.840, 3),
        "rmsea": (0.122, 3),
        "bic": (7709.969, 3),
        "chisq_diff": (40.502, 3),
        "df_diff": (3, 0),
    },
}
HS_INVARIANCE = pd.concat([_measures(v, "lavaan-groups", k) for k, v in _INV.items()], ignore_index=True)

_CONFIGURAL = {  # school -> "lhs op rhs est se"; lavaan 0.5-16 output of the tutorial (decimals: 3)
    "Pasteur": """
visual =~ x2 0.394 0.122
visual =~ x3 0.570 0.140
textual =~ x5 1.183 0.102
textual =~ x6 0.875 0.077
speed =~ x8 1.125 0.277
speed =~ x9 0.922 0.225
visual ~~ textual 0.479 0.106
visual ~~ speed 0.185 0.077
textual ~~ speed 0.182 0.069
""",
    "Grant-White": """
visual =~ x2 0.736 0.155
visual =~ x3 0.925 0.166
textual =~ x5 0.990 0.087
textual =~ x6 0.963 0.085
speed =~ x8 1.226 0.187
speed =~ x9 1.058 0.165
visual ~~ textual 0.408 0.098
visual ~~ speed 0.276 0.076
textual ~~ speed 0.222 0.073
""",
}
HS_CONFIGURAL = pd.concat(
    [
        pd.read_csv(io.StringIO(text.strip()), sep=r"\s+", header=None, names=["lhs", "op", "rhs", "est", "se"]).assign(
            school=school, group=g
        )
        for g, (school, text) in enumerate(_CONFIGURAL.items(), start=1)
    ],
    ignore_index=True,
).assign(source="lavaan-groups", decimals=3)

# -- Political Democracy (lavaan-sem) ---------------------------------------------------------------
POLDEM_SEM = _table(
    """
ind60 =~ x1     1.000 -     0.920
ind60 =~ x2     2.180 0.139 0.973
ind60 =~ x3     1.819 0.152 0.872
dem60 =~ y1     1.000 -     0.850
dem60 =~ y2     1.257 0.182 0.717
dem60 =~ y3     1.058 0.151 0.722
dem60 =~ y4     1.265 0.145 0.846
dem65 =~ y5     1.000 -     0.808
dem65 =~ y6     1.186 0.169 0.746
dem65 =~ y7     1.280 0.160 0.824
dem65 =~ y8     1.266 0.158 0.828
dem60 ~  ind60  1.483 0.399 0.447
dem65 ~  ind60  0.572 0.221 0.182
dem65 ~  dem60  0.837 0.098 0.885
y1    ~~ y5     0.624 0.358 0.296
y2    ~~ y4     1.313 0.702 0.273
y2    ~~ y6     2.153 0.734 0.356
y3    ~~ y7     0.795 0.608 0.191
y4    ~~ y8     0.348 0.442 0.109
y6    ~~ y8     1.356 0.568 0.338
x1    ~~ x1     0.082 0.019 0.154
x2    ~~ x2     0.120 0.070 0.053
x3    ~~ x3     0.467 0.090 0.239
y1    ~~ y1     1.891 0.444 0.277
y2    ~~ y2     7.373 1.374 0.486
y3    ~~ y3     5.067 0.952 0.478
y4    ~~ y4     3.148 0.739 0.285
y5    ~~ y5     2.351 0.480 0.347
y6    ~~ y6     4.954 0.914 0.443
y7    ~~ y7     3.431 0.713 0.322
y8    ~~ y8     3.254 0.695 0.315
ind60 ~~ ind60  0.448 0.087 1.000
dem60 ~~ dem60  3.956 0.921 0.800
dem65 ~~ dem65  0.172 0.215 0.039
""",
    "lavaan-sem",
)

POLDEM_FIT = pd.concat(
    [
        _measures({"npar": (31, 0), "chisq": (38.125, 3), "df": (35, 0), "pvalue": (0.329, 3)}, "lavaan-sem", "sem"),
        _measures({"logl": (-1547.791, 3), "aic": (3157.582, 3), "bic": (3229.424, 3)}, "lavaan-sem-fit", "sem"),
    ],
    ignore_index=True,
)


def ecsi_pls() -> pd.DataFrame:
    """plspm's published PLS results on the ECSI data, as rows ``lhs op rhs est r2`` (``lhs`` the
    dependent construct, as in lavaan syntax), with the source file of each number.

    Examples
    --------
    >>> ecsi_pls().query("lhs == 'LOY'")[["lhs", "op", "rhs", "est", "r2"]].round(4)
      lhs op   rhs     est     r2
    8 LOY  ~  IMAG  0.2751  0.5099
    9 LOY  ~   SAT  0.4955  0.5099
    """
    from . import load_ecsi_pls_reference

    ref = load_ecsi_pls_reference()
    return pd.DataFrame(
        {
            "lhs": ref["to"],
            "op": "~",
            "rhs": ref["from"],
            "group": 1,
            "est": ref["path_coefficient"],
            "r2": ref["r_squared_to"],
            "ols_se": ref["std_error"],
            "source": "plspm",
            "file": ref["source"],
        }
    )


def table(name: str) -> pd.DataFrame:
    """A copy of one published table by name (``"HS_CFA"``, ``"POLDEM_FIT"``, ``"ecsi_pls"`` ...)."""
    if name == "ecsi_pls":
        return ecsi_pls()
    tables = {k: v for k, v in globals().items() if k.isupper() and isinstance(v, pd.DataFrame)}
    if name not in tables:
        raise ArgumentError(f"no published table {name!r}; choose among {sorted(tables) + ['ecsi_pls']}")
    return tables[name].copy()


__all__ = [
    "SOURCES",
    "HS_CFA",
    "HS_FIT",
    "HS_INVARIANCE",
    "HS_CONFIGURAL",
    "POLDEM_SEM",
    "POLDEM_FIT",
    "ecsi_pls",
    "table",
]
