"""A finite mixture as a region graph: the circuit of GaussianMixture and of latent class models."""

import numpy as np

from skpc.structures.region_graph import RegionGraph


def mixture(leaf_types):
    """Region graph of a finite mixture over columns of the given kinds.

    Each component (unit of the root) is a product of one full-covariance Gaussian over
    all the continuous columns and one categorical distribution per categorical column,
    multiplied unit by unit (Hadamard). With ``k`` units per region the circuit is a
    mixture of ``k`` components: on continuous columns it is
    ``GaussianMixture(k, covariance_type="full")``; with categorical columns too, each
    component also holds its own distribution of every categorical column (a latent
    class model), so a classifier's label gets a distribution per component.

    Parameters
    ----------
    leaf_types : sequence of {"gaussian", "categorical"}
        The kind of each column.

    Returns
    -------
    RegionGraph

    Examples
    --------
    >>> from skpc.structures import mixture
    >>> graph = mixture(["gaussian", "categorical", "gaussian"])
    >>> [graph.scopes[r] for r in graph.input_regions()]
    [(0, 2), (1,)]
    """
    kinds = np.asarray(leaf_types, dtype=object)
    if kinds.ndim != 1 or kinds.size < 1:
        raise ValueError("mixture needs the kind of at least one column.")
    gaussian = tuple(int(v) for v in np.flatnonzero(kinds == "gaussian"))
    inputs = ([gaussian] if gaussian else []) + [(int(v),) for v in np.flatnonzero(kinds != "gaussian")]
    scopes = [*inputs, tuple(range(kinds.size))]
    partitions = [[] for _ in inputs] + [[tuple(range(len(inputs)))]]
    return RegionGraph(scopes, partitions, root=len(inputs), product="hadamard", name="mixture").validate()
