"""
Learning curves of the solvers
==============================

Compare the parameter-learning rules of :class:`skpc.PCDensityEstimator` on the
``plants`` benchmark (69 binary variables, 17 412 training rows):

* ``"em"``: full-batch expectation-maximisation, one update per pass over the data;
* ``"minibatch_em"``: an EM step on every mini-batch, blended with the current weights
  by the step size;
* ``"anemone"``: mini-batch EM with a KL trust region, which lets rarely used parts
  of the circuit move less than the parts a batch actually uses;
* ``"adam"``: the gradient-based baseline, Adam on the log-likelihood of each batch
  with ``step_size`` as its learning rate.

``early_stopping=True`` holds out 10% of the training rows and records their
log-likelihood after every epoch; ``n_iter_no_change`` equal to ``max_iter`` keeps every
run going to the end so the curves have the same length.
"""

import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from skpc import PCDensityEstimator
from skpc.datasets import load_debd

FAST = os.environ.get("SKPC_EXAMPLE_FAST") == "1"
MAX_ITER = 2 if FAST else 10
SOLVERS = ["em", "minibatch_em", "anemone", "adam"]

X, X_test = load_debd("plants", "train"), load_debd("plants", "test")

fig, (ax_epoch, ax_time) = plt.subplots(1, 2, figsize=(10, 4), sharey=True, layout="constrained")
for solver in SOLVERS:
    pc = PCDensityEstimator(
        n_latents=8,
        solver=solver,
        max_iter=MAX_ITER,
        early_stopping=True,
        n_iter_no_change=MAX_ITER,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the runs stop at max_iter on purpose
        pc.fit(X)
    curve, seconds = pc.history_["valid_loglik"], pc.history_["seconds"]
    test = pc.score(X_test)
    print(f"{solver:>13}: held-out {curve[-1]:.3f}, test {test:.3f} nats per sample, {seconds[-1]:.1f} s")
    label = f"{solver} (test {test:.2f})"
    ax_epoch.plot(range(1, len(curve) + 1), curve, marker="o", label=label)
    ax_time.plot(seconds, curve, marker="o", label=label)

ax_epoch.set(xlabel="epoch", ylabel="held-out log-likelihood (nats per sample)")
ax_time.set(xlabel="seconds")
ax_epoch.set_ylim(bottom=max(ax_epoch.get_ylim()[0], -20))
ax_time.legend(title="solver", loc="lower right")
fig.suptitle("plants: learning curves of the solvers (default step sizes)")
fig.savefig("learning_curves.png", dpi=100)
