"""The convergence report a reader acts on: each failing parameter once (a loading held equal
across sectors is one parameter, not one per sector), named with its sector, not ``.g2``."""

from __future__ import annotations

import numpy as np
import pandas as pd

import loyaltymodels as lm
from loyaltymodels.bayes.diagnostics import check_convergence

from .posteriors import draws_to_posterior


def test_failing_parameters_named_once_with_their_sectors():
    spec = lm.parse_model("F =~ x1 + x2 + x3", ngroups=2, group_labels=("Banque", "Énergie"), group_equal=("loadings",))
    t = spec.table
    npar = int(t.loc[t.free, "par"].max()) + 1
    rng = np.random.default_rng(1)
    chains, draws = 4, 200
    theta = np.abs(rng.normal(1.0, 0.05, size=(chains * draws, npar)))
    loading = int(t[(t.op == "=~") & (t.rhs == "x2") & (t.group == 1)].par.iloc[0])
    resid = int(t[(t.op == "~~") & (t.lhs == "x3") & (t.rhs == "x3") & (t.group == 2)].par.iloc[0])
    theta[:draws, loading] += 1.0  # chain 0 stuck elsewhere: R-hat fails
    theta[:draws, resid] += 1.0
    data = pd.DataFrame(rng.normal(size=(20, 3)), columns=["x1", "x2", "x3"]).assign(group="Banque")
    post = draws_to_posterior(spec, theta, data, chains=chains)
    rhat = check_convergence(post, warn=False).query("check == 'rhat'")
    assert sorted(rhat.parameter) == ["F=~x2 [all 2 groups]", "x3~~x3 [Énergie]"]
    # lavaan's names stay for a posterior that records no model (not ours)
    post.attrs.clear()
    assert set(check_convergence(post, warn=False).query("check == 'rhat'").parameter) == {
        "F=~x2",
        "F=~x2.g2",
        "x3~~x3.g2",
    }
