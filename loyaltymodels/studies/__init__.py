"""Published analyses reproduced: our numbers beside the published ones, and why they differ."""

from __future__ import annotations

from ._common import FAST_ENV, MODES, Study, is_fast
from .beliefs_experience import beliefs_experience
from .ecsi import ecsi
from .lavaan_tutorial import holzinger_swineford, political_democracy

__all__ = [
    "Study",
    "ecsi",
    "holzinger_swineford",
    "political_democracy",
    "beliefs_experience",
    "is_fast",
    "FAST_ENV",
    "MODES",
]
