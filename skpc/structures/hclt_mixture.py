"""A mixture of hidden Chow-Liu trees over different spanning trees."""

import numpy as np
from sklearn.utils import check_random_state

from skpc.structures.hclt import hclt
from skpc.structures.region_graph import RegionGraph


def hclt_mixture(X, n_components=4, n_categories=None, alpha=0.01, random_state=None):
    """Region graph of a mixture of ``n_components`` HCLTs, mixed by one root sum.

    The first component's Chow-Liu tree is learned from ``X``; each further one from a
    bootstrap resample of the rows of ``X``, so that the trees differ where the data
    leave the tree uncertain. Every component has its own input and latent regions;
    the root region has one single-child partition per component. With k units per
    region this is the "mixture of HCLTs" of the HCLT paper's experiments.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
        Number of HCLTs (1 gives a plain HCLT whose root has k units and one more sum).
    n_categories : ndarray of int or None
        Categories per column (0 for continuous columns), as for :func:`hclt`.
    alpha : float
        Pseudocount of the mutual-information estimates.
    random_state : int, RandomState instance or None
        Source of the bootstrap resamples.

    Returns
    -------
    RegionGraph
    """
    if int(n_components) != n_components or n_components < 1:
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}.")
    X = np.asarray(X)
    rng = check_random_state(random_state)
    scopes, partitions, roots = [], [], []
    for m in range(int(n_components)):
        sample = X if m == 0 else X[rng.randint(0, len(X), len(X))]
        graph = hclt(sample, n_categories, alpha)
        offset = len(scopes)
        scopes += graph.scopes
        partitions += [[tuple(c + offset for c in part) for part in parts] for parts in graph.partitions]
        roots.append(graph.root + offset)
    scopes.append(tuple(range(X.shape[1])))
    partitions.append([(r,) for r in roots])
    return RegionGraph(scopes, partitions, root=len(scopes) - 1, product="hadamard", name="hclt-mixture")
