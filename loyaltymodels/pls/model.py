"""The parameter table read in PLS terms: blocks, their modes (A or B) and the inner model.

:func:`pls_model` checks what PLS path modelling can estimate and raises :class:`SpecError` for the
rest, before any data is touched; :class:`PlsModel` holds the result, which
:func:`~loyaltymodels.pls.fit.fit_pls` and the bootstrap re-estimate on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..spec.model import ModelSpec, as_spec
from .algorithm import Estimate, estimate

__all__ = ["PlsModel", "pls_model"]

# lavaan operator -> PLS mode: reflective blocks in Mode A, formative (composite) blocks in Mode B.
_MODE = {"=~": "A", "<~": "B"}
# Rows PLS can take: the parser adds default ~~ and ~1 rows; user-written ones are rejected below.
_ALLOWED_OPS = {"=~", "<~", "~", "~~", "~1"}


@dataclass(frozen=True, eq=False)
class PlsModel:
    """What the parameter table says, in PLS terms: blocks, their modes and the inner model.

    ``inner[k, j] == 1`` when construct ``j`` predicts construct ``k`` (plspm's path matrix).
    """

    constructs: list[str]
    blocks: dict[str, list[str]]
    modes: dict[str, str]
    inner: np.ndarray = field(repr=False)
    outer_ops: dict[str, str] = field(repr=False)
    path_rows: list[tuple[str, str]] = field(repr=False)

    @property
    def items(self) -> list[str]:
        return [i for c in self.constructs for i in self.blocks[c]]

    @property
    def block(self) -> np.ndarray:
        """Construct index of each item, in :attr:`items` order."""
        return np.repeat(np.arange(len(self.constructs)), [len(self.blocks[c]) for c in self.constructs])

    def fit_arrays(
        self, raw: np.ndarray, scheme: str, scaled: bool, tol: float, max_iter: int, reference: np.ndarray | None = None
    ) -> Estimate:
        """:func:`~loyaltymodels.pls.algorithm.estimate` on raw items in :attr:`items` order."""
        return estimate(
            raw,
            self.block,
            [self.modes[c] for c in self.constructs],
            self.inner,
            scheme,
            scaled,
            tol,
            max_iter,
            reference=reference,
        )


def pls_model(model: str | ModelSpec | pd.DataFrame) -> PlsModel:
    """Read blocks (``=~`` Mode A, ``<~`` Mode B) and the inner model (``~``) from the parameter table.

    Raises
    ------
    SpecError
        For what PLS path modelling cannot estimate, saying what to do instead.
    """
    spec = as_spec(model)
    t = spec.partable
    if spec.ngroups > 1:
        raise SpecError(
            f"PLS path modelling fits one group; the model has {spec.ngroups}. Fit each "
            "group on its own rows (data[data.g == value]) and compare the results"
        )
    cons = t[t.group == 0]
    if len(cons):
        r = cons.iloc[0]
        raise SpecError(
            f"'{r.lhs} {r.op} {r.rhs}': PLS estimates no constraints or defined parameters "
            "(:= == < >); remove them and compute functions of the paths from fit.paths "
            "or fit.effects()"
        )
    t = t[t.group == 1]
    other = t[~t.op.isin(_ALLOWED_OPS)]
    if len(other):
        r = other.iloc[0]
        raise SpecError(
            f"'{r.lhs} {r.op} {r.rhs}': PLS path modelling has no thresholds or other "
            f"'{r.op}' rows; it treats items as continuous. Remove the row"
        )
    user = t[t.user & t.op.isin(["~~", "~1"])]
    if len(user):
        r = user.iloc[0]
        what = (
            "intercepts (PLS centres the data)"
            if r.op == "~1"
            else "variances or covariances (PLS estimates composites, not a covariance structure)"
        )
        raise SpecError(
            f"'{r.lhs} {r.op} {r.rhs}': PLS path modelling has no {what}; remove the row "
            "or fit the model with the SEM back end"
        )
    bounded = t[t.lower.notna() | t.upper.notna()]
    if len(bounded):
        r = bounded.iloc[0]
        raise SpecError(f"'{r.lhs} {r.op} {r.rhs}': PLS cannot bound a parameter (lower/upper); remove it")
    labels = t.loc[t.label != "", "label"]
    shared = labels[labels.duplicated()]
    if len(shared):
        raise SpecError(
            f"label {shared.iloc[0]!r} is shared by several parameters, an equality "
            "constraint PLS cannot impose; give each parameter its own label"
        )

    outer = t[t.op.isin(["=~", "<~"])]
    constructs = list(dict.fromkeys(outer.lhs))
    if not constructs:
        raise SpecError(
            "the model has no '=~' or '<~' block; PLS needs every construct defined by "
            "its items, e.g. 'SAT =~ sat1 + sat2 + sat3'"
        )
    blocks: dict[str, list[str]] = {c: [] for c in constructs}
    modes: dict[str, str] = {}
    owner: dict[str, str] = {}
    for r in outer.itertuples():
        mode = _MODE[r.op]
        if modes.setdefault(r.lhs, mode) != mode:
            raise SpecError(
                f"construct {r.lhs!r} has both '=~' and '<~' items; PLS estimates a block "
                "either in Mode A (=~, reflective) or in Mode B (<~, formative), not both"
            )
        if r.rhs in blocks:
            raise SpecError(
                f"'{r.lhs} {r.op} {r.rhs}': {r.rhs!r} is a construct; higher-order "
                "constructs are not supported: use a two-stage approach (fit the "
                "lower-order model, then use its fit.scores as items)"
            )
        if r.rhs in owner:
            raise SpecError(
                f"item {r.rhs!r} belongs to {owner[r.rhs]!r} and {r.lhs!r}; in PLS each item measures one construct"
            )
        first = not blocks[r.lhs]
        if not r.free and not (first and r.value == 1.0):
            raise SpecError(
                f"'{r.lhs} {r.op} {r.value:g}*{r.rhs}': PLS estimates every weight and "
                "loading; fixed values cannot be imposed. Remove the fixed value"
            )
        owner[r.rhs] = r.lhs
        blocks[r.lhs].append(r.rhs)

    index = {c: i for i, c in enumerate(constructs)}
    inner = np.zeros((len(constructs), len(constructs)))
    path_rows = []
    for r in t[t.op == "~"].itertuples():
        for name in (r.lhs, r.rhs):
            if name not in index:
                raise SpecError(
                    f"'{r.lhs} ~ {r.rhs}': {name!r} is not a construct with items; PLS "
                    f"relates constructs only. Make it a single-item block, e.g. "
                    f"'{name.upper()}_ =~ {name}'"
                    if name not in spec.latents
                    else f"'{r.lhs} ~ {r.rhs}': construct {name!r} has no items"
                )
        if not r.free:
            raise SpecError(
                f"'{r.lhs} ~ {r.value:g}*{r.rhs}': PLS estimates every path; remove the "
                "fixed value (or drop the path to fix it at 0)"
            )
        inner[index[r.lhs], index[r.rhs]] = 1.0
        path_rows.append((r.lhs, r.rhs))
    if not path_rows:
        raise SpecError(
            "the model has no '~' row; PLS path modelling needs an inner model "
            "(e.g. 'LOY ~ SAT') to define the inner weights"
        )
    lonely = [c for c in constructs if not inner[index[c]].any() and not inner[:, index[c]].any()]
    if lonely:
        raise SpecError(
            f"construct {lonely[0]!r} is not in the inner model; connect it with a '~' row or drop its block"
        )
    _check_recursive(inner, constructs)
    return PlsModel(
        constructs=constructs,
        blocks=blocks,
        modes=modes,
        inner=inner,
        outer_ops={c: ("=~" if modes[c] == "A" else "<~") for c in constructs},
        path_rows=path_rows,
    )


def _check_recursive(inner: np.ndarray, constructs: list[str]) -> None:
    # plspm requires an acyclic inner model; OLS on a feedback loop is inconsistent.
    reach = inner.astype(bool)
    for _ in range(len(constructs)):
        reach = reach | ((reach.astype(int) @ reach.astype(int)) > 0)
    cyc = np.flatnonzero(np.diag(reach))
    if len(cyc):
        raise SpecError(
            f"the inner model has a feedback loop through {constructs[cyc[0]]!r}; PLS path "
            "modelling needs a recursive (acyclic) model. Fit it with the SEM back end"
        )
