import itertools

import numpy as np

from skpc import PCDensityEstimator


def test_fitted_hclt_is_normalised():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(300, 5)).astype(float)
    pc = PCDensityEstimator(n_latents=4, max_iter=3, dtype="float64", random_state=0).fit(X)
    states = np.array(list(itertools.product([0, 1], repeat=5)), dtype=float)
    assert abs(np.exp(pc.score_samples(states)).sum() - 1.0) < 1e-6
