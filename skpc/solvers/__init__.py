"""Solvers turn flows (statistics) into new parameters."""

from skpc.solvers.adam import Adam
from skpc.solvers.anemone import Anemone
from skpc.solvers.base import Solver
from skpc.solvers.em import EM
from skpc.solvers.minibatch_em import MiniBatchEM
from skpc.solvers.schedule import check_options, step_size_at

SOLVERS = {s.name: s for s in (EM, MiniBatchEM, Anemone, Adam)}

__all__ = ["SOLVERS", "Adam", "EM", "Anemone", "MiniBatchEM", "Solver", "check_options", "step_size_at"]
