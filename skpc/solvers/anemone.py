"""anemone: mini-batch EM with a KL trust region (Liu, Shao & Van den Broeck, 2025).

The KL between the old and new joint distributions splits over sum nodes weighted by
their top-down probabilities TD(n), which turns the penalised M-step into blending the
batch statistics with the model's own expected statistics:
``G = (a / B) * F_B + (1 - a) * TD * theta``, then the ordinary M-step on G.
Nodes the batch uses more than the model expects move further.
"""

from skpc.solvers.base import Solver


class Anemone(Solver):
    """The anemone update of DESIGN.md section 3.

    G lives on a per-sample scale, so the pseudocount is divided by the batch size: with
    ``a = 1`` the update is then exactly mini-batch EM with the same pseudocount.
    """

    name = "anemone"
    options = frozenset({"final_step_size", "schedule_warmup", "batches_per_update", "momentum"})

    def step(self, circuit, suff, n_samples, step_size):
        a = step_size
        model = circuit.sufficient(circuit.top_down_stats())
        new = []
        for block, fb, td in zip(circuit.blocks, suff, model):
            blended = tuple((a / n_samples) * f + (1 - a) * t for f, t in zip(fb, td))
            # Only the share a of G is new evidence, so only that share of a prior enters:
            # the model's part already holds the rest. Added whole, a covariance prior
            # would act as 1/a times its pseudo-rows (10x at the cosine's final step).
            new.append(block.m_step(blended, self.pseudocount / n_samples, prior_share=a))
        circuit.set_params(new)
