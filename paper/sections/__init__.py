"""Section generators of the paper, in the order of the text. ``CHEAP`` sections involve no
sampling and take seconds: the fast test regenerates them and checks them against the package."""

from __future__ import annotations

from . import claims, ecsi_bayes, indices, model, repro, speed, studies

SECTIONS = {
    "model": model.make,
    "claims": claims.make,
    "studies": studies.make,
    "ecsi_bayes": ecsi_bayes.make,
    "indices": indices.make,
    "speed": speed.make,
    "repro": repro.make,
}
CHEAP = ("model", "studies", "indices", "repro")
