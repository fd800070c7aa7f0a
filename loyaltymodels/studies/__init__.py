"""Published analyses reproduced: our numbers beside the published ones, and why they differ.

One function per analysis, each returning a :class:`Study` (tidy tables with ``published`` and
``difference`` columns, fit measures, notes on provenance and interpretation):

- :func:`ecsi`: the European Customer Satisfaction Index model (Tenenhaus et al. 2005) on the bundled
  bank-customer survey, by PLS path modelling (plspm's published numbers), ML SEM and Bayesian SEM.
- :func:`holzinger_swineford`: the lavaan tutorial's CFA, and invariance by school.
- :func:`political_democracy`: the lavaan tutorial's SEM.
- :func:`beliefs_experience`: beliefs + experience -> loyalty on the ECSI data, ML and Bayesian.

The published numbers live in :mod:`loyaltymodels.datasets.published`, with their sources. Studies
with a Bayesian or bootstrap part take ``fast=``: small draws and resamples for tests and quick
looks; by default ``fast`` follows the environment variable ``LOYALTYMODELS_FAST``.
"""

from __future__ import annotations

from ._common import FAST_ENV, MODES, Study, is_fast
from .beliefs_experience import beliefs_experience
from .ecsi import ecsi
from .lavaan_tutorial import holzinger_swineford, political_democracy

__all__ = ["Study", "ecsi", "holzinger_swineford", "political_democracy", "beliefs_experience",
           "is_fast", "FAST_ENV", "MODES"]
