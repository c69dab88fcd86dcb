"""The ``skpc`` command line, driven as a subprocess (``python -m skpc``)."""

import gzip
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skpc import PCImputer
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


def _table(n=600, seed=0):
    """Three dependent binary columns a, b, c with about 2% missing entries."""
    rng = np.random.default_rng(seed)
    x0 = rng.random(n) < 0.8
    x1 = np.where(rng.random(n) < 0.9, x0, ~x0)
    x2 = rng.random(n) < 0.3
    X = np.column_stack([x0, x1, x2]).astype(float)
    X[rng.random(X.shape) < 0.02] = np.nan
    return X


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A 3-column binary CSV (header, a few missing values), and a model fitted on it."""
    tmp = tmp_path_factory.mktemp("cli")
    X = _table()
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
    rows = pd.DataFrame(np.load(tmp / "rows.npy"), columns=["a", "b", "c"])
    np.testing.assert_allclose(loaded.score_samples(rows), ll, rtol=1e-7)

    marginals = np.exp(ll[27:])
    n = 4000
    result = skpc("sample", "m.skpc", "-n", n, "-o", "s.csv", "--random-state", 0, cwd=tmp)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(tmp / "s.csv")
    assert list(frame.columns) == ["a", "b", "c"] and all(t == np.int64 for t in frame.dtypes)
    samples = frame.to_numpy()
    assert samples.shape == (n, 3)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    tolerance = 4 * np.sqrt(marginals * (1 - marginals) / n)
    assert np.all(np.abs(samples.mean(axis=0) - marginals) < tolerance)


def test_sample_to_stdout_as_csv(fitted, capsys):
    tmp, _ = fitted
    assert main(["sample", str(tmp / "m.skpc"), "-n", "5"]) == 0
    header, *rows = [line.split(",") for line in capsys.readouterr().out.split()]
    assert header == ["a", "b", "c"]
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


def test_info_names_a_kernel_density_the_search_chose(tmp_path, monkeypatch):
    from sklearn.datasets import make_swiss_roll  # noqa: PLC0415

    from skpc import PCDensityEstimator, _capacity  # noqa: PLC0415

    # The search takes kernels here among the grid's candidates (mixtures grown past it
    # can follow the roll too).
    monkeypatch.setattr(_capacity, "MAX_MIXTURE_SIZE", max(_capacity.MIXTURE_SIZES))
    X = make_swiss_roll(400, noise=0.3, random_state=0)[0]
    pc = PCDensityEstimator(random_state=0).fit(X)
    width = pc.capacity_search_["chosen"]["_kernel_bandwidth"]
    pc.save(tmp_path / "roll.skpc")
    result = skpc("info", "roll.skpc", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("structure"))
    assert line.endswith(f"a kernel density estimate, bandwidth {width:.3g} x Scott's rule")


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
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,inf\n")
    assert_user_error(skpc("fit", "bad.csv", cwd=tmp_path), "'b'", "inf")
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



# -- tables read with pandas, matched by name ---------------------------------------------------------
def _write(path, X, names=("a", "b", "c"), sep=",", marker=lambda i, j: ""):
    """X as CSV text; missing entry (i, j) is written as ``marker(i, j)``."""
    rows = [sep.join(names)] if names else []
    rows += [sep.join(marker(i, j) if np.isnan(v) else str(int(v)) for j, v in enumerate(row))
             for i, row in enumerate(X)]
    text = "\n".join(rows) + "\n"
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        Path(path).write_text(text)


def _scores(tmp, data, *flags, subprocess=False):
    """Per-row scores written by ``skpc score`` (in this process unless ``subprocess``)."""
    argv = ["score", tmp / "m.skpc", tmp / data, "-o", tmp / "ll.npy", *flags]
    if subprocess:
        result = skpc(*argv, cwd=tmp)
        assert result.returncode == 0, result.stderr
    else:
        assert main([str(a) for a in argv]) == 0
    return np.load(tmp / "ll.npy")


@pytest.fixture(scope="module")
def test_rows(fitted):
    tmp, _ = fitted
    X = _table(40, seed=1)
    _write(tmp / "test.csv", X)
    return X, _scores(tmp, "test.csv", subprocess=True)


def test_columns_are_matched_by_name(fitted, test_rows, capsys):
    tmp, _ = fitted
    X, expected = test_rows
    np.testing.assert_array_equal(expected, skpc_load(tmp / "m.skpc").score_samples(
        pd.DataFrame(X, columns=["a", "b", "c"])))
    _write(tmp / "swapped.csv", X[:, [2, 0, 1]], names=("c", "a", "b"))
    # Scored as the original, through the console entry point.
    np.testing.assert_array_equal(_scores(tmp, "swapped.csv", subprocess=True), expected)
    _write(tmp / "renamed.csv", X, names=("a", "b", "z"))
    in_process_error(capsys, ["score", tmp / "m.skpc", tmp / "renamed.csv"], "no column 'c'",
                     "unknown column 'z'", "a, b, c")
    _write(tmp / "wide.csv", np.c_[X, X[:, :1]], names=("a", "b", "c", "d"))
    in_process_error(capsys, ["impute", tmp / "m.skpc", tmp / "wide.csv", "-o", tmp / "x.csv"],
                     "unknown column 'd'")


def test_delimiters_markers_and_gzip(fitted, test_rows):
    tmp, _ = fitted
    X, expected = test_rows
    markers = ["", "NA", "N/A", "null", "None", "nan", "?"]
    variants = {
        "semi.csv": dict(sep=";"),
        "tab.tsv": dict(sep="\t"),
        "markers.csv": dict(marker=lambda i, j: markers[(i + j) % len(markers)]),
        "packed.csv.gz": dict(sep=";"),
    }
    for name, kwargs in variants.items():
        _write(tmp / name, X, **kwargs)
        scores = _scores(tmp, name, subprocess=name == "semi.csv")
        np.testing.assert_array_equal(scores, expected, err_msg=name)
    _write(tmp / "dash.csv", X, marker=lambda i, j: "-")
    np.testing.assert_array_equal(_scores(tmp, "dash.csv", "--na-values", "-"), expected)
    _write(tmp / "pipe.csv", X, sep="|")
    np.testing.assert_array_equal(_scores(tmp, "pipe.csv", "--delimiter", "|"), expected)


def test_a_pandas_index_column_is_dropped_with_a_note(fitted, test_rows):
    tmp, _ = fitted
    X, expected = test_rows
    pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(100, 140)).to_csv(tmp / "indexed.csv")
    result = skpc("score", "m.skpc", "indexed.csv", "-o", "ll.npy", cwd=tmp)
    assert result.returncode == 0, result.stderr
    assert "first column of 'indexed.csv' has no name" in result.stderr and "Traceback" not in result.stderr
    np.testing.assert_array_equal(np.load(tmp / "ll.npy"), expected)


def test_a_file_without_header_is_matched_by_position(fitted, test_rows, capsys):
    tmp, _ = fitted
    X, expected = test_rows
    _write(tmp / "bare.csv", X, names=None)
    np.testing.assert_array_equal(_scores(tmp, "bare.csv"), expected)
    assert capsys.readouterr().err == ""  # no warning about missing names: position is all there is
    # --header yes takes the first row as names: they are not the model's.
    in_process_error(capsys, ["score", tmp / "m.skpc", tmp / "bare.csv", "--header", "yes"], "no column 'a'")


def test_impute_without_output_writes_the_same_table_to_stdout(fitted):
    tmp, _ = fitted
    X = _table(30, seed=3)
    X[::3, 0] = np.nan
    _write(tmp / "gaps.csv", X, sep=",", marker=lambda i, j: "")
    to_file = skpc("impute", "m.skpc", "gaps.csv", "-o", "gaps_filled.csv", cwd=tmp)
    to_stdout = skpc("impute", "m.skpc", "gaps.csv", cwd=tmp)
    assert to_file.returncode == 0 and to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout == (tmp / "gaps_filled.csv").read_text()  # the CSV alone on stdout
    assert f"filled {int(np.isnan(X).sum())} missing entries" in to_stdout.stderr


def test_impute_fills_missing_entries_and_keeps_the_rest(fitted):
    tmp, _ = fitted
    X = _table(60, seed=2)
    X[::4, 1] = np.nan
    _write(tmp / "holes.csv", X, sep=";", marker=lambda i, j: "NA")
    result = skpc("impute", "m.skpc", "holes.csv", "-o", "filled.csv", cwd=tmp)
    assert result.returncode == 0, result.stderr
    assert f"filled {int(np.isnan(X).sum())} missing entries (mode)" in result.stdout
    text = (tmp / "filled.csv").read_text().splitlines()
    assert text[0] == "a;b;c"  # the header and the delimiter of the input
    filled = pd.read_csv(tmp / "filled.csv", sep=";")
    assert all(t == np.int64 for t in filled.dtypes)
    seen = ~np.isnan(X)
    np.testing.assert_array_equal(filled.to_numpy()[seen], X[seen])
    # Mode: each missing entry takes its most probable value given its row's observed entries.
    model = skpc_load(tmp / "m.skpc")
    proba = model.conditional_marginals(pd.DataFrame(X, columns=["a", "b", "c"]))
    np.testing.assert_array_equal(filled.to_numpy()[~seen], proba.argmax(axis=2)[~seen])
    assert main(["impute", str(tmp / "m.skpc"), str(tmp / "holes.csv"), "-o", str(tmp / "drawn.csv"),
                 "--strategy", "sample", "--random-state", "3"]) == 0
    drawn = pd.read_csv(tmp / "drawn.csv", sep=";").to_numpy()
    np.testing.assert_array_equal(drawn[seen], X[seen])
    assert set(np.unique(drawn)) <= {0, 1}
    # Mean: fractional values in the holes (not truncated to a category); observed text as read.
    assert main(["impute", str(tmp / "m.skpc"), str(tmp / "holes.csv"), "-o", str(tmp / "mean.csv"),
                 "--strategy", "mean"]) == 0
    means = pd.read_csv(tmp / "mean.csv", sep=";").to_numpy()
    expected = model.conditional_mean(pd.DataFrame(X, columns=["a", "b", "c"])).to_numpy()
    np.testing.assert_allclose(means[~seen], expected[~seen], rtol=1e-6)
    assert np.any(np.mod(means[~seen], 1) != 0)
    lines = (tmp / "mean.csv").read_text().splitlines()[1:]
    for row, line in zip(X, lines, strict=True):
        for v, text in zip(row, line.split(";"), strict=True):
            assert np.isnan(v) or text == str(int(v))


def test_fit_options_leaf_n_categories_early_stopping(fitted, monkeypatch, capsys):
    tmp, _ = fitted
    monkeypatch.chdir(tmp)
    quick = ["--n-latents", "2", "--max-iter", "2", "-q"]
    assert main(["fit", "train.csv", "-o", "g.skpc", "--leaf", "gaussian", *quick]) == 0
    assert skpc_load("g.skpc").leaf_types_.tolist() == ["gaussian"] * 3
    assert main(["fit", "train.csv", "-o", "l.skpc", "--leaf", "c=gaussian,a=categorical,b=categorical",
                 *quick]) == 0
    assert skpc_load("l.skpc").leaf_types_.tolist() == ["categorical", "categorical", "gaussian"]
    assert main(["fit", "train.csv", "-o", "k.skpc", "--n-categories", "4", *quick]) == 0
    assert skpc_load("k.skpc").n_categories_.tolist() == [4, 4, 4]
    assert main(["fit", "train.csv", "-o", "e.skpc", "--early-stopping", *quick]) == 0
    assert len(skpc_load("e.skpc").history_["valid_loglik"]) == 2
    capsys.readouterr()
    assert main(["info", "e.skpc"]) == 0
    out = capsys.readouterr().out
    assert "valid log-lik" in out and "a (categorical, 2 levels), b (categorical, 2 levels)" in out
    in_process_error(capsys, ["fit", "train.csv", "--leaf", "gaussian,gaussian", *quick],
                     "--leaf has 2 values")
    in_process_error(capsys, ["fit", "train.csv", "--leaf", "a=gaussian", *quick], "missing ['b', 'c']")
    in_process_error(capsys, ["fit", "train.csv", "--n-categories", "many", *quick], "'many'")


def test_defaults_are_the_estimators():
    from skpc import PCDensityEstimator, PCImputer
    from skpc.cli import build_parser

    args = build_parser().parse_args(["fit", "data.csv"])
    params = PCDensityEstimator().get_params()
    for name in ("structure", "solver", "n_latents", "batch_size", "step_size", "max_iter", "random_state",
                 "device", "dtype", "early_stopping"):
        assert getattr(args, name) == params[name], name
    assert build_parser().parse_args(["impute", "m", "d", "-o", "o"]).strategy == PCImputer().strategy


def test_an_unwritable_output_fails_at_once(fitted, capsys):
    tmp, _ = fitted
    big = np.random.default_rng(0).integers(0, 2, size=(20000, 3)).astype(float)
    _write(tmp / "big.csv", big)
    start = time.perf_counter()
    in_process_error(capsys, ["fit", tmp / "big.csv", "-o", "/nonexistent/m.skpc"], "/nonexistent",
                     "no directory")
    assert time.perf_counter() - start < 1.0
    for argv in (["score", tmp / "m.skpc", tmp / "big.csv", "-o", tmp],
                 ["impute", tmp / "m.skpc", tmp / "big.csv", "-o", "/nonexistent/f.csv"],
                 ["sample", tmp / "m.skpc", "-o", "/nonexistent/s.csv"]):
        start = time.perf_counter()
        in_process_error(capsys, argv, "cannot write")
        assert time.perf_counter() - start < 1.0
    result = skpc("fit", "big.csv", "-o", "/nonexistent/m.skpc", cwd=tmp)
    assert_user_error(result, "no directory")
    assert "fitting" not in result.stdout


def test_no_traceback_on_bad_input(fitted, tmp_path, capsys):
    tmp, _ = fitted
    model = tmp / "m.skpc"
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b,c\n")
    (tmp_path / "short.csv").write_text("a,b,c\n1,0,1\n1,0\n")
    (tmp_path / "long.csv").write_text("a,b,c\n1,0,1\n1,0,1,1\n")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    imputer = PCImputer(n_latents=2, max_iter=1).fit(_table(50))
    imputer.save(tmp_path / "imputer.skpc")
    assert_user_error(skpc("fit", "short.csv", cwd=tmp_path), "line 3", "2 fields, expected 3")
    cases = [
        (["fit", tmp_path / "empty.csv"], "no data rows"),
        (["fit", tmp_path / "header.csv"], "no data rows"),
        (["score", model, tmp_path / "long.csv"], "cannot read"),
        (["fit", tmp_path / "binary.csv"], "binary.csv"),
        (["fit", tmp_path], "does not exist"),
        (["score", tmp_path / "imputer.skpc", tmp_path / "header.csv"], "holds a PCImputer"),
        (["impute", model, tmp_path / "short.csv"], "line 3"),
        (["fit", "nltcs", "--leaf", "a=gaussian"], "needs a CSV file with a header"),
    ]
    for argv, fragment in cases:
        in_process_error(capsys, argv, fragment)


def test_a_string_column_through_fit_score_sample_and_impute(tmp_path):
    """A real CSV: a string column, an integer column, a real one, missing values."""
    rng = np.random.default_rng(0)
    n = 300
    city = rng.choice(["Paris", "Lyon", "Nice"], n)
    kids = np.where(city == "Paris", rng.integers(0, 2, n), rng.integers(1, 4, n))
    height = rng.normal(170, 8, n)
    frame = pd.DataFrame({"city": city, "kids": kids, "height": height.round(1)})
    frame.to_csv(tmp_path / "people.csv", index=False)
    holes = frame.head(20).astype(object)
    holes.loc[::2, "city"] = "NA"
    holes.loc[1::3, "height"] = ""
    holes.to_csv(tmp_path / "holes.csv", index=False)
    result = skpc("fit", "people.csv", "-o", "m.skpc", "--n-latents", 4, "--max-iter", 3, "--random-state", 0,
                  cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    model = skpc_load(tmp_path / "m.skpc")
    assert model.leaf_types_.tolist() == ["categorical", "categorical", "gaussian"]
    assert model.columns_.levels[0].tolist() == ["Lyon", "Nice", "Paris"]
    # score matches the model's own score of the same table, columns in another order
    frame[["height", "city", "kids"]].to_csv(tmp_path / "swapped.csv", index=False)
    result = skpc("score", "m.skpc", "swapped.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{model.score(frame):.4f}" in result.stdout
    # sample writes the strings and a header
    result = skpc("sample", "m.skpc", "-n", 50, "-o", "s.csv", "--random-state", 1, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    samples = pd.read_csv(tmp_path / "s.csv")
    assert list(samples.columns) == ["city", "kids", "height"]
    assert set(samples["city"]) <= {"Paris", "Lyon", "Nice"} and samples["kids"].dtype == np.int64
    # impute fills the NA city and the empty heights, and keeps every observed field as read
    result = skpc("impute", "m.skpc", "holes.csv", "-o", "filled.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    filled = pd.read_csv(tmp_path / "filled.csv")
    assert not filled.isna().any().any()
    assert set(filled["city"]) <= {"Paris", "Lyon", "Nice"}
    kept = holes["city"] != "NA"
    assert (filled.loc[kept, "city"] == frame.head(20).loc[kept, "city"]).all()
    assert (filled["kids"] == frame.head(20)["kids"]).all()
