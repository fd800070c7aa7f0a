"""What the parameter table alone says about identification: checks every estimator runs before it
touches the data, so that a model that cannot be identified is refused with the reason instead of
fitted into numbers (fit measures on negative degrees of freedom, a singular matrix, an error
blaming the start values).

Only necessary conditions can be read from the table (the counting rule and a scale for every
latent variable); the rank condition, which needs the model's algebra, is checked by the ML back
end (:mod:`loyaltymodels.sem.identification`).
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from .model import ModelSpec

__all__ = ["check_identified"]


def check_identified(spec: ModelSpec) -> None:
    """Raise :class:`SpecError` when the model cannot be identified from the moments it is fitted to.

    Two necessary conditions, both as lavaan users know them:

    * the counting rule: no more free parameters than sample moments (``df >= 0``);
    * a scale for every latent variable: one loading fixed to a non-zero value, or its
      (residual) variance fixed (``std_lv=True``), in every group.

    Parameters
    ----------
    spec : ModelSpec
        The model as it will be fitted (options such as ``std_lv`` and ``meanstructure`` applied).

    Raises
    ------
    SpecError
        Naming the counts, or the latent variable without a scale, and what to do.

    Examples
    --------
    >>> from loyaltymodels.spec import parse_model
    >>> check_identified(parse_model("f =~ x1 + x2 + x3"))  # df = 0: just identified
    >>> check_identified(parse_model("f =~ x1 + x2"))
    Traceback (most recent call last):
    ...
    loyaltymodels.errors.SpecError: the model is not identified: it has 4 free parameters ... (df = -1); ...
    """
    if spec.df < 0:
        raise SpecError(
            f"the model is not identified: it has {spec.npar} free parameters but the data give only "
            f"{spec.ndat} sample moments (df = {spec.df}); fix or equate parameters (1*x1, a*x2 + a*x3), "
            "add indicators, or remove paths"
        )
    _check_scales(spec)


def _check_scales(spec: ModelSpec) -> None:
    t = spec.table
    composites = set(spec.composites)
    lhs, op, rhs = t.lhs.to_numpy(dtype=object), t.op.to_numpy(dtype=object), t.rhs.to_numpy(dtype=object)
    group, free, value = t.group.to_numpy(), t.free.to_numpy(), t.value.to_numpy(dtype=float)
    labelled = t.label.to_numpy(dtype=object) != ""
    for f in spec.latents:
        if f in composites:
            continue
        for g in range(1, spec.ngroups + 1):
            loads = (lhs == f) & (op == "=~") & (group == g)
            var = (lhs == f) & (op == "~~") & (rhs == f) & (group == g)
            # labels can tie this latent's loadings or variance to another group's, where the
            # scale may be set: the table alone cannot tell, so the rank check decides
            if labelled[loads | var].any() or not loads.any():
                continue
            has_marker = bool((~free[loads] & (np.nan_to_num(value[loads]) != 0)).any())
            fixed_var = bool((~free[var]).any())
            if not has_marker and not fixed_var:
                where = f" in group {g}" if spec.ngroups > 1 else ""
                first = rhs[loads][0]
                raise SpecError(
                    f"the latent variable '{f}' has no scale{where}: every loading and its variance are "
                    f"free, so they are not identified; fix one loading ('{f} =~ 1*{first} + ...'), "
                    f"fix its variance ('{f} ~~ 1*{f}'), or use std_lv=True"
                )
