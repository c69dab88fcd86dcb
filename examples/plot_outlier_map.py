"""
An anomaly map of a 2-D data set
================================

:class:`~skpc.PCOutlierDetector` flags the rows to which its circuit gives a low
log-likelihood, with scikit-learn's outlier interface (``contamination``, ``offset_``,
``decision_function``, ``predict``). Here it is fitted on two interleaved half-moons with
5% of the rows scattered uniformly around them, beside
:class:`~sklearn.ensemble.IsolationForest`. The background shows each detector's
``decision_function``; the black line is its threshold (``decision_function = 0``), set so
that 5% of the training rows fall outside; red crosses are the scattered rows.

The circuit's density follows the curved shape of the moons: its inlier region hugs them.
The isolation forest's axis-aligned splits give a blockier region that also covers the
empty space inside each moon's curve.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from skpc import PCOutlierDetector

FAST = os.environ.get("SKPC_EXAMPLE_FAST") == "1"

rng = np.random.default_rng(0)
moons, _ = make_moons(950, noise=0.08, random_state=0)
noise = rng.uniform([-1.5, -1.0], [2.5, 1.5], size=(50, 2))
X = np.vstack([moons, noise])
is_noise = np.r_[np.zeros(len(moons)), np.ones(len(noise))]

detectors = {
    "PCOutlierDetector": PCOutlierDetector(contamination=0.05, random_state=0),
    "IsolationForest": IsolationForest(contamination=0.05, random_state=0),
}
side = 100 if FAST else 200
xx, yy = np.meshgrid(np.linspace(-1.5, 2.5, side * 3 // 2), np.linspace(-1.0, 1.5, side))
grid = np.column_stack([xx.ravel(), yy.ravel()])
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
for ax, (name, detector) in zip(axes, detectors.items()):
    detector.fit(X)
    auc = roc_auc_score(is_noise, -detector.score_samples(X))
    flagged = detector.predict(X) == -1
    print(f"{name}: ROC AUC {auc:.3f}, {flagged.mean():.1%} of the rows flagged")
    z = detector.decision_function(grid).reshape(xx.shape)
    # Rank-normalised colours, so the two detectors' scales can be compared by eye.
    ranks = np.argsort(np.argsort(z.ravel())).reshape(z.shape) / z.size
    ax.contourf(xx, yy, ranks, levels=20, cmap="Blues_r")
    ax.contour(xx, yy, z, levels=[0], colors="black", linewidths=1.5)
    ax.scatter(*moons.T, s=4, color="white", edgecolor="grey", linewidth=0.3)
    ax.scatter(*noise.T, s=25, color="red", marker="x")
    ax.set_title(f"{name} (ROC AUC {auc:.3f})")
fig.savefig("outlier_map.png", dpi=100)
