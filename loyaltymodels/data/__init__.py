"""Survey data in (files, validation), synthetic data out (generators with known truth), and the
files results are written to and read back from."""

from .files import check_writable, read_datatree, read_json, write_table
from .read import read_survey
from .scenarios import loyalty_model, loyalty_scenario
from .synthetic import simulate
from .validate import DataReport, validate_data

__all__ = [
    "DataReport",
    "check_writable",
    "loyalty_model",
    "loyalty_scenario",
    "read_datatree",
    "read_json",
    "read_survey",
    "simulate",
    "validate_data",
    "write_table",
]
