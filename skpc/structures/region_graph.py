"""Region graphs: the structure of a circuit, before any units or parameters exist."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RegionGraph:
    """A rooted DAG of regions (sets of variables) and their partitions.

    A region with no partitions is an *input region* and becomes a layer of input units:
    over one variable, units of that variable's distribution (categorical or Gaussian);
    over several variables, full-covariance (multivariate) Gaussian units over all of
    them (every one of its variables must be a Gaussian column). Every other region
    becomes sum units that mix the products of its partitions. A partition is a tuple of
    child region ids whose scopes are disjoint and cover the region's scope; a partition
    with a single child is allowed in both kinds of graph (it mixes the child's units,
    as HCLT's leaf latents do).

    Parameters
    ----------
    scopes : list of tuple of int
        ``scopes[r]`` is the sorted tuple of variables of region ``r``.
    partitions : list of list of tuple of int
        ``partitions[r]`` lists the partitions of region ``r``.
    root : int
        Id of the root region.
    product : {"hadamard", "kronecker"}
        How a partition combines its children's units: elementwise (all children have
        the same number of units) or as an outer product (two children; or one child,
        whose units are then mixed as they are).

    Examples
    --------
    A mixture of full-covariance Gaussians over three continuous columns: the root's
    only partition has a single child, an input region over all three variables (this
    is what ``rat_spn(3, depth=0, n_repetitions=1, multivariate_leaves=True)`` builds).
    With ``n_latents=k`` it is a Gaussian mixture with k components, like
    ``sklearn.mixture.GaussianMixture(k, covariance_type="full")``.

    >>> import numpy as np
    >>> from skpc import PCDensityEstimator
    >>> from skpc.structures import RegionGraph
    >>> gmm = RegionGraph(scopes=[(0, 1, 2), (0, 1, 2)], partitions=[[], [(0,)]], root=1)
    >>> X = np.random.default_rng(0).multivariate_normal(
    ...     [0, 0, 0], [[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1]], size=300)
    >>> pc = PCDensityEstimator(structure=gmm, n_latents=2, solver="em", max_iter=10,
    ...                         random_state=0).fit(X)
    >>> pc.circuit_.leaves[0].cov.shape  # (regions, units, d, d)
    (1, 2, 3, 3)

    Input regions of different sizes can be mixed: here ``(0, 1)`` gets bivariate
    Gaussian units and ``(2,)`` univariate ones, multiplied by the root's partition.

    >>> blocks = RegionGraph(scopes=[(0, 1), (2,), (0, 1, 2)],
    ...                      partitions=[[], [], [(0, 1)]], root=2)
    >>> pc = PCDensityEstimator(structure=blocks, n_latents=2, max_iter=2).fit(X)
    """

    scopes: list
    partitions: list
    root: int
    product: str = "hadamard"
    name: str = field(default="custom")

    @property
    def n_regions(self):
        return len(self.scopes)

    @property
    def n_variables(self):
        return len(self.scopes[self.root])

    def is_input(self, r):
        return len(self.partitions[r]) == 0

    def heights(self):
        """Height of each region: 0 for inputs, 1 + the tallest child otherwise."""
        height = np.full(self.n_regions, -1, dtype=np.int64)

        def visit(r):
            if height[r] < 0:
                kids = [c for part in self.partitions[r] for c in part]
                height[r] = 0 if not kids else 1 + max(visit(c) for c in kids)
            return height[r]

        for r in self._topological_order():
            visit(r)
        return height

    def _topological_order(self):
        """Regions children-first, without recursion (trees can be deep)."""
        order, state, stack = [], np.zeros(self.n_regions, dtype=np.int8), [self.root]
        while stack:
            r = stack[-1]
            if state[r] == 0:
                state[r] = 1
                kids = [c for part in self.partitions[r] for c in part]
                if any(state[c] == 1 for c in kids):  # a child still open is an ancestor
                    raise ValueError(f"the region graph has a cycle through region {r}.")
                stack.extend(c for c in kids if state[c] == 0)
            else:
                stack.pop()
                if state[r] == 1:
                    state[r] = 2
                    order.append(r)
        return order

    def validate(self):
        """Check smoothness and decomposability; raise ``ValueError`` naming the region."""
        if self.product not in ("hadamard", "kronecker"):
            raise ValueError(f"product must be 'hadamard' or 'kronecker', got {self.product!r}.")
        reached = set(self._topological_order())
        if len(reached) != self.n_regions:
            missing = sorted(set(range(self.n_regions)) - reached)
            raise ValueError(f"regions {missing[:5]} are not reachable from the root.")
        n_vars = self.n_variables
        if sorted(self.scopes[self.root]) != list(range(n_vars)):
            raise ValueError("the root's scope must be the variables 0..n_variables-1.")
        for r in range(self.n_regions):
            scope = tuple(self.scopes[r])
            if self.is_input(r):
                if len(scope) == 0 or len(set(scope)) != len(scope):
                    raise ValueError(f"input region {r} must hold distinct variables, has {scope}.")
                continue
            for part in self.partitions[r]:
                if self.product == "kronecker" and len(part) not in (1, 2):
                    raise ValueError(f"region {r}: Kronecker partitions need 1 or 2 children.")
                child_vars = [v for c in part for v in self.scopes[c]]
                if len(child_vars) != len(set(child_vars)):
                    raise ValueError(f"region {r}: a partition's children overlap (not decomposable).")
                if sorted(child_vars) != sorted(scope):
                    raise ValueError(f"region {r}: a partition does not cover its scope (not smooth).")
        return self

    def input_regions(self):
        """Ids of the input regions, ordered by their (first) variable, then their size."""
        ids = [r for r in range(self.n_regions) if self.is_input(r)]
        return sorted(ids, key=lambda r: (min(self.scopes[r]), len(self.scopes[r])))
