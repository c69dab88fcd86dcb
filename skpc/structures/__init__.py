"""Structures: builders of region graphs. They never touch the engine."""

from skpc.structures.hclt import chow_liu_tree, hclt, mutual_information
from skpc.structures.hclt_mixture import hclt_mixture
from skpc.structures.mixture import mixture
from skpc.structures.poon_domingos import poon_domingos
from skpc.structures.rat import rat_spn
from skpc.structures.region_graph import RegionGraph

__all__ = [
    "RegionGraph", "chow_liu_tree", "hclt", "hclt_mixture", "mixture", "mutual_information", "poon_domingos",
    "rat_spn",
]
