"""skpc: probabilistic circuits for scikit-learn."""

from skpc.estimator import PCDensityEstimator
from skpc.imputer import PCImputer

__version__ = "0.1.0"

__all__ = ["PCDensityEstimator", "PCImputer", "__version__"]
