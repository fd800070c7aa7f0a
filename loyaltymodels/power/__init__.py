"""Simulation studies on Dask: power analysis and many fits of one model."""

from .analysis import power_analysis, read_power_records
from .batch import fit_many
from .between import sectors_differ
from .scenarios import Scenario, loyalty_power_scenario, model_power_scenario
from .summary import plot_power, power_summary
from .targets import Target, parameter_nonzero, weights_differ

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
    "sectors_differ",
    "weights_differ",
]
