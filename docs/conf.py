"""Sphinx configuration of the skpc documentation.

Build (from the repository root; warnings are errors)::

    python -m sphinx -W -b html docs docs/_build/html

Add ``-D plot_gallery=0`` to skip running the examples for a quick build.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import skpc  # noqa: E402

project = "skpc"
author = "the skpc developers"
copyright = "the skpc developers"
release = version = skpc.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
autosummary_generate = True
# set_score_request: scikit-learn adds it to classifiers (metadata routing); its docstring
# refers to scikit-learn's own docs.
autodoc_default_options = {
    "members": True, "inherited-members": False, "exclude-members": "set_score_request",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}

templates_path = []
exclude_patterns = ["_build", "README.md", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_title = f"skpc {release}"
html_theme_options = {"navigation_with_keys": False}
