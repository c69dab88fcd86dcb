"""
Choosing the number of hidden states with GridSearchCV
======================================================

``n_latents`` sets the number of states of every hidden variable of the circuit: more
states make a more expressive model, but also one that can overfit a small training set.
:class:`skpc.PCDensityEstimator` is a scikit-learn estimator whose ``score`` is the mean
log-likelihood, so :class:`~sklearn.model_selection.GridSearchCV` can pick ``n_latents``
by cross-validated held-out log-likelihood, with no extra code.

Here the circuits learn from 2 000 rows of the ``plants`` benchmark. With
``n_latents=1`` every hidden variable has a single state, so the circuit is a product of
independent variables; a few states already capture most of the dependencies, and the
held-out score levels off after that, while each extra state costs time.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from skpc import PCDensityEstimator
from skpc.datasets import load_debd

FAST = os.environ.get("SKPC_EXAMPLE_FAST") == "1"

X = load_debd("plants", "train")[:2000]
X_test = load_debd("plants", "test")

grid = GridSearchCV(
    PCDensityEstimator(max_iter=3 if FAST else 15, random_state=0),
    {"n_latents": [1, 2, 4, 8, 16]},
    cv=3,
    return_train_score=True,
)
grid.fit(X)
print(f"best n_latents: {grid.best_params_['n_latents']}")
print(f"test log-likelihood of the refitted best model: {grid.score(X_test):.3f} nats per sample")

# %%
# Plot the mean training and held-out log-likelihood of the three folds.
results = grid.cv_results_
k = np.array(results["param_n_latents"], dtype=int)
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for split, style in [("train", "s--"), ("test", "o-")]:
    mean, std = results[f"mean_{split}_score"], results[f"std_{split}_score"]
    label = "training folds" if split == "train" else "held-out fold"
    ax.errorbar(k, mean, yerr=std, fmt=style, capsize=3, label=label)
ax.axvline(grid.best_params_["n_latents"], color="grey", lw=0.8, ls=":", label="chosen n_latents")
ax.set_xscale("log", base=2)
ax.set(xlabel="n_latents", ylabel="log-likelihood (nats per sample)")
ax.set_xticks(k, [str(v) for v in k])
ax.minorticks_off()
ax.set_title("plants (2 000 rows): 3-fold cross-validation")
ax.legend()
fig.savefig("gridsearch_latents.png", dpi=100)
