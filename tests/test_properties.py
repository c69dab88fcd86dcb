"""Property-based tests: random small region graphs, random data, random training settings.

Every example builds a random region graph (random splits, 1 or 2 partitions per region,
shared sub-regions, mixing regions, Hadamard or Kronecker products), random leaf types,
random data with missing values, and fits it with a random solver, step size, batch size,
number of latents and dtype. The properties are checked against brute-force enumeration
of every discrete state, or numerical integration for a Gaussian variable.
"""

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from skpc import PCDensityEstimator
from skpc.structures import RegionGraph

#: Examples per property; the file runs len(properties) * EXAMPLES fits. Derandomised, so
#: that CI runs the same examples every time (a random search once found a real underflow
#: bug, now pinned by test_gaussian.py's far-apart-units test); to explore, run locally with
#: derandomize=False and a larger EXAMPLES.
EXAMPLES = 25
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
TOL = {"float32": 1e-4, "float64": 1e-9}


@st.composite
def region_graphs(draw, max_variables=4):
    """A random smooth and decomposable region graph over 1..max_variables variables."""
    d = draw(st.integers(1, max_variables))
    product = draw(st.sampled_from(["hadamard", "kronecker"]))
    scopes, partitions, shared = [], [], {}

    def add(scope, parts):
        scopes.append(scope)
        partitions.append(parts)
        return len(scopes) - 1

    def region(scope):
        if len(scope) == 1:
            r = add(scope, [])
            if product == "hadamard" and draw(st.booleans()):
                r = add(scope, [(r,)])  # a pure mixing region
            return r
        if scope in shared and draw(st.booleans()):
            return shared[scope]  # share a sub-region: the graph becomes a DAG
        parts = []
        for _ in range(draw(st.integers(1, 2))):
            arity = 2 if product == "kronecker" else draw(st.integers(2, min(3, len(scope))))
            order = draw(st.permutations(scope))
            cuts = sorted(draw(st.lists(st.integers(1, len(scope) - 1), min_size=arity - 1,
                                        max_size=arity - 1, unique=True)))
            bounds = [0, *cuts, len(scope)]
            pieces = [tuple(sorted(order[a:b])) for a, b in zip(bounds, bounds[1:], strict=False)]
            parts.append(tuple(region(piece) for piece in pieces))
        shared[scope] = add(scope, parts)
        return shared[scope]

    if d == 1:  # the root must be a sum region: mix one input region
        return RegionGraph([(0,), (0,)], [[], [(0,)]], 1, "hadamard").validate()
    root = region(tuple(range(d)))
    return RegionGraph(scopes, partitions, root, product).validate()


@st.composite
def problems(draw, gaussian=True):
    """A region graph, leaf kinds, categories, data and a fitted estimator."""
    graph = draw(region_graphs())
    d = graph.n_variables
    kinds = [draw(st.sampled_from(["categorical", "gaussian"] if gaussian else ["categorical"]))
             for _ in range(d)]
    n_cat = [draw(st.integers(1, 3)) for _ in range(d)]
    n = draw(st.integers(1, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.01, 1.0, 100.0]))
    X = np.column_stack([
        rng.integers(0, c, size=n) if kind == "categorical" else rng.normal(size=n) * scale
        for kind, c in zip(kinds, n_cat, strict=True)
    ]).astype(float)
    X[rng.random(X.shape) < draw(st.sampled_from([0.0, 0.2]))] = np.nan
    for j in range(d):  # every column needs an observed value
        if np.isnan(X[:, j]).all():
            X[0, j] = 0.0
    est = PCDensityEstimator(
        structure=graph,
        n_latents=draw(st.integers(1, 3)),
        solver=draw(st.sampled_from(["anemone", "minibatch_em", "em"])),
        step_size=draw(st.sampled_from([0.1, 0.5, 1.0])),
        batch_size=draw(st.integers(1, 32)),
        max_iter=draw(st.integers(1, 3)),
        leaf=kinds,
        # Declared levels 0..c-1 for categorical columns, 0 ("not categorical") for Gaussian ones.
        n_categories=[c if kind == "categorical" else 0 for kind, c in zip(kinds, n_cat, strict=True)],
        dtype=draw(st.sampled_from(["float32", "float64"])),
        random_state=draw(st.integers(0, 100)),
    )
    return est.fit(X), X


def _discrete_states(est):
    """Every joint state of the categorical variables, each over its levels 0..c-1 and the
    unseen value c; Gaussian ones missing (NaN)."""
    axes = [range(c + 1) if c > 0 else [np.nan] for c in est.n_categories_]
    return np.array(list(itertools.product(*axes)), dtype=float)


