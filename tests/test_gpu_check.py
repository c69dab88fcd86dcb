"""benchmarks/gpu_check.py stays runnable: a small run of it on the strict cupy stand-in.

The script is meant to run unchanged on a GPU machine; this catches an API drift in it
on every CI run (the figures it prints here are meaningless, the agreement is not).
"""

import importlib.util
import re
from pathlib import Path

import skpc.estimator
from tests.strict_backend import StrictBackend

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_gpu_check_runs_on_the_stand_in(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    real = skpc.estimator.get_backend
    fake = lambda device: StrictBackend() if device == "gpu" else real(device)  # noqa: E731
    for module in (skpc.estimator, gpu_check):
        monkeypatch.setattr(module, "get_backend", fake)

    gpu_check.main(["--ks", "4", "--synthetic-rows", "2000"])
    out = capsys.readouterr().out

    difference = float(re.search(r"max relative difference (\S+)", out).group(1))
    assert difference < 1e-4
    fits = re.findall(r"(cpu|gpu) (-\d+\.\d+) / (-\d+\.\d+)", out)
    assert [f[0] for f in fits] == ["cpu", "gpu"] and fits[0][1:] == fits[1][1:]
    assert len(re.findall(r"^\| (plants|synthetic)", out, re.M)) == 2
