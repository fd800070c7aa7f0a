"""The industry's loyalty indices (NPS, SCI, CLI, CSAT, CES) with intervals whose coverage is checked."""

from .modelled import latent_index
from .plots import plot_nps
from .promoter import nps, nps_difference
from .satisfaction import ces, csat, customer_loyalty_index, secure_customer_index

__all__ = [
    "ces",
    "csat",
    "customer_loyalty_index",
    "latent_index",
    "nps",
    "nps_difference",
    "plot_nps",
    "secure_customer_index",
]