@SETTINGS
@given(problems())
def test_training_gives_finite_normalised_parameters(problem):
    est, X = problem
    for block in est.circuit_.blocks:
        for p in block.params:
            assert np.all(np.isfinite(p)), block.kind
        if block.kind == "sum":
            np.testing.assert_allclose(block.weights.sum(axis=2), 1.0, rtol=TOL[est.dtype] * 10)
        elif block.kind == "categorical":
            # Over the levels and "unseen" (padding rows hold 0).
            np.testing.assert_allclose(block.probs.sum(axis=1), 1.0, rtol=TOL[est.dtype] * 10)
            assert np.all(block.probs >= 0)
        else:
            assert np.all(block.var > 0)
    assert all(np.isfinite(v) for v in est.history_["train_loglik"])


@SETTINGS
@given(problems())
def test_normalisation_and_full_marginalisation(problem):
    est, X = problem
    tol = TOL[est.dtype]
    # Marginalising every variable gives log 1 = 0.
    assert abs(est.score_samples(np.full((1, X.shape[1]), np.nan))[0]) <= tol
    # Summing over every discrete state, unseen values included (Gaussian variables
    # marginalised), gives 1.
    ll = est.score_samples(_discrete_states(est))
    assert np.all(np.isfinite(ll))
    assert abs(logsumexp(ll)) <= 10 * tol
    # Discrete log-probabilities are at most 0 (up to rounding).
    assert ll.max() <= tol


@SETTINGS
@given(problems(), st.data())
def test_scores_do_not_depend_on_row_order_batch_size_or_marginalisation_route(problem, data):
    est, X = problem
    tol = TOL[est.dtype]
    ll = est.score_samples(X)
    assert np.all(np.isfinite(ll))
    perm = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(est.score_samples(X[perm]), ll[perm], rtol=tol, atol=tol)
    for batch in (1, data.draw(st.integers(1, 40))):
        np.testing.assert_allclose(est.set_params(batch_size=batch).score_samples(X), ll, rtol=tol, atol=tol)
    # A missing categorical value equals the sum over its levels and the unseen value.
    categorical = np.flatnonzero(est.n_categories_ > 0)
    if categorical.size:
        j = data.draw(st.sampled_from(categorical.tolist()))
        missing = X.copy()
        missing[:, j] = np.nan
        filled = []
        for c in range(est.n_categories_[j] + 1):
            Y = missing.copy()
            Y[:, j] = c
            filled.append(est.score_samples(Y))
        np.testing.assert_allclose(est.score_samples(missing), logsumexp(filled, axis=0), rtol=tol, atol=tol)


@SETTINGS
@given(problems())
def test_samples_are_in_the_support_and_score_finite(problem):
    est, X = problem
    S = est.sample(20, random_state=0)
    assert not np.isnan(S).any()
    for j, c in enumerate(est.n_categories_):
        if c > 0:
            assert set(np.unique(S[:, j])) <= set(range(c))
    assert np.all(np.isfinite(est.score_samples(S)))


@settings(max_examples=10, deadline=None, derandomize=True)
@given(problems(gaussian=False), st.integers(0, 10**6))
def test_a_gaussian_variable_integrates_to_one(problem, seed):
    est, X = problem
    # Refit with the first variable Gaussian and integrate its marginal numerically.
    rng = np.random.default_rng(seed)
    Xg = X.copy()
    Xg[:, 0] = rng.normal(size=len(X))
    kinds = ["gaussian"] + ["categorical"] * (X.shape[1] - 1)
    n_categories = [0, *est.get_params()["n_categories"][1:]]
    est = est.set_params(leaf=kinds, n_categories=n_categories, dtype="float64").fit(Xg)
    gaussian = est.circuit_.leaves[[b.kind for b in est.circuit_.leaves].index("gaussian")]
    # The unit's parameters are in standardised units: back to the column's.
    loc, scale = est.columns_.loc[0], est.columns_.scale[0]
    sd = np.sqrt(gaussian.var) * scale
    mean = gaussian.mean * scale + loc
    # The trapezoid rule is spectrally accurate for Gaussians: a few points per sd suffice.
    grid = np.linspace((mean - 12 * sd).min(), (mean + 12 * sd).max(), 4001)
    assert grid[1] - grid[0] < sd.min() / 2
    rows = np.full((len(grid), X.shape[1]), np.nan)
    rows[:, 0] = grid
    density = np.exp(est.score_samples(rows))
    assert abs(np.trapezoid(density, grid) - 1.0) < 1e-6
