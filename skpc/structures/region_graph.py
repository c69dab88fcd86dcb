"""Region graphs: the structure of a circuit, before any units or parameters exist."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RegionGraph:
    """A rooted DAG of regions (sets of variables) and their partitions.

    A region with no partitions is an *input region*: it holds one variable and becomes
    a layer of input units. Every other region becomes sum units that mix the products
    of its partitions. A partition is a tuple of child region ids whose scopes are
    disjoint and cover the region's scope; a partition with a single child is allowed
    (it mixes the child's units, as HCLT's leaf latents do).

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
        the same number of units) or as an outer product (two children).
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
                if len(scope) != 1:
                    raise ValueError(f"input region {r} must hold one variable, has {scope}.")
                continue
            for part in self.partitions[r]:
                if self.product == "kronecker" and len(part) != 2:
                    raise ValueError(f"region {r}: Kronecker partitions need 2 children.")
                child_vars = [v for c in part for v in self.scopes[c]]
                if len(child_vars) != len(set(child_vars)):
                    raise ValueError(f"region {r}: a partition's children overlap (not decomposable).")
                if sorted(child_vars) != sorted(scope):
                    raise ValueError(f"region {r}: a partition does not cover its scope (not smooth).")
        return self

    def input_regions(self):
        """Ids of the input regions, ordered by their variable."""
        ids = [r for r in range(self.n_regions) if self.is_input(r)]
        return sorted(ids, key=lambda r: self.scopes[r][0])
