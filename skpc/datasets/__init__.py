"""Data sets that ship with skpc: the five binary density-estimation benchmarks."""

import gzip
from importlib import resources

import numpy as np

DEBD = ("nltcs", "plants", "baudio", "jester", "dna")

#: Reference test log-likelihoods (nats per sample) of a mixture of four HCLTs with 12
#: hidden states, from the HCLT paper's public experiment logs.
REFERENCE_TEST_LL = {"nltcs": -6.00, "plants": -14.27, "baudio": -39.77, "jester": -52.38, "dna": -79.05}


def load_debd(name, split="train"):
    """Load one split of a binary density-estimation benchmark.

    Parameters
    ----------
    name : {"nltcs", "plants", "baudio", "jester", "dna"}
    split : {"train", "valid", "test"}

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
        Values 0 and 1.
    """
    if name not in DEBD:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DEBD)}.")
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}.")
    path = resources.files(__package__) / "data" / name / f"{name}.{split}.data.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt") as f:
        return np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
