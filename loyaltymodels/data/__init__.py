"""Survey data in (files, validation) and synthetic data out (generators with known truth)."""

from .read import read_survey
from .scenarios import loyalty_model, loyalty_scenario
from .synthetic import simulate
from .validate import DataReport, validate_data

__all__ = ["DataReport", "loyalty_model", "loyalty_scenario", "read_survey", "simulate", "validate_data"]
