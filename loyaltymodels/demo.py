"""``make demo``: the beliefs + experience -> loyalty model on the bundled ECSI survey."""

from __future__ import annotations

from . import datasets
from .spec import parse_model


def main() -> None:
    spec = parse_model(datasets.BELIEFS_EXPERIENCE_MODEL)
    data = datasets.load_ecsi()
    print("Model (lavaan syntax):", datasets.BELIEFS_EXPERIENCE_MODEL)
    print(spec.partable.to_string(index=False))
    print(f"\nfree parameters: {spec.npar}")
    print(f"\nData: {data.shape[0]} respondents, bundled ECSI survey\n")
    print(data[spec.observed].describe().T.round(2).to_string())


if __name__ == "__main__":
    main()
