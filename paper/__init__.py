"""The project's methods paper: ``paper.md`` and the generators of everything it quotes
(``python -m paper.build``; ``make paper``)."""
