"""Adam on unnormalised log-parameters: the gradient baseline of DESIGN.md section 3.

Sum weights and categorical probabilities are softmaxes of free logits (over the last
axis of a sum layer's ``(F, n_out, n_in)`` weights, over the category axis of a
categorical layer's ``(r, C, k)`` probabilities, padded categories excluded). The
gradient of the mean log-likelihood of a batch of B rows with respect to a logit is
``(F_B(n, c) - theta[n, c] * F_B(n)) / B``, read off the flows that EM also uses.
Gaussian units are parametrised by their mean and log-variance; their gradients come
from the flow-weighted statistics ``(s0, s1, s2)`` of the batch. Full-covariance Gaussian
units are parametrised by their mean and the Cholesky factor ``L`` of their covariance
(``Sigma = L L^T``) with its diagonal stored as logarithms, so that every step keeps
``Sigma`` positive definite; with ``Q = sum_x F(x) (x - mu)(x - mu)^T`` and
``P = Sigma^-1``, the gradients are ``P (S_x - S_1 mu)`` for the mean and
``2 G L`` for ``L`` (times ``L_ii`` on its log-diagonal), ``G = (P Q P - S_1 P) / 2``.
"""

import numpy as np

from skpc.leaves import floor_eigenvalues
from skpc.solvers.base import Solver


def _diag(xp, values):
    """Matrices ``(..., d, d)`` with ``values`` (..., d) on their diagonal."""
    return values[..., :, None] * xp.eye(values.shape[-1], dtype=values.dtype)


def _cholesky_from_free(xp, free):
    """The lower-triangular factor whose strict lower part is ``free``'s and whose
    diagonal is the exponential of ``free``'s."""
    return xp.tril(free, -1) + _diag(xp, xp.exp(xp.diagonal(free, axis1=-2, axis2=-1)))


def _softmax(xp, logits, axis, valid=None):
    e = xp.exp(logits - logits.max(axis=axis, keepdims=True))
    if valid is not None:
        e = e * valid
    return e / e.sum(axis=axis, keepdims=True)


