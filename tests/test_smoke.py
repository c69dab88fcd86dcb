import numpy as np
from _circuits import states_with_unseen

from skpc import PCDensityEstimator


def test_fitted_hclt_is_normalised():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(300, 5)).astype(float)
    pc = PCDensityEstimator(n_latents=4, max_iter=3, dtype="float64", random_state=0).fit(X)
    # Each column's two levels and the unseen value 2: the distribution sums to 1.
    states, known = states_with_unseen(np.full(5, 2))
    p = np.exp(pc.score_samples(states))
    assert abs(p.sum() - 1.0) < 1e-6
    assert 0 < 1 - p[known].sum() < 1e-3
