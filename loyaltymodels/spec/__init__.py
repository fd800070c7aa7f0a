"""The model specification: lavaan syntax parsed into lavaan's parameter table, the package's spine."""

from .identification import check_identified
from .model import COLUMNS, ModelSpec, SpecWarning, as_spec, from_partable, parse_model, to_syntax

__all__ = [
    "COLUMNS",
    "ModelSpec",
    "SpecWarning",
    "as_spec",
    "check_identified",
    "from_partable",
    "parse_model",
    "to_syntax",
]
