"""``save`` and ``load`` methods of skpc's estimators, in terms of :mod:`skpc.io`."""


class ModelFileMixin:
    """``est.save(path)`` and ``Class.load(path)``: skpc's safe model files (no pickle)."""

    def save(self, path):
        """Write the fitted model to ``path`` in skpc's safe file format (no pickle).

        See :func:`skpc.io.save`.

        Parameters
        ----------
        path : str or path-like
        """
        from skpc.io import save  # noqa: PLC0415 -- skpc.io imports the estimators

        save(self, path)

    @classmethod
    def load(cls, path, device="cpu"):
        """Read a model of this class written by :meth:`save`; see :func:`skpc.io.load`.

        Parameters
        ----------
        path : str or path-like
        device : {"cpu", "gpu", "auto"}, default="cpu"
            Where the loaded circuits live.

        Returns
        -------
        estimator : an instance of this class
        """
        from skpc.io import ModelFileError, load  # noqa: PLC0415

        estimator = load(path, device=device)
        if not isinstance(estimator, cls):
            raise ModelFileError(
                f"{path} holds a {type(estimator).__name__}, not a {cls.__name__}; read it with skpc.load."
            )
        return estimator
