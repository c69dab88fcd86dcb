"""The ``skpc`` command line, driven as a subprocess (``python -m skpc``)."""

import itertools
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skpc import load as skpc_load
from skpc.cli import main
from skpc.datasets import load_debd

ROOT = Path(__file__).resolve().parents[1]


def skpc(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "skpc", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True
    )


def assert_user_error(result, *fragments):
    """A user mistake: non-zero exit, one ``skpc: error:`` line on stderr, no traceback."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("skpc: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def number_after(label, text):
    return float(re.search(rf"{label}\s+(-?\d+\.\d+)", text).group(1))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A 3-column binary CSV (header, a few missing values), and a model fitted on it."""
    tmp = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    x0 = rng.random(600) < 0.8
    x1 = np.where(rng.random(600) < 0.9, x0, ~x0)
    x2 = rng.random(600) < 0.3
    X = np.column_stack([x0, x1, x2]).astype(float)
    X[rng.random(X.shape) < 0.02] = np.nan
    lines = ["a,b,c"] + [",".join("" if np.isnan(v) else str(int(v)) for v in row) for row in X]
    (tmp / "train.csv").write_text("\n".join(lines) + "\n")
    result = skpc(
        "fit", "train.csv", "-o", "m.skpc", "--n-latents", 4, "--max-iter", 15, "--dtype", "float64", cwd=tmp
    )
    assert result.returncode == 0, result.stderr
    return tmp, result


def test_fit_reports_progress_and_writes_model(fitted):
    tmp, result = fitted
    assert (tmp / "m.skpc").is_file()
    epochs = re.findall(r"epoch\s+(\d+)/15 .* left\)", result.stdout)
    assert epochs and [int(e) for e in epochs] == list(range(1, len(epochs) + 1))
    assert "600 rows, 3 columns" in result.stdout


def test_score_is_normalised_and_sampling_matches_marginals(fitted):
    tmp, _ = fitted
    # All 27 joint states of the levels 0, 1 and the unseen value 2, then one query per
    # column whose other entries are missing: the exact marginal p(x_j = 1).
    states = np.array(list(itertools.product([0, 1, 2], repeat=3)), dtype=float)
    queries = np.full((3, 3), np.nan)
    np.fill_diagonal(queries, 1.0)
    np.save(tmp / "rows.npy", np.vstack([states, queries]))
    result = skpc("score", "m.skpc", "rows.npy", "-o", "ll.csv", cwd=tmp)
    assert result.returncode == 0, result.stderr
    ll = np.loadtxt(tmp / "ll.csv")
    assert ll.shape == (30,)
    assert np.exp(ll[:27]).sum() == pytest.approx(1.0, abs=1e-6)
    assert number_after("mean log-likelihood", result.stdout) == pytest.approx(ll.mean(), abs=1e-4)
    # The model file is a regular skpc model file: loaded in Python it scores the same.
    loaded = skpc_load(tmp / "m.skpc")
    np.testing.assert_allclose(loaded.score_samples(np.load(tmp / "rows.npy")), ll, rtol=1e-7)

    marginals = np.exp(ll[27:])
    n = 4000
    result = skpc("sample", "m.skpc", "-n", n, "-o", "s.csv", "--random-state", 0, cwd=tmp)
    assert result.returncode == 0, result.stderr
    samples = np.loadtxt(tmp / "s.csv", delimiter=",")
    assert samples.shape == (n, 3)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    tolerance = 4 * np.sqrt(marginals * (1 - marginals) / n)
    assert np.all(np.abs(samples.mean(axis=0) - marginals) < tolerance)


def test_sample_to_stdout_as_csv(fitted, capsys):
    tmp, _ = fitted
    assert main(["sample", str(tmp / "m.skpc"), "-n", "5"]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.split()]
    assert len(rows) == 5 and all(len(r) == 3 and set(r) <= {"0", "1"} for r in rows)


