"""``make demo``: the beliefs + experience -> loyalty model on the bundled ECSI survey, fitted by ML
and printed as lavaan prints it."""

from __future__ import annotations

import warnings

from . import datasets
from .errors import SemWarning


def main() -> None:
    from .sem import fit_sem

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


if __name__ == "__main__":
    main()
