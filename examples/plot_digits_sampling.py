"""
Sampling handwritten digits
===========================

Fit a probabilistic circuit on scikit-learn's 8x8 digits, draw new images from it, and
compare them with samples of a kernel density estimate, as in scikit-learn's
"Kernel Density Estimation" example.

Each pixel takes one of 17 grey levels, so the circuit uses categorical leaves: it models
the discrete pixels exactly, and a sample is drawn top-down in one pass. The kernel
density is fitted in a 15-dimensional PCA space (as in scikit-learn's example) and its
samples are mapped back to pixels.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

from skpc import PCDensityEstimator

FAST = os.environ.get("SKPC_EXAMPLE_FAST") == "1"

digits = load_digits()
X = digits.data  # (1797, 64), integers 0..16

# %%
# Fit the circuit: a hidden Chow-Liu tree over the 64 pixels, 32 hidden states per pixel.
pc = PCDensityEstimator(
    n_latents=32, leaf="categorical", n_categories=17, max_iter=5 if FAST else 30, random_state=0
)
pc.fit(X)
print(f"circuit: mean log-likelihood {pc.score(X):.2f} nats per image on the training digits")
pc_samples = pc.sample(33, random_state=0)

# %%
# The kernel density baseline: PCA to 15 dimensions, bandwidth chosen by cross-validation.
pca = PCA(n_components=15).fit(X)
grid = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(0, 1, 4 if FAST else 8)})
grid.fit(pca.transform(X))
kde = grid.best_estimator_
print(f"kernel density: best bandwidth {kde.bandwidth:.2f}")
kde_samples = np.clip(pca.inverse_transform(kde.sample(33, random_state=0)), 0, 16)

# %%
# Plot real digits, circuit samples and kernel-density samples side by side.
rng = np.random.default_rng(0)
real = X[rng.choice(len(X), 33, replace=False)]
fig = plt.figure(figsize=(6.5, 6.5), layout="constrained")
blocks = [
    (real, "real digits"),
    (pc_samples, "probabilistic circuit samples"),
    (kde_samples, "kernel density samples"),
]
for subfig, (images, title) in zip(fig.subfigures(3, 1), blocks, strict=True):
    subfig.suptitle(title, fontsize=10)
    axes = subfig.subplots(3, 11, subplot_kw={"xticks": [], "yticks": []})
    for ax, image in zip(axes.ravel(), images, strict=True):
        ax.imshow(image.reshape(8, 8), cmap=plt.cm.binary, vmin=0, vmax=16, interpolation="nearest")
fig.savefig("digits_samples.png", dpi=100)
