"""Mini-batch EM: move a fraction ``a`` of the way to the batch's M-step."""

from skpc.solvers.base import Solver


class MiniBatchEM(Solver):
    """``theta' = (1 - a) * theta + a * normalise(F_B)`` (DESIGN.md section 3)."""

    def update(self, circuit, stats, n_samples, step_size):
        a = step_size
        new = []
        for block, suff in zip(circuit.blocks, circuit.sufficient(stats)):
            target = block.m_step(suff, self.pseudocount)
            new.append(tuple((1 - a) * old + a * t for old, t in zip(block.params, target)))
        circuit.set_params(new)
