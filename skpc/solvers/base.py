"""The solver interface: statistics in, parameters out.

A solver sees the circuit's parameter blocks (input layers and sum layers), the
statistics a batch (or the whole data set) produced, and the batch size. Each block
provides ``sufficient`` (expected statistics), ``m_step`` and ``params``; solvers only
combine those, so a new leaf type needs no solver change.

``m_step(suff, pseudocount, prior_share=1.0)``: the parameters that maximise the
statistics' expected log-likelihood, smoothed by the pseudocount; a block with a prior
beyond it (``MultivariateGaussian``'s ``cov_prior``) adds ``prior_share`` of the prior's
pseudo-rows, the share of ``suff`` that is new evidence (anemone's step ``a``).
"""


class Solver:
    """Base class of the parameter-update rules.

    Parameters
    ----------
    pseudocount : float
        Smoothing added to every normalisation (eps in DESIGN.md section 3).
    momentum : float in [0, 1), default=0.0
        Only for solvers with ``"momentum"`` in ``options``: the update sees a
        bias-corrected exponential moving average of the statistics of this and the
        earlier updates instead of this update's alone (see :meth:`smooth`).
    """

    #: The name the estimator's ``solver`` parameter gives this rule.
    name = None
    #: True for solvers that accumulate statistics over the whole data set per update.
    full_batch = False
    #: The estimator's schedule and accumulation options that mean something here
    #: (``skpc.solvers.schedule.OPTIONS``); the others must keep their neutral values.
    options = frozenset()

    def __init__(self, pseudocount, momentum=0.0):
        if momentum and "momentum" not in self.options:
            raise ValueError(f"momentum={momentum!r} means nothing for solver={self.name!r}.")
        self.pseudocount = float(pseudocount)
        self.momentum = float(momentum)
        self._average, self._n_updates = None, 0

    def update(self, circuit, stats, n_samples, step_size):
        """Replace the circuit's parameters after a batch of ``n_samples`` rows."""
        suff, n_samples = self.smooth(circuit.sufficient(stats), n_samples)
        self.step(circuit, suff, n_samples, step_size)

    def step(self, circuit, suff, n_samples, step_size):
        """The update from per-block statistics ``suff`` of ``n_samples`` rows."""
        raise NotImplementedError

    def smooth(self, suff, n_samples):
        """Momentum on the statistics (pyjuice's ``Anemone(momentum=...)``).

        With ``m = momentum`` and ``f_t`` the statistics of update ``t`` (0, 1, ...),
        ``v_t = m v_{t-1} + (1 - m) f_t`` (``v_{-1} = 0``) and the update sees
        ``v_t / (1 - m^(t+1))``: a weighted mean of all updates so far whose weights sum
        to one, so the first update is unchanged. The row count is averaged the same
        way (for equal-sized batches it stays ``n_samples``). ``momentum=0`` returns
        the statistics untouched.
        """
        m = self.momentum
        if not m:
            return suff, n_samples
        if self._average is None:
            self._average = ([tuple(0 * s for s in block) for block in suff], 0.0)
        blocks, rows = self._average
        blocks = [tuple(m * v + (1 - m) * s for v, s in zip(vb, sb)) for vb, sb in zip(blocks, suff)]
        rows = m * rows + (1 - m) * n_samples
        self._average = (blocks, rows)
        self._n_updates += 1
        correction = 1.0 - m**self._n_updates
        return [tuple(v / correction for v in block) for block in blocks], rows / correction