class Adam(Solver):
    """Adam (Kingma & Ba, 2015) ascending the mean log-likelihood of each batch.

    The learning rate is the estimator's ``step_size`` (with its schedule). Adam's
    state (first and second moments, step count) lives in the solver, which the
    estimator creates afresh for each call to ``fit``. The pseudocount is not used:
    softmax parameters never reach exactly zero.

    Parameters
    ----------
    pseudocount : float
        Accepted for a uniform solver interface; unused.
    beta1, beta2 : float
        Decay rates of the moment estimates.
    epsilon : float
        Added to the root of the second moment.
    """

    name = "adam"
    options = frozenset({"final_step_size", "schedule_warmup", "batches_per_update"})

    def __init__(self, pseudocount, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__(pseudocount)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self._state = None

    # -- parametrisation -------------------------------------------------------------
    @staticmethod
    def _axis(block):
        if block.kind == "sum":
            return 2
        if block.kind == "categorical":
            return 1
        if block.kind in ("gaussian", "multivariate_gaussian"):
            return None
        raise ValueError(f"solver='adam' does not support {block.kind!r} blocks.")

    def to_free(self, block):
        """The block's free parameters (logits, or mean and log-variance)."""
        xp = block.backend.xp
        if block.kind == "gaussian":
            return [block.mean.astype(np.float64), xp.log(block.var.astype(np.float64))]
        if block.kind == "multivariate_gaussian":
            chol = xp.linalg.cholesky(block.cov.astype(np.float64))
            diag = xp.diagonal(chol, axis1=-2, axis2=-1)
            return [block.mean.astype(np.float64), xp.tril(chol, -1) + _diag(xp, xp.log(diag))]
        (theta,) = block.params
        with np.errstate(divide="ignore"):
            logits = xp.log(theta.astype(np.float64))
        if block.kind == "categorical":
            logits = xp.where(block.valid > 0, logits, 0.0)
        return [logits]

    def from_free(self, block, free):
        """Block parameters (in the block's dtype) from free parameters."""
        xp = block.backend.xp
        if block.kind == "gaussian":
            mean, log_var = free
            return (mean.astype(block.dtype), xp.maximum(xp.exp(log_var), block.min_var).astype(block.dtype))
        if block.kind == "multivariate_gaussian":
            mean, free_chol = free
            chol = _cholesky_from_free(xp, free_chol)
            cov = xp.matmul(chol, xp.swapaxes(chol, -1, -2))
            cov = floor_eigenvalues(xp, cov, block.min_var, block.dtype)
            return (mean.astype(block.dtype), cov.astype(block.dtype))
        valid = block.valid if block.kind == "categorical" else None
        with np.errstate(over="ignore"):
            theta = _softmax(xp, free[0], self._axis(block), valid)
        return (theta.astype(block.dtype),)

    def gradient(self, block, suff, n_samples):
        """Gradient of the mean log-likelihood w.r.t. the block's free parameters."""
        xp = block.backend.xp
        if block.kind == "gaussian":
            s0, s1, s2 = (s.astype(np.float64) for s in suff)
            mean, var = block.mean.astype(np.float64), block.var.astype(np.float64)
            # sum_x F(x) * (x - mean)^2 from the moments of the batch.
            sq = s2 - 2 * mean * s1 + mean**2 * s0
            return [(s1 - mean * s0) / var / n_samples, 0.5 * (sq / var - s0) / n_samples]
        if block.kind == "multivariate_gaussian":
            s0, s1, s2 = (s.astype(np.float64) for s in suff)
            mean, cov = block.mean.astype(np.float64), block.cov.astype(np.float64)
            prec = xp.linalg.inv(cov)
            outer = s1[..., :, None] * mean[..., None, :]
            q = (s2 - outer - xp.swapaxes(outer, -1, -2)
                 + s0[..., None, None] * mean[..., :, None] * mean[..., None, :])
            g_mean = xp.matmul(prec, (s1 - s0[..., None] * mean)[..., None])[..., 0]
            g_cov = 0.5 * (xp.matmul(xp.matmul(prec, q), prec) - s0[..., None, None] * prec)
            chol = xp.linalg.cholesky(cov)
            g_chol = xp.tril(2 * xp.matmul(g_cov, chol))
            diag = xp.diagonal(g_chol, axis1=-2, axis2=-1) * xp.diagonal(chol, axis1=-2, axis2=-1)
            g_free = xp.tril(g_chol, -1) + _diag(xp, diag)
            return [g_mean / n_samples, g_free / n_samples]
        axis = self._axis(block)
        (flows,) = suff
        flows = flows.astype(np.float64)
        (theta,) = block.params
        grad = (flows - theta * flows.sum(axis=axis, keepdims=True)) / n_samples
        if block.kind == "categorical":
            grad = xp.where(block.valid > 0, grad, 0.0)
        return [grad]

    # -- the update ------------------------------------------------------------------
    def step(self, circuit, suff, n_samples, step_size):
        xp = circuit.backend.xp
        if self._state is None:
            free = [self.to_free(b) for b in circuit.blocks]
            self._state = {
                "t": 0,
                "free": free,
                "m": [[xp.zeros_like(p) for p in f] for f in free],
                "v": [[xp.zeros_like(p) for p in f] for f in free],
            }
        state = self._state
        state["t"] += 1
        t, b1, b2 = state["t"], self.beta1, self.beta2
        scale = step_size * np.sqrt(1 - b2**t) / (1 - b1**t)
        new = []
        for i, (block, s) in enumerate(zip(circuit.blocks, suff, strict=True)):
            for j, g in enumerate(self.gradient(block, s, n_samples)):
                m = state["m"][i][j] = b1 * state["m"][i][j] + (1 - b1) * g
                v = state["v"][i][j] = b2 * state["v"][i][j] + (1 - b2) * g * g
                state["free"][i][j] = state["free"][i][j] + scale * m / (xp.sqrt(v) + self.epsilon)
            new.append(self.from_free(block, state["free"][i]))
        circuit.set_params(new)
