"""The vectorised R-hat and ESS against arviz_stats' one-quantity-at-a-time implementation."""

from __future__ import annotations

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr
from arviz_stats.validate import validate_ci_prob

from loyaltymodels.bayes.chains import ess_bulk, ess_tail, rhat_rank


def _draws(kind: str, chains: int = 4, draws: int = 300) -> np.ndarray:
    rng = np.random.default_rng(7)
    K = 6
    x = rng.standard_normal((chains, draws, K))
    if kind == "sticky":  # AR(1) with strong to extreme autocorrelation: long Geyer sequences
        for k, phi in enumerate((0.5, 0.9, 0.97, 0.99, 0.995, 0.0)):
            for t in range(1, draws):
                x[:, t, k] = phi * x[:, t - 1, k] + np.sqrt(1 - phi**2) * x[:, t, k]
    elif kind == "stuck":  # a chain elsewhere, a chain that never moves, a flat quantity
        x[-1, :, 0] += 3.0
        x[0, :, 1] = x[0, 0, 1]
        x[:, :, 2] = 1.5
    elif kind == "ties":  # few distinct values (a rounded or discrete quantity)
        x = np.round(x * 2) / 2
        x[:, :, 3] = (x[:, :, 3] > 0).astype(float)
    elif kind == "antithetic":  # negative lag-1 autocorrelation (NUTS often): the sequence ends early
        x[:, 1::2] = -0.8 * x[:, 0::2][:, : x[:, 1::2].shape[1]] + 0.6 * x[:, 1::2]
    return x


def _arviz(x: np.ndarray) -> dict[str, np.ndarray]:
    da = xr.DataArray(x, dims=("chain", "draw", "k"))
    return {
        "rhat": azs.rhat(da).values,
        "bulk": azs.ess(da, method="bulk").values,
        "tail": azs.ess(da, method="tail").values,
    }


@pytest.mark.parametrize("kind", ["mixing", "sticky", "stuck", "ties", "antithetic"])
@pytest.mark.parametrize("shape", [(4, 300), (2, 101), (1, 50)])
def test_equal_to_arviz(kind, shape):
    x = _draws(kind, *shape)
    want = _arviz(x)
    got = {"rhat": rhat_rank(x), "bulk": ess_bulk(x), "tail": ess_tail(x, validate_ci_prob(None))}
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-10, equal_nan=True, err_msg=name)


def test_a_non_finite_draw_gives_nan_for_that_quantity_only():
    x = _draws("mixing")
    x[1, 5, 2] = np.nan
    assert np.isnan(rhat_rank(x)[2]) and np.isnan(ess_bulk(x)[2])
    assert np.isfinite(rhat_rank(x)[[0, 1, 3]]).all()
