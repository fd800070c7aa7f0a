"""Hypothesis profiles of the property-based tests, and the decorator that runs a property twice:
a bounded number of examples in the fast suite, many more in the slow one.

``fast``: derandomized (the same examples on every run, so CI is reproducible), a few dozen examples
per property. ``slow``: random examples, 20-50 times more, under ``@pytest.mark.slow``
(``make test-all``). Deadlines are off in both: a test never fails on time (the parser's speed is
measured in ``benchmarks/parser.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
settings.register_profile("fast", max_examples=40, deadline=None, derandomize=True, suppress_health_check=_QUIET)
settings.register_profile("slow", max_examples=1000, deadline=None, suppress_health_check=_QUIET)


def fast_and_slow(*strategies: Any, fast: int = 40, slow: int = 1000) -> Callable[[Callable], tuple[Any, Any]]:
    """``test_x, test_x_many = fast_and_slow(st...)(property)``: the property under ``fast`` with
    ``fast`` examples, and again under ``slow`` with ``slow`` examples, marked slow."""

    def wrap(prop: Callable) -> tuple[Any, Any]:
        quick = settings(settings.get_profile("fast"), max_examples=fast)(given(*strategies)(prop))
        many = settings(settings.get_profile("slow"), max_examples=slow)(given(*strategies)(prop))
        return quick, pytest.mark.slow(many)

    return wrap
