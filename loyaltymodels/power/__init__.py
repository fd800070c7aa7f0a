"""Simulation studies on Dask: power analysis and many fits of one model."""

from .analysis import plot_power, power_analysis, power_summary, read_power_records
from .batch import fit_many
from .targets import Scenario, Target, loyalty_power_scenario, model_power_scenario, parameter_nonzero, weights_differ

__all__ = [
    "Scenario",
    "Target",
    "fit_many",
    "loyalty_power_scenario",
    "model_power_scenario",
    "parameter_nonzero",
    "plot_power",
    "power_analysis",
    "power_summary",
    "read_power_records",
    "weights_differ",
]
