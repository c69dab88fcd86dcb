"""skpc: probabilistic circuits for scikit-learn."""

from skpc.classifier import PCClassifier
from skpc.estimator import PCDensityEstimator
from skpc.imputer import PCImputer
from skpc.outlier import PCOutlierDetector

__version__ = "0.1.0"

from skpc.io import load, save  # noqa: E402 -- needs __version__

__all__ = [
    "PCClassifier", "PCDensityEstimator", "PCImputer", "PCOutlierDetector", "__version__", "load", "save",
]
