"""Hidden Chow-Liu trees (Liu & Van den Broeck, 2021) as region graphs."""

import numpy as np
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree, shortest_path
from scipy.special import xlogy

from skpc.structures.region_graph import RegionGraph


def _discretise(X, n_categories, n_bins=16):
    """Integer codes per column; continuous columns are binned by quantiles. NaN stays -1."""
    codes = np.full(X.shape, -1, dtype=np.int64)
    levels = np.empty(X.shape[1], dtype=np.int64)
    for j in range(X.shape[1]):
        col = X[:, j]
        seen = ~np.isnan(col)
        if n_categories is not None and n_categories[j] > 0:
            codes[seen, j] = col[seen].astype(np.int64)
            levels[j] = n_categories[j]
        else:
            edges = np.unique(np.nanquantile(col, np.linspace(0, 1, n_bins + 1)[1:-1])) if seen.any() else []
            codes[seen, j] = np.searchsorted(edges, col[seen])
            levels[j] = len(edges) + 1
    return codes, levels


def mutual_information(X, n_categories=None, alpha=0.01, chunk_size=65536):
    """Pairwise mutual information of the columns of ``X`` from Laplace-smoothed counts.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data; NaN entries are skipped pair by pair.
    n_categories : ndarray of int or None
        Number of categories per column, or 0 (or None for all) for a continuous column,
        which is binned by quantiles.
    alpha : float
        Pseudocount spread over the cells of each pairwise table.
    chunk_size : int
        Rows per chunk of the count accumulation (memory stays bounded).

    Returns
    -------
    mi : ndarray of shape (n_features, n_features)
        Symmetric, zero on the diagonal.
    """
    n, d = X.shape
    codes, levels = _discretise(np.asarray(X, dtype=np.float64), n_categories)
    offsets = np.concatenate([[0], np.cumsum(levels)])
    counts = np.zeros((offsets[-1], offsets[-1]))
    for start in range(0, n, chunk_size):
        block = codes[start : start + chunk_size]
        onehot = np.zeros((block.shape[0], offsets[-1]), dtype=np.float32)
        rows, cols = np.nonzero(block >= 0)
        onehot[rows, offsets[cols] + block[rows, cols]] = 1.0
        counts += (onehot.T @ onehot).astype(np.float64)
    # Each pairwise table is a block of ``counts``; the blocks' sums run as segment sums
    # (reduceat over the columns' level offsets), a band of rows at a time. No padding of
    # the columns to the largest number of levels: one column of many levels (an ID-like
    # string column) would make that (d, d, L, L) a thousand times larger.
    starts = offsets[:-1]
    column = np.repeat(np.arange(d), levels)  # the column of each level
    n_pair = np.add.reduceat(np.add.reduceat(counts, starts, axis=0), starts, axis=1)  # (d, d)
    mi = np.zeros((d, d))
    band = max(1, int(2e7 // offsets[-1]))  # levels per band of rows
    i0 = 0
    while i0 < d:
        i1 = max(i0 + 1, int(np.searchsorted(offsets, offsets[i0] + band, side="right")) - 1)
        i1 = min(i1, d)
        rows = slice(offsets[i0], offsets[i1])
        smooth = alpha / np.outer(levels[column[rows]], levels[column])  # alpha over each table's cells
        joint = (counts[rows] + smooth) / (n_pair[column[rows]][:, column] + alpha)
        local = starts[i0:i1] - offsets[i0]
        pi = np.add.reduceat(joint, starts, axis=1)  # (band levels, d): row marginals per table
        pj = np.add.reduceat(joint, local, axis=0)  # (band columns, levels): column marginals
        # xlogy(p, p) is p log p, 0 at 0.
        mi[i0:i1] = (np.add.reduceat(np.add.reduceat(xlogy(joint, joint), local, axis=0), starts, axis=1)
                     - np.add.reduceat(xlogy(pi, pi), local, axis=0)
                     - np.add.reduceat(xlogy(pj, pj), starts, axis=1))
        i0 = i1
    np.fill_diagonal(mi, 0.0)
    return mi


def chow_liu_tree(mi):
    """Maximum spanning tree of ``mi``, rooted at its centre.

    Returns
    -------
    parent : ndarray of int
        ``parent[v]`` is v's parent, -1 for the root.
    root : int
    """
    d = mi.shape[0]
    if d == 1:
        return np.array([-1]), 0
    # csgraph reads 0 as "no edge": shift every weight to be positive before the MST.
    cost = (mi.max() - mi) + 1.0
    np.fill_diagonal(cost, 0.0)
    tree = minimum_spanning_tree(cost)
    tree = ((tree + tree.T) > 0).astype(np.float64)
    hops = shortest_path(tree, unweighted=True, directed=False)
    root = int(np.argmin(hops.max(axis=1)))  # the centre: smallest eccentricity
    _, predecessors = breadth_first_order(tree, root, directed=False)
    parent = np.where(predecessors < 0, -1, predecessors)
    parent[root] = -1
    return parent.astype(np.int64), root


def hclt(X, n_categories=None, alpha=0.01):
    """Build the region graph of a hidden Chow-Liu tree over the columns of ``X``.

    Each variable ``v`` gets an input region ``{v}`` and a region for its subtree whose
    single partition is (input of v, subtrees of v's children). With the Hadamard
    product and k units per region, this is HCLT: a latent with k states per variable,
    a k x k weight block per tree edge, and one sum at the root.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_categories : ndarray of int or None
        Categories per column (0 for continuous columns).
    alpha : float
        Pseudocount of the mutual-information estimate.

    Returns
    -------
    RegionGraph
    """
    d = X.shape[1]
    parent, root = chow_liu_tree(mutual_information(X, n_categories, alpha))
    children = [[] for _ in range(d)]
    for v in range(d):
        if parent[v] >= 0:
            children[parent[v]].append(v)
    # Region ids: input region of v is v; subtree region of v is d + v.
    scopes = [(v,) for v in range(d)] + [None] * d
    partitions = [[] for _ in range(d)] + [None] * d
    order = _postorder(children, root)
    for v in order:
        scope = [v] + [u for c in children[v] for u in scopes[d + c]]
        scopes[d + v] = tuple(sorted(scope))
        partitions[d + v] = [(v, *(d + c for c in children[v]))]
    return RegionGraph(scopes, partitions, root=d + root, product="hadamard", name="hclt")


def _postorder(children, root):
    order, stack = [], [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
        else:
            stack.append((v, True))
            stack.extend((c, False) for c in children[v])
    return order
