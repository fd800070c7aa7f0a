"""Property-based tests of ``simulate`` on generated models and parameter tables: data are finite,
shaped as the model says and reproducible, the truth holds the values given, and any hostile value
(infinite, NaN, text, huge, a variance below zero, a name that is not a parameter) gives one of the
package's errors naming it, never NaN data or a library's message."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from hypothesis import event
from hypothesis import strategies as st

import loyaltymodels as lm
from loyaltymodels.errors import LoyaltyModelsError
from loyaltymodels.spec.layout import param_name
from tests.properties import fast_and_slow

GOOD = st.floats(-2, 2, allow_nan=False).map(lambda x: round(x, 3))
HOSTILE = st.one_of(
    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e308, 1e200, "0.5", None, True, [0.5]]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@st.composite
def models(draw: st.DrawFn) -> str:
    n_lv = draw(st.integers(1, 3))
    lines = [f"F{k} =~ " + " + ".join(f"x{k}_{j}" for j in range(draw(st.integers(2, 4)))) for k in range(n_lv)]
    if n_lv > 1 and draw(st.booleans()):
        lines.append(f"F{n_lv - 1} ~ b*F0")
    if draw(st.booleans()):
        lines.append("x0_0 ~ 1")
    return "\n".join(lines)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, object, int, int | None, str | None]:
    """A model, a table or mapping of population values (some possibly hostile), n, seed, scale."""
    model = draw(models())
    spec = lm.parse_model(model, std_lv=True)
    rows = spec.partable
    rows = rows[rows.op != ":="]
    chosen = rows.iloc[draw(st.lists(st.integers(0, len(rows) - 1), max_size=6, unique=True))]
    hostile = draw(st.booleans()) and draw(st.integers(0, 3)) == 0
    values = [draw(HOSTILE if hostile and k == 0 else GOOD) for k in range(len(chosen))]
    if draw(st.booleans()):
        params: object = chosen[["lhs", "op", "rhs", "group"]].assign(value=values)
    else:
        params = {param_name(r.lhs, r.op, r.rhs, r.group): v for r, v in zip(chosen.itertuples(), values)}
        if draw(st.integers(0, 9)) == 0:
            params["no_such_parameter"] = 0.5  # type: ignore[index]
    n = draw(st.integers(1, 60))
    seed = draw(st.one_of(st.none(), st.integers(0, 2**32)))
    scale = draw(st.one_of(st.none(), st.sampled_from(["1-5", "0-10", "1-7"])))
    return model, params, n, seed, scale


def simulate_answers_or_names_the_problem(case: tuple[str, object, int, int | None, str | None]) -> None:
    model, params, n, seed, scale = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data, truth = lm.simulate(model, n, params=params, seed=seed, scale=scale)
        except LoyaltyModelsError as err:
            assert str(err).strip()
            event(f"refused: {type(err).__name__}")
            return
        event("answered")
        spec = lm.parse_model(model)
        assert data.shape == (n, len(spec.observed)) and set(data.columns) == set(spec.observed)
        assert np.isfinite(data.to_numpy(dtype=float)).all(), "non-finite simulated data"
        if scale is not None:
            lo, hi = (int(x) for x in scale.split("-"))
            assert data.isin(range(lo, hi + 1)).all().all()
        given = (
            params
            if isinstance(params, dict)
            else dict(
                zip(
                    (param_name(*k) for k in params[["lhs", "op", "rhs", "group"]].itertuples(index=False)),
                    params.value,
                )
            )
        )
        names = [param_name(r.lhs, r.op, r.rhs, r.group) for r in truth.itertuples()]
        for key, value in given.items():
            assert float(value) in set(truth.value[[nm == key for nm in names]]), key
        if seed is not None:
            again, _ = lm.simulate(model, n, params=params, seed=seed, scale=scale)
            pd.testing.assert_frame_equal(again, data)


test_simulate_answers_or_names_the_problem, test_simulate_answers_or_names_the_problem_many = fast_and_slow(
    cases(), fast=60, slow=2000
)(simulate_answers_or_names_the_problem)