def test_info_describes_the_model(fitted):
    tmp, _ = fitted
    result = skpc("info", "m.skpc", cwd=tmp)
    assert result.returncode == 0, result.stderr
    assert re.search(r"features\s+3 \(3 categorical, 0 gaussian\)", result.stdout)
    assert re.search(r"n_latents\s+4\b", result.stdout)
    # HCLT over d binary variables with k latents: 3k leaf probabilities per variable (the
    # two levels and "unseen"), a k x k block per tree edge (d - 1 edges), and k root weights.
    d, k = 3, 4
    n_params = int(re.search(r"parameters\s+([\d,]+)", result.stdout).group(1).replace(",", ""))
    assert n_params == 3 * d * k + (d - 1) * k * k + k


def test_demo_beats_independent_baseline(tmp_path):
    result = skpc("demo", "--max-iter", 3, "--n-latents", 4, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    X, X_test = load_debd("nltcs"), load_debd("nltcs", "test")
    p = X.mean(axis=0)
    independent = np.mean(np.log(np.where(X_test == 1, p, 1 - p)).sum(axis=1))
    shown = number_after("independent variables", result.stdout)
    assert shown == pytest.approx(independent, abs=1e-3)
    assert number_after("skpc hclt circuit", result.stdout) > shown + 2


def test_interrupted_fit_writes_last_complete_epoch(tmp_path):
    command = [
        sys.executable,
        "-m",
        "skpc",
        "fit",
        "nltcs",
        "--max-iter",
        "500",
        "--n-latents",
        "4",
        "-o",
        "i.skpc",
    ]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # Ctrl-C is not ignored
    )
    # Interrupt after the second epoch line: the first epoch's checkpoint is then certainly taken.
    epoch_lines = (line for line in proc.stdout if line.startswith("epoch"))
    next(epoch_lines), next(epoch_lines)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
    epoch = int(re.search(r"model after epoch (\d+) was written", err).group(1))
    model = skpc_load(tmp_path / "i.skpc")
    assert epoch >= 1 and model.n_iter_ == epoch and len(model.history_["train_loglik"]) == epoch


def test_bundled_dataset_with_split(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "nltcs:valid", "-o", "v.npz", "--n-latents", "2", "--max-iter", "1", "-q"]) == 0
    out = capsys.readouterr().out
    assert f"{load_debd('nltcs', 'valid').shape[0]} rows, 16 columns" in out
    assert not re.search(r"epoch\s+1/1", out)
    assert (tmp_path / "v.npz").is_file()


# Mistakes: each kind once as a subprocess, the variants in-process (same code path, faster).
def in_process_error(capsys, argv, *fragments):
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert_user_error(subprocess.CompletedProcess(argv, status, "", err), *fragments)


def test_bad_path(tmp_path, capsys):
    assert_user_error(skpc("fit", "missing.csv", cwd=tmp_path), "missing.csv", "does not exist")
    in_process_error(capsys, ["info", tmp_path / "missing.npz"], "missing.npz", "does not exist")
    in_process_error(capsys, ["score", tmp_path / "missing.npz", "nltcs"], "does not exist")


def test_bad_files(fitted, tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n")
    assert_user_error(skpc("fit", "bad.csv", cwd=tmp_path), "line 3, column 1", "'oops'")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    in_process_error(capsys, ["fit", tmp_path / "ragged.csv"], "line 2")
    np.save(tmp_path / "flat.npy", np.zeros(4))
    in_process_error(capsys, ["fit", tmp_path / "flat.npy"], "2-D")
    in_process_error(capsys, ["score", tmp_path / "bad.csv", "nltcs"], "is not a valid skpc model file")
    # Data that does not match the model: 16 columns against a 3-column model.
    in_process_error(capsys, ["score", fitted[0] / "m.skpc", "nltcs"], "16 features")
    in_process_error(capsys, ["fit", "nltcs:tset"], "'tset'")


def test_bad_flags(tmp_path, capsys):
    assert_user_error(skpc("fit", "nltcs", "--bogus", cwd=tmp_path), "--bogus")
    in_process_error(capsys, ["fit", "nltcs", "--n-latents", "many"], "--n-latents", "'many'")
    in_process_error(capsys, ["fit", "nltcs", "--solver", "sgd"], "'sgd'")
    in_process_error(capsys, ["fit", "nltcs", "--step-size", 3], "step_size")
    in_process_error(capsys, ["sample", "x.npz", "-n", "lots"], "'lots'")
    in_process_error(capsys, ["frobnicate"], "frobnicate")
