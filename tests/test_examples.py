"""Every example in examples/ runs headless and writes its figures."""

import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_writes_figures(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "SKPC_EXAMPLE_FAST": "1", "PYTHONPATH": str(ROOT)}
    # A ConvergenceWarning is an error: no example needs to silence one.
    command = [sys.executable, "-W", "error::sklearn.exceptions.ConvergenceWarning", str(script)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = sorted(tmp_path.glob("*.png"))
    assert figures, f"{script.name} wrote no PNG"
    for png in figures:
        image = matplotlib.image.imread(png)
        # A real figure: not blank (several distinct colours).
        assert image.ndim == 3 and min(image.shape[:2]) >= 200
        assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 10
