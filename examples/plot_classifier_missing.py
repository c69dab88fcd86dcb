"""
Classifying with missing features
=================================

A circuit over the features and the label answers ``p(y | x)`` exactly for any set of
observed features: the missing ones are integrated out, not imputed. Here
:class:`~skpc.PCClassifier` learns the digits (8x8 images, 17 grey levels as categories)
from complete training images; then more and more test pixels are hidden at random and
both it and :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (which handles NaN
natively, by sending them down a learned branch) predict the digit.

With every pixel observed the boosted trees are far more accurate (0.98 against 0.85 in
the full run: a circuit over all 65 variables is a weaker classifier of complete images).
But the circuit loses little as pixels go missing, since it integrates the missing ones
out of the joint distribution, whereas the trees' branches were learned on complete
images: from about 30% missing the circuit is ahead on both accuracy and log loss, and
with 90% of the pixels hidden it still names half the digits (0.52) while the trees are
close to chance (0.20).
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

from skpc import PCClassifier

FAST = os.environ.get("SKPC_EXAMPLE_FAST") == "1"

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
if FAST:  # the test suite runs every example
    X_train, y_train, X_test, y_test = X_train[:300], y_train[:300], X_test[:150], y_test[:150]
models = {
    # n_categories: all 17 grey levels, even those a pixel never shows in training.
    "PCClassifier": PCClassifier(n_categories=17, random_state=0),
    "HistGradientBoosting": HistGradientBoostingClassifier(max_iter=10 if FAST else 100, random_state=0),
}
for model in models.values():
    model.fit(X_train, y_train)

fractions = np.linspace(0, 0.9, 4 if FAST else 10)
rng = np.random.default_rng(0)
masks = [rng.random(X_test.shape) < f for f in fractions]
results = {name: [] for name in models}
for name, model in models.items():
    for mask in masks:
        proba = model.predict_proba(np.where(mask, np.nan, X_test))
        accuracy = accuracy_score(y_test, proba.argmax(axis=1))
        loss = log_loss(y_test, proba, labels=range(10))
        results[name].append((accuracy, loss))
        print(f"{name:22s} {mask.mean():4.0%} missing: accuracy {accuracy:.3f}, log loss {loss:.3f}")

fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for name, values in results.items():
    accuracy, loss = np.array(values).T
    ax_acc.plot(fractions * 100, accuracy, marker="o", label=name)
    ax_loss.plot(fractions * 100, loss, marker="o", label=name)
ax_acc.set(xlabel="test pixels missing (%)", ylabel="accuracy", title="accuracy")
ax_loss.set(xlabel="test pixels missing (%)", ylabel="log loss (lower is better)", title="log loss")
ax_acc.legend()
fig.savefig("classifier_missing.png", dpi=100)
