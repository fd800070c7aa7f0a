"""The model and items of the small survey that tests/conftest.py's ``survey`` and ``planted``
fixtures hold (shared by the reading and the validation tests)."""

from __future__ import annotations

TWO_FACTORS = """
Sat =~ sat1 + sat2 + sat3
Loy =~ loy1 + loy2 + loy3
Loy ~ Sat
"""
ITEMS = ["sat1", "sat2", "sat3", "loy1", "loy2", "loy3"]
