"""The example data sets of ``data/synthetic/`` (used by the notebooks), as recipes.

Each data set is made by the package's own generators from a recorded seed and recorded
arguments; ``write_example`` writes ``<name>.csv`` and ``<name>.json`` (recipe, seed, arguments,
package version, and the truth), and regenerating a data set must give identical files
(``tests/data/test_examples.py``). Run ``python -m loyaltymodels.data.examples data/synthetic`` to rewrite them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ArgumentError
from .scenarios import loyalty_scenario
from .synthetic import simulate

QUICKSTART_MODEL = """
Beliefs    =~ 0.80*bel1 + 0.75*bel2 + 0.70*bel3 + 0.78*bel4
Experience =~ 0.82*exp1 + 0.76*exp2 + 0.72*exp3 + 0.80*exp4
Loyalty    =~ 0.85*loy1 + 0.80*loy2 + 0.74*loy3 + 0.70*loy4
Loyalty ~ 0.35*Beliefs + 0.45*Experience
Beliefs ~~ 0.40*Experience
"""

# Outcomes of the indices survey: one rating per question practitioners ask. CLI questions are
# asked on 1-6 with 1 = very likely, so loyal customers give LOW answers to all three ("recommend",
# "repurchase", "try our other products": negative links), as the index's source asks them.
_INDEX_OUTCOMES: dict[str, dict[str, Any]] = {
    "recommend": {"type": "rating", "scale": (0, 10), "effect": 1.6},
    "csat": {"type": "rating", "scale": (1, 5), "effect": 1.4},
    "effort": {"type": "rating", "scale": (1, 7), "effect": 0.9},
    "sci_satisfaction": {"type": "rating", "scale": (1, 5), "effect": 1.5},
    "sci_repurchase": {"type": "rating", "scale": (1, 5), "effect": 1.3},
    "sci_recommend": {"type": "rating", "scale": (1, 5), "effect": 1.6},
    "cli_recommend": {"type": "rating", "scale": (1, 6), "effect": -1.5},
    "cli_repurchase": {"type": "rating", "scale": (1, 6), "effect": -1.3},
    "cli_try_others": {"type": "rating", "scale": (1, 6), "effect": -1.0},
    "churn": {"type": "binary", "effect": -1.2, "base_rate": 0.15},
}


def _quickstart(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    data, truth = simulate(QUICKSTART_MODEL, 400, seed=seed, scale=(0, 10), standardized=True, scale_center=6.5)
    return data, truth[["lhs", "op", "rhs", "value", "std_all"]]


def _sectors(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return loyalty_scenario(
        300,
        sectors=["luxury", "retail", "telecom", "banking"],
        segments=True,
        outcomes=["churn", "repurchase", "recommend"],
        interaction=0.15,
        asymmetry=0.3,
        seed=seed,
    )


def _indices_survey(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Two survey waves of the same three sectors; experience improves in banking in wave 2.
    frames, truths = [], []
    for wave, weights in (
        ("2025", {"retail": (0.40, 0.30), "telecom": (0.25, 0.45), "banking": (0.20, 0.40)}),
        ("2026", {"retail": (0.40, 0.30), "telecom": (0.25, 0.45), "banking": (0.20, 0.60)}),
    ):
        data, truth = loyalty_scenario(
            {"retail": 250, "telecom": 200, "banking": 300},
            weights=weights,
            segments=True,
            outcomes=_INDEX_OUTCOMES,
            seed=seed + int(wave),
        )
        frames.append(data.assign(wave=wave))
        truths.append(truth.assign(wave=wave))
    return pd.concat(frames, ignore_index=True), pd.concat(truths, ignore_index=True)


#: name -> (recipe, seed, one-line description)
EXAMPLES: dict[str, tuple[Callable[[int], tuple[pd.DataFrame, pd.DataFrame]], int, str]] = {
    "quickstart": (_quickstart, 2026, "400 respondents, beliefs + experience -> loyalty, 0-10 items"),
    "sectors": (
        _sectors,
        11,
        "4 sectors x 300, new/long-standing segments, imbalance and asymmetry, churn, repurchase and recommendation",
    ),
    "indices_survey": (_indices_survey, 7, "two waves x 3 sectors: NPS, CSAT, CES, SCI and CLI questions"),
}


def make_example(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The data and truth of the example ``name`` (see :data:`EXAMPLES`).

    Examples
    --------
    >>> data, truth = make_example("quickstart")
    >>> data.shape
    (400, 12)
    """
    if name not in EXAMPLES:
        raise ArgumentError(f"no example named {name!r}; choose among {sorted(EXAMPLES)}")
    recipe, seed, _ = EXAMPLES[name]
    return recipe(seed)


def write_example(name: str, directory: str | Path) -> tuple[Path, Path]:
    """Write ``<name>.csv`` and ``<name>.json`` (recipe, seed, description, truth) to ``directory``."""
    from ..spec.provenance import package_versions

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data, truth = make_example(name)
    recipe, seed, description = EXAMPLES[name]
    csv, meta = directory / f"{name}.csv", directory / f"{name}.json"
    data.to_csv(csv, index=False, lineterminator="\n")
    record = {
        "name": name,
        "description": description,
        "recipe": f"loyaltymodels.data.examples.{recipe.__name__}",
        "seed": seed,
        "loyaltymodels": package_versions()["loyaltymodels"],
        "rows": len(data),
        "truth": json.loads(truth.to_json(orient="records", double_precision=15)),
        "truth_attrs": json.loads(json.dumps(truth.attrs, default=str)),
    }
    meta.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return csv, meta


def load_example(name: str, directory: str | Path | None = None) -> pd.DataFrame:
    """Read an example data set written by :func:`write_example` (default: the repository's
    ``data/synthetic``, else regenerate it)."""
    directory = Path(directory) if directory else Path(__file__).resolve().parents[2] / "data" / "synthetic"
    path = directory / f"{name}.csv"
    if path.exists():
        return pd.read_csv(path)
    return make_example(name)[0]


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "data/synthetic"
    for example in EXAMPLES:
        for p in write_example(example, target):
            print(p)
