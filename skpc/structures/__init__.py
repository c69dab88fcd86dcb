"""Structures: builders of region graphs. They never touch the engine."""

from skpc.structures.hclt import chow_liu_tree, hclt, mutual_information
from skpc.structures.hclt_mixture import hclt_mixture
from skpc.structures.region_graph import RegionGraph

__all__ = ["RegionGraph", "chow_liu_tree", "hclt", "hclt_mixture", "mutual_information"]
