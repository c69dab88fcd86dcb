"""Full-batch EM: one M-step on flows accumulated over the whole training set."""

from skpc.solvers.base import Solver


class EM(Solver):
    """``theta' = (F_D(n, c) + eps/|ch|) / (F_D(n) + eps)`` (DESIGN.md section 3)."""

    name = "em"
    full_batch = True

    def step(self, circuit, suff, n_samples, step_size):
        circuit.set_params([b.m_step(s, self.pseudocount) for b, s in zip(circuit.blocks, suff)])
