"""Solvers turn flows (statistics) into new parameters."""

from skpc.solvers.adam import Adam
from skpc.solvers.anemone import Anemone
from skpc.solvers.base import Solver, step_size_at
from skpc.solvers.em import EM
from skpc.solvers.minibatch_em import MiniBatchEM

SOLVERS = {"em": EM, "minibatch_em": MiniBatchEM, "anemone": Anemone, "adam": Adam}

__all__ = ["SOLVERS", "Adam", "EM", "Anemone", "MiniBatchEM", "Solver", "step_size_at"]
