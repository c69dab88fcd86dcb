"""Random and tensorised structures (RAT-SPN; Peharz et al., 2020) as region graphs."""

import numpy as np
from sklearn.utils import check_random_state

from skpc.structures.region_graph import RegionGraph


class _Builder:
    """Collects regions (scope, partitions) and returns their ids."""

    def __init__(self):
        self.scopes, self.partitions = [], []

    def add(self, scope, partitions=()):
        self.scopes.append(tuple(sorted(int(v) for v in scope)))
        self.partitions.append(list(partitions))
        return len(self.scopes) - 1

    def graph(self, root, name):
        return RegionGraph(self.scopes, self.partitions, root=root, product="kronecker", name=name).validate()


def rat_spn(n_variables, depth=None, n_repetitions=4, random_state=None, multivariate_leaves=False):
    """Region graph of a RAT-SPN: random balanced binary trees, repeated.

    Each repetition permutes the variables at random and splits them into two balanced
    halves, recursively, ``depth`` times. By default input regions hold a single
    variable, so a region still holding several variables below ``depth`` is split
    further into halves of its variables in their column order (no randomness). With
    ``multivariate_leaves=True`` a region reached at ``depth`` is not split further: it
    becomes one input region over all its variables, which a circuit turns into
    full-covariance Gaussian units (continuous columns only). The root mixes the
    repetitions: one partition (the first split) per repetition. Repetitions share no
    region; each has its own input regions. Products are Kronecker (outer) products.

    Parameters
    ----------
    n_variables : int
        Number of variables (at least 2).
    depth : int or None, default=None
        Levels of random splits; ``None`` splits at random all the way down to single
        variables. ``depth=0`` gives the same column-order tree in every repetition, or
        with ``multivariate_leaves=True`` a root whose every partition is a single input
        region over all variables: a mixture of ``n_repetitions * k`` full-covariance
        Gaussians for k units per region.
    n_repetitions : int, default=4
        Number of random trees mixed at the root.
    random_state : int, RandomState instance or None, default=None
    multivariate_leaves : bool, default=False
        Stop splitting at ``depth``: the regions there become input regions over all
        their variables (full-covariance Gaussian units). Without effect when
        ``depth=None``.

    Returns
    -------
    RegionGraph

    Examples
    --------
    >>> from skpc.structures import rat_spn
    >>> graph = rat_spn(6, depth=2, n_repetitions=3, random_state=0)
    >>> len(graph.partitions[graph.root])
    3
    >>> graph = rat_spn(6, depth=1, n_repetitions=2, multivariate_leaves=True, random_state=0)
    >>> sorted(len(graph.scopes[r]) for r in graph.input_regions())
    [3, 3, 3, 3]
    """
    n_variables, n_repetitions = int(n_variables), int(n_repetitions)
    if n_variables < 2:
        raise ValueError(f"rat_spn needs at least 2 variables, got n_variables={n_variables}.")
    if n_repetitions < 1:
        raise ValueError(f"n_repetitions must be at least 1, got {n_repetitions}.")
    if depth is not None and int(depth) < 0:
        raise ValueError(f"depth must be None or a non-negative integer, got {depth}.")
    depth = n_variables if depth is None else int(depth)
    rng = check_random_state(random_state)
    builder = _Builder()

    def halves(variables, level):
        """Ids of the two child regions of a region over ``variables`` (in split order)."""
        if level >= depth:
            variables = np.sort(variables)
        half = len(variables) // 2
        return region(variables[:half], level + 1), region(variables[half:], level + 1)

    def region(variables, level):
        if len(variables) == 1 or (multivariate_leaves and level >= depth):
            return builder.add(variables)
        return builder.add(variables, [halves(variables, level)])

    def top(variables):
        if multivariate_leaves and depth == 0:  # one input region over every variable
            return (region(variables, 0),)
        return halves(variables, 0)

    parts = [top(rng.permutation(n_variables)) for _ in range(n_repetitions)]
    root = builder.add(range(n_variables), parts)
    return builder.graph(root, "rat")
