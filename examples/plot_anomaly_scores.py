"""
Anomaly scores from log-likelihoods
===================================

``score_samples`` returns the exact log-likelihood of each row, so a low value flags a
row that the model finds unusual. Here a circuit learns the ``nltcs`` benchmark (16
binary answers of elderly people about daily activities). Among the test rows we plant
anomalies: rows whose answers were shuffled column by column across people. Each
answer on its own stays as common as before, only the combinations become odd.

A model of independent variables (``n_latents=1``: every hidden variable has one state)
sees the answers one at a time and does little better than chance; the circuit models the
dependencies between answers and separates most of the shuffled rows from the real ones.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import RocCurveDisplay, roc_auc_score

from skpc import PCDensityEstimator
from skpc.datasets import load_debd

FAST = os.environ.get("SKPC_EXAMPLE_FAST") == "1"

X, X_test = load_debd("nltcs", "train"), load_debd("nltcs", "test")
rng = np.random.default_rng(0)
n_odd = 300
odd = np.column_stack([rng.permutation(col)[:n_odd] for col in X_test.T])
rows = np.vstack([X_test, odd])
is_odd = np.r_[np.zeros(len(X_test)), np.ones(n_odd)]

models = {
    "circuit (n_latents=16)": PCDensityEstimator(n_latents=16, max_iter=3 if FAST else 15, random_state=0),
    "independent (n_latents=1)": PCDensityEstimator(n_latents=1, max_iter=3 if FAST else 15, random_state=0),
}
fig, (ax_hist, ax_roc) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for name, model in models.items():
    score = model.fit(X).score_samples(rows)
    auc = roc_auc_score(is_odd, -score)  # low log-likelihood = anomalous
    print(f"{name}: ROC AUC {auc:.3f}")
    RocCurveDisplay.from_predictions(is_odd, -score, name=name, ax=ax_roc)
    if name.startswith("circuit"):
        bins = np.linspace(score.min(), score.max(), 40)
        ax_hist.hist(score[is_odd == 0], bins=bins, alpha=0.6, density=True, label="test rows")
        ax_hist.hist(score[is_odd == 1], bins=bins, alpha=0.6, density=True, label="shuffled rows")
ax_hist.set(xlabel="circuit log-likelihood (nats)", ylabel="density", title="score_samples of the circuit")
ax_hist.legend()
ax_roc.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
ax_roc.set_title("detecting the shuffled rows")
fig.savefig("anomaly_scores.png", dpi=100)
