"""skpc: probabilistic circuits for scikit-learn."""

from skpc.estimator import PCDensityEstimator

__version__ = "0.1.0"

__all__ = ["PCDensityEstimator", "__version__"]
