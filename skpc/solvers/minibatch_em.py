"""Mini-batch EM: move a fraction ``a`` of the way to the batch's M-step."""

from skpc.solvers.base import Solver


class MiniBatchEM(Solver):
    """``theta' = (1 - a) * theta + a * normalise(F_B)`` (DESIGN.md section 3)."""

    name = "minibatch_em"
    options = frozenset({"final_step_size", "schedule_warmup", "batches_per_update", "momentum"})

    def step(self, circuit, suff, n_samples, step_size):
        a = step_size
        new = []
        for block, s in zip(circuit.blocks, suff):
            target = block.m_step(s, self.pseudocount)
            new.append(tuple((1 - a) * old + a * t for old, t in zip(block.params, target)))
        circuit.set_params(new)
