"""The engine: folded layers run on numpy or cupy."""

from skpc.engine.circuit import Circuit
from skpc.engine.layers import SumLayer

__all__ = ["Circuit", "SumLayer"]
