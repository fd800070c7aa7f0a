"""The Bayesian SEM's log density and gradient as numba code compiled once per machine."""

__all__: list[str] = []
