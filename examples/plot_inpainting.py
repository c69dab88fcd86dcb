"""
============================================
Inpainting half-masked digits with a circuit
============================================

A probabilistic circuit answers conditional queries exactly. Here one is fitted on the
8x8 digit images of scikit-learn (17 grey levels, categorical leaves); the lower half of
unseen test images is then hidden and completed from the upper half in two ways:

- the most probable completion (MPE, :meth:`skpc.PCDensityEstimator.predict_mpe`);
- each hidden pixel's most probable value on its own
  (the argmax of :meth:`skpc.PCDensityEstimator.conditional_marginals`);
- a draw from p(lower half | upper half)
  (:meth:`skpc.PCDensityEstimator.sample_conditional`), twice, to show the spread.

The MPE completion is the single most probable lower half. It is often sparser than real
digits: blank pixels are the likeliest value of most pixels, and the printed
log-probabilities show that it is indeed far more probable under the model than the true
lower half, while samples look like digits with the true lower half's probability.

The figure shows, per column, the original, the masked input and the completions.
Run ``python examples/plot_inpainting.py --out DIR`` to choose where the PNG goes.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skpc import PCDensityEstimator  # noqa: E402

parser = argparse.ArgumentParser(description="Inpaint half-masked digits.")
parser.add_argument("--out", default=".", help="directory for the PNG")
args, _ = parser.parse_known_args()

# %%
# Fit on the training images (17 grey levels: categorical leaves).
X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
pc = PCDensityEstimator(n_latents=32, max_iter=30, n_categories=17, random_state=0).fit(X_train)
print(f"test log-likelihood: {pc.score(X_test):.2f} nats per image")

# %%
# Hide the lower half (rows 4-7) of ten test images and complete them.
images = X_test[:10]
masked = images.copy()
masked[:, 32:] = np.nan
mpe, mpe_log_prob = pc.predict_mpe(masked, return_log_prob=True)
mode = np.where(np.isnan(masked), pc.conditional_marginals(masked).argmax(axis=2), masked)
samples = [pc.sample_conditional(masked, random_state=seed) for seed in (0, 1)]
for label, data in [("true lower half", images), ("per-pixel mode", mode), ("sample", samples[0])]:
    print(f"mean log p, {label}: {pc.score_samples(data).mean():.1f}")
print(f"mean log p, MPE: {mpe_log_prob.mean():.1f}")
mpe_error = np.abs(mpe[:, 32:] - images[:, 32:]).mean()
print(f"mean absolute error of the MPE completion on the hidden pixels: {mpe_error:.2f} grey levels")

# %%
# Plot original / masked / completions side by side.
rows = [("original", images), ("masked", masked), ("MPE", mpe), ("pixel mode", mode),
        ("sample 1", samples[0]), ("sample 2", samples[1])]
fig, axes = plt.subplots(len(rows), len(images), figsize=(1.1 * len(images), 1.2 * len(rows)))
cmap = plt.get_cmap("gray_r").copy()
cmap.set_bad("tab:red")  # hidden pixels
for r, (label, data) in enumerate(rows):
    for c, image in enumerate(data):
        ax = axes[r, c]
        ax.imshow(np.ma.masked_invalid(image.reshape(8, 8)), cmap=cmap, vmin=0, vmax=16)
        ax.set_xticks([])
        ax.set_yticks([])
        if c == 0:
            ax.set_ylabel(label)
fig.suptitle("Completing the lower half of test digits (red: hidden)")
fig.tight_layout()
path = Path(args.out) / "inpainting.png"
fig.savefig(path, dpi=100)
print(f"saved {path}")
