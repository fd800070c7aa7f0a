"""``make demo``: the beliefs + experience -> loyalty model on the bundled ECSI survey, fitted by ML
and printed as lavaan prints it."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from . import datasets
from .errors import SemWarning

if TYPE_CHECKING:
    from .sem.fit import SemFit


def main() -> None:
    from .sem.fit import fit_sem

    data = datasets.load_ecsi()
    print("Model (lavaan syntax):", datasets.BELIEFS_EXPERIENCE_MODEL)
    print(f"Data: {data.shape[0]} respondents, bundled ECSI survey\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)  # listed at the end of the summary instead
        fit = fit_sem(datasets.BELIEFS_EXPERIENCE_MODEL, data)
    fit.summary()
    effects = fit.effects()
    if len(effects):
        print("\nEffects on Loyalty (delta-method SEs):")
        print(effects[["lhs", "rhs", "direct", "indirect", "total", "total_se"]].round(3).to_string(index=False))
    print("\nLargest modification indices:")
    print(fit.modindices(sort=True).head(5).round(3).to_string(index=False))
    _weights(fit)
    _plain(fit)


def _plain(fit: SemFit) -> None:
    """The few sentences a marketing director reads: which force weighs more, how sure, and
    whether the model fits well enough to trust them."""
    from .plain import fit_sentences, ml_weights, weight_sentences

    print("\nIn plain words:")
    for line in weight_sentences(ml_weights(fit, "Loyalty")) + fit_sentences(fit):
        print(f"  {line}")


def _weights(fit: SemFit) -> None:
    """The answer the package exists for: the respective weights of beliefs and experience."""
    p = fit.parameters
    w = p[(p.op == "~") & (p.lhs == "Loyalty")]
    print("\nRespective weights in loyalty (standardized, lavaan's std.all; 95% delta-method CI):")
    for row in w.itertuples():
        lo, hi = row.std_all - 1.96 * row.std_all_se, row.std_all + 1.96 * row.std_all_se
        print(f"    {row.rhs:<12} {row.std_all:6.3f}  [{lo:6.3f}, {hi:6.3f}]")
    print(f"    R-squared of Loyalty: {fit.r2.get('Loyalty', float('nan')):.3f}")
    print("  (Beliefs = brand image items imag1-5; Experience = perceived quality items qual1-5.)")


if __name__ == "__main__":
    main()
