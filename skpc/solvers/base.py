"""The solver interface: statistics in, parameters out.

A solver sees the circuit's parameter blocks (input layers and sum layers), the
statistics a batch (or the whole data set) produced, and the batch size. Each block
provides ``sufficient`` (expected statistics), ``m_step`` and ``params``; solvers only
combine those, so a new leaf type needs no solver change.
"""

import math


class Solver:
    """Base class of the parameter-update rules.

    Parameters
    ----------
    pseudocount : float
        Smoothing added to every normalisation (eps in DESIGN.md section 3).
    """

    #: True for solvers that accumulate statistics over the whole data set per update.
    full_batch = False

    def __init__(self, pseudocount):
        self.pseudocount = float(pseudocount)

    def update(self, circuit, stats, n_samples, step_size):
        """Replace the circuit's parameters after a batch of ``n_samples`` rows."""
        raise NotImplementedError


def step_size_at(step_size, schedule, progress, final_fraction=0.1):
    """Step size after a fraction ``progress`` in [0, 1] of the training budget.

    ``"cosine"`` decays from ``step_size`` to ``final_fraction * step_size`` (the
    anemone authors used 0.4 -> 0.1); ``"constant"`` keeps it.
    """
    if schedule == "constant":
        return step_size
    low = final_fraction * step_size
    return low + 0.5 * (step_size - low) * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
