"""skpc: probabilistic circuits for scikit-learn."""

from skpc.estimator import PCDensityEstimator
from skpc.imputer import PCImputer

__version__ = "0.1.0"

from skpc.io import load, save  # noqa: E402 -- needs __version__

__all__ = ["PCDensityEstimator", "PCImputer", "__version__", "load", "save"]
