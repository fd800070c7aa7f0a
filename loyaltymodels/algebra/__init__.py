"""Model algebra on NumPy arrays: RAM matrices, implied and sample moments, normal log densities."""

from .matrices import RamLayout, implied_moments, ram_layout, ram_matrices, row_values, standardized

__all__ = ["RamLayout", "implied_moments", "ram_layout", "ram_matrices", "row_values", "standardized"]
