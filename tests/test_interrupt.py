"""A KeyboardInterrupt during fit leaves the last complete epoch's parameters, or an unfitted estimator."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import skpc.estimator as estimator_module
from skpc import PCDensityEstimator
from skpc.solvers import SOLVERS

# 60 rows in batches of 20: three mini-batch updates per epoch (one for full-batch EM).
KW = dict(n_latents=3, batch_size=20, schedule="constant", n_iter_no_change=50, random_state=0)


def _data():
    rng = np.random.default_rng(0)
    X = np.c_[rng.integers(0, 3, size=(60, 4)), rng.normal(size=60)]
    X[rng.random(X.shape) < 0.1] = np.nan
    return X


def _interrupt_update(monkeypatch, solver, call):
    """Make the solver's ``call``-th update change one block, then raise KeyboardInterrupt."""
    cls = SOLVERS[solver]
    original, count = cls.update, [0]

    def update(self, circuit, stats, n_samples, step_size):
        count[0] += 1
        if count[0] == call:
            block = circuit.blocks[-1]  # a half-done update: one block already overwritten
            block.set_params(tuple(np.full_like(p, 1.0 / p.shape[-1]) for p in block.params))
            raise KeyboardInterrupt
        return original(self, circuit, stats, n_samples, step_size)

    monkeypatch.setattr(cls, "update", update)


def _assert_same_params(a, b):
    for pa, pb in zip(a.circuit_.get_params(), b.circuit_.get_params(), strict=True):
        for x, y in zip(pa, pb, strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("solver, call, epochs", [("anemone", 8, 2), ("minibatch_em", 4, 1), ("em", 3, 2)])
def test_interrupt_mid_epoch_restores_the_last_complete_epoch(monkeypatch, solver, call, epochs):
    X = _data()
    reference = PCDensityEstimator(**KW, solver=solver, max_iter=epochs).fit(X)
    _interrupt_update(monkeypatch, solver, call)
    pc = PCDensityEstimator(**KW, solver=solver, max_iter=10)
    with pytest.raises(KeyboardInterrupt):
        pc.fit(X)
    _assert_same_params(pc, reference)
    assert pc.n_iter_ == epochs and not pc.converged_
    assert pc.history_["train_loglik"] == reference.history_["train_loglik"]
    assert len(pc.history_["seconds"]) == epochs
    np.testing.assert_array_equal(pc.score_samples(X), reference.score_samples(X))
    # The derived arrays (transposes, tables) were restored with the parameters.
    for layer in pc.circuit_.sum_layers:
        np.testing.assert_array_equal(layer._weights_t, np.transpose(layer.weights, (0, 2, 1)))
    for leaf in pc.circuit_.leaves:
        if leaf.kind == "categorical":
            np.testing.assert_array_equal(leaf._table[:, :, :-1], np.transpose(leaf.probs, (0, 2, 1)))


def test_interrupt_in_the_first_epoch_leaves_the_estimator_unfitted(monkeypatch):
    X = _data()
    pc = PCDensityEstimator(**KW, max_iter=3).fit(X)  # a previous fit is discarded too
    _interrupt_update(monkeypatch, "anemone", 2)
    with pytest.raises(KeyboardInterrupt):
        pc.fit(X)
    assert [a for a in vars(pc) if a.endswith("_")] == []
    with pytest.raises(NotFittedError):
        pc.score_samples(X)


def test_interrupt_while_learning_the_structure_leaves_the_estimator_unfitted(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(estimator_module, "hclt", interrupted)
    pc = PCDensityEstimator(**KW)
    with pytest.raises(KeyboardInterrupt):
        pc.fit(_data())
    with pytest.raises(NotFittedError):
        pc.score_samples(_data())


@pytest.mark.parametrize("call, epochs", [(2, 0), (5, 1)])
def test_interrupted_warm_start_keeps_complete_epochs(monkeypatch, call, epochs):
    X = _data()
    first = PCDensityEstimator(**KW, max_iter=2).fit(X)
    reference = PCDensityEstimator(**KW, max_iter=2).fit(X)
    if epochs:
        reference.set_params(warm_start=True, max_iter=epochs).fit(X)
    _interrupt_update(monkeypatch, "anemone", call)
    with pytest.raises(KeyboardInterrupt):
        first.set_params(warm_start=True, max_iter=10).fit(X)
    _assert_same_params(first, reference)
    assert first.n_iter_ == reference.n_iter_
    np.testing.assert_array_equal(first.score_samples(X), reference.score_samples(X))


def test_no_checkpoint_is_left_on_the_estimator(monkeypatch):
    pc = PCDensityEstimator(**KW, max_iter=2).fit(_data())
    assert not hasattr(pc, "_checkpoint")
    _interrupt_update(monkeypatch, "anemone", 4)
    with pytest.raises(KeyboardInterrupt):
        pc.fit(_data())
    assert not hasattr(pc, "_checkpoint") and pc.n_iter_ == 1
