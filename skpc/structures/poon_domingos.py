"""Poon-Domingos structures (Poon & Domingos, 2011): axis-aligned splits of an image."""

import numpy as np

from skpc.structures.rat import _Builder


def poon_domingos(image_shape, delta=(4, 2)):
    """Region graph of a Poon-Domingos architecture over an image.

    Regions are rectangles of pixels; pixel ``(i, j)`` is variable ``i * width + j``
    (row-major, as ``images.reshape(n, -1)`` lays them out). A rectangle is split along
    either axis at every line that is a multiple of the coarsest step in ``delta`` that
    cuts it; step 1 is always available, so splitting goes down to single pixels. The
    same rectangle reached from several parents is one region (the graph is a DAG).
    Products are Kronecker (outer) products.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width)``; at least 2 pixels.
    delta : int or sequence of int, default=(4, 2)
        Split steps, coarse to fine. Larger steps give fewer regions.

    Returns
    -------
    RegionGraph

    Examples
    --------
    >>> from skpc.structures import poon_domingos
    >>> graph = poon_domingos((8, 8))
    >>> graph.n_variables, graph.n_regions
    (64, 169)
    """
    shape = tuple(int(s) for s in np.atleast_1d(image_shape))
    if len(shape) != 2 or min(shape) < 1 or shape[0] * shape[1] < 2:
        raise ValueError(f"image_shape must be (height, width) with at least 2 pixels, got {image_shape!r}.")
    steps = sorted({int(s) for s in np.atleast_1d(delta)} | {1}, reverse=True)
    if steps[-1] < 1:
        raise ValueError(f"delta must hold positive integers, got {delta!r}.")
    height, width = shape
    builder, ids = _Builder(), {}

    def cuts(lo, hi):
        return [(step, p) for step in steps for p in range(lo + 1, hi) if p % step == 0]

    def region(box):
        """Id of the rectangle ``box = (r0, r1, c0, c1)``, built children first."""
        if box in ids:
            return ids[box]
        r0, r1, c0, c1 = box
        scope = [i * width + j for i in range(r0, r1) for j in range(c0, c1)]
        options = [(s, (r0, p, c0, c1), (p, r1, c0, c1)) for s, p in cuts(r0, r1)]
        options += [(s, (r0, r1, c0, p), (r0, r1, p, c1)) for s, p in cuts(c0, c1)]
        coarsest = max((s for s, _, _ in options), default=None)
        parts = [(region(a), region(b)) for s, a, b in options if s == coarsest]
        ids[box] = builder.add(scope, parts)
        return ids[box]

    root = region((0, height, 0, width))
    return builder.graph(root, "poon_domingos")
