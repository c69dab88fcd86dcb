"""skpc: probabilistic circuits for scikit-learn."""

from skpc.estimator import PCDensityEstimator

__version__ = "0.1.0"

from skpc.io import load, save  # noqa: E402 -- needs __version__

__all__ = ["PCDensityEstimator", "__version__", "load", "save"]
