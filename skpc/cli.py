"""The ``skpc`` command line: fit, score, sample, impute and inspect probabilistic circuits.

Run ``skpc --help`` (or ``python -m skpc --help``) for the subcommands. Mistakes (a
missing file, unreadable data, a bad flag) print one ``skpc: error: ...`` line on stderr
and exit with a non-zero status. Tables are read and written with pandas; the
estimator's own checks see the table as read (names included), and every default of a
model option is the estimator's.
"""

import argparse
import contextlib
import csv
import gzip
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES
from sklearn.utils._param_validation import StrOptions

from skpc import PCDensityEstimator, PCImputer, __version__
from skpc import io as skpc_io
from skpc.datasets import DEBD, REFERENCE_TEST_LL, load_debd
from skpc.solvers import SOLVERS

#: Missing-value markers of a CSV file: pandas' defaults (empty, NA, N/A, null, None, nan ...)
#: and "?"; ``--na-values`` adds more.
NA_VALUES = ("?",)
_DELIMITERS = ",;\t|"
_DEFAULTS = PCDensityEstimator().get_params()


class CLIError(Exception):
    """A user mistake: reported as one line, never as a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless it is None or False (nothing worth saying)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _note(message):
    print(f"skpc: {message}", file=sys.stderr)


# -- model files ------------------------------------------------------------------------------
def _load_model(path, device="cpu"):
    if not Path(path).is_file():
        raise CLIError(f"model file {str(path)!r} does not exist")
    with _warnings_as_lines():
        model = skpc_io.load(path, device=device)  # a bad file raises ModelFileError, a ValueError
    if not isinstance(model, PCDensityEstimator):
        raise CLIError(f"{str(path)!r} holds a {type(model).__name__}; the command line reads the "
                       "models 'skpc fit' writes (PCDensityEstimator)")
    return model


@contextlib.contextmanager
def _warnings_as_lines():
    """Report warnings raised inside the block as one ``skpc: warning:`` line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        _note(f"warning: {w.message}")


def _check_writable(path, what):
    """Fail now, before any work, when ``path`` cannot be written."""
    path = Path(path)
    directory = path.parent
    if path.is_dir():
        raise CLIError(f"cannot write the {what} {str(path)!r}: it is a directory")
    if not directory.is_dir():
        raise CLIError(f"cannot write the {what} {str(path)!r}: no directory {str(directory)!r}")
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".skpc-")
        os.close(fd)
        os.unlink(probe)
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise CLIError(f"cannot write the {what} {str(path)!r}: {exc.strerror or exc}") from exc


# -- data files -------------------------------------------------------------------------------
def load_data(source, split="train", delimiter=None, na_values=(), header="auto"):
    """Read a table from a CSV file, an NPY file or a bundled data set name.

    Parameters
    ----------
    source : str
        A path to ``.npy``, a path to CSV text (optionally ``.gz``), or a name from
        :data:`skpc.datasets.DEBD`, optionally with a split: ``nltcs:test``.
    split : {"train", "valid", "test"}, default="train"
        Split of a bundled data set named without one.
    delimiter : str or None, default=None
        The CSV field separator; ``None`` detects ``,``, ``;``, tab or ``|``.
    na_values : sequence of str, default=()
        Missing-value markers on top of :data:`NA_VALUES` and pandas' defaults.
    header : {"auto", "yes", "no"}, default="auto"
        Whether the first CSV line holds column names; ``"auto"``: unless every field
        of it is a number or a missing-value marker.

    Returns
    -------
    X : pandas.DataFrame or ndarray
        A CSV file gives a DataFrame (with its column names when it has a header, and
        without the index column that ``DataFrame.to_csv`` writes); the others give a
        float64 array.
    """
    name, _, named_split = source.partition(":")
    if name in DEBD and not Path(source).exists():
        split = named_split or split
        if split not in ("train", "valid", "test"):
            raise CLIError(f"unknown split {split!r} in {source!r}; use train, valid or test")
        return load_debd(name, split)
    path = Path(source)
    if not path.is_file():
        raise CLIError(f"data file {source!r} does not exist (bundled data sets: {', '.join(DEBD)})")
    if path.suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise CLIError(f"cannot read {source!r} as NPY: {exc}") from exc
        if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
            raise CLIError(f"{source!r} must hold a 2-D numeric array, got shape {X.shape} of {X.dtype}")
        return X.astype(np.float64)
    return _read_csv(path, source, delimiter, list(NA_VALUES) + list(na_values), header)


def _lines(path):
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", newline="")


def _read_csv(path, source, delimiter, na_values, header):
    markers = set(STR_NA_VALUES) | set(na_values)
    try:
        with _lines(path) as f:
            head = f.read(65536)
            if delimiter is None:
                try:
                    delimiter = csv.Sniffer().sniff(head, delimiters=_DELIMITERS).delimiter
                except csv.Error:  # one column, or nothing to go by
                    delimiter = ","
        if header == "auto":
            first = next(csv.reader(head.splitlines()[:1], delimiter=delimiter), [])
            header = "no" if all(_is_number(v, markers) for v in first) else "yes"
        frame = pd.read_csv(
            path, sep=delimiter, header=0 if header == "yes" else None, na_values=na_values,
            skipinitialspace=True, compression="infer",
        )
    except pd.errors.EmptyDataError:
        raise CLIError(f"{source!r} holds no data rows") from None
    except (OSError, UnicodeDecodeError, csv.Error, pd.errors.ParserError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CLIError(f"cannot read {source!r} as CSV: {message}") from exc
    if frame.shape[0] == 0:
        raise CLIError(f"{source!r} holds no data rows")
    if frame.iloc[:, -1].isna().any():  # a short row would have left it missing
        _check_widths(path, source, delimiter, frame.shape[1])
    if header == "yes" and str(frame.columns[0]).startswith("Unnamed: 0"):
        # DataFrame.to_csv writes the index first, under an empty name.
        _note(f"the first column of {source!r} has no name: it is taken as the index that "
              "pandas writes and is not used (give it a name to use it)")
        frame = frame.iloc[:, 1:]
    if header == "no":
        frame.columns = range(frame.shape[1])
    frame.attrs["delimiter"] = delimiter  # impute writes the format it read
    return frame


def _check_widths(path, source, delimiter, width):
    """pandas fills a short row with missing values: make it an error instead."""
    with _lines(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        for row in reader:
            if row and len(row) != width:
                raise CLIError(f"{source!r}, line {reader.line_num}: {len(row)} fields, expected {width}")


def _is_number(value, markers):
    value = value.strip()
    if value in markers:
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def _has_names(X):
    return isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns)


def _matched(est, X, source):
    """``X`` with the model's columns in the model's order (by name when both have names)."""
    names = getattr(est, "feature_names_in_", None)
    X = X if _has_names(X) or not isinstance(X, pd.DataFrame) else X.to_numpy()
    if names is None:
        return X.to_numpy() if isinstance(X, pd.DataFrame) else X
    if not _has_names(X):  # no names to go by: the columns in the model's order
        return pd.DataFrame(X, columns=names) if X.ndim == 2 and X.shape[1] == len(names) else X
    names = list(names)
    missing = [n for n in names if n not in X.columns]
    extra = [c for c in X.columns if c not in set(names)]
    if missing or extra:
        parts = ([f"no column {', '.join(map(repr, missing))}"] if missing else []) + (
            [f"the unknown column {', '.join(map(repr, extra))}"] if extra else [])
        raise CLIError(f"{source!r} has {' and '.join(parts)}; the model's columns are {', '.join(names)}")
    return X[names]


def _column_names(est):
    names = getattr(est, "feature_names_in_", None)
    return list(names) if names is not None else [f"x{j}" for j in range(est.n_features_in_)]


def _as_table(values, est):
    """Values from the model as a DataFrame with its column names, in the types the model
    returned (strings, integers and booleans as they are); categories whose values are
    whole numbers as integers, other numbers in the model's floating-point type (written
    with the digits it holds)."""
    if isinstance(values, pd.DataFrame):
        frame = values.copy()
    else:
        frame = pd.DataFrame(values, columns=_column_names(est))
    for j, kind in enumerate(est.leaf_types_):
        column = frame.iloc[:, j]
        if kind == "categorical" and est.columns_.numeric_levels[j] is None:
            continue  # string levels
        if not (pd.api.types.is_float_dtype(column.dtype) or column.dtype == object):
            continue
        v = column.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = kind == "categorical" and np.all(np.isnan(v) | (np.mod(v, 1) == 0))  # not a mean
        frame[frame.columns[j]] = pd.array(v).astype("Int64") if whole else v.astype(est.circuit_.dtype)
    return frame


def _write_table(frame, path, delimiter=","):
    try:
        if path is None:
            frame.to_csv(sys.stdout, index=False, sep=delimiter)
        elif Path(path).suffix == ".npy":
            np.save(path, frame.to_numpy(dtype=np.float64))
        else:
            frame.to_csv(path, index=False, sep=delimiter)
    except OSError as exc:
        raise CLIError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc


def _write_array(X, path, fmt):
    path = Path(path)
    try:
        if path.suffix == ".npy":
            np.save(path, X)
        else:
            np.savetxt(path, X, fmt=fmt, delimiter=",")
    except OSError as exc:
        raise CLIError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc


# -- subcommands ------------------------------------------------------------------------------
def _options(name):
    constraints = PCDensityEstimator._parameter_constraints[name]
    return sorted(next(c.options for c in constraints if isinstance(c, StrOptions)))


def _int_or_auto(text):
    """``--n-latents``, ``--max-iter``: an integer or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'auto', got {text!r}") from None


def _per_column(text):
    """``--leaf``, ``--n-categories``: one value, or a comma-separated list (VALUE or NAME=VALUE)."""
    items = [item.strip() for item in text.split(",")]
    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    pairs = [item.partition("=") for item in items]
    if all(sep for _, sep, _ in pairs):
        return {name.strip(): value.strip() for name, _, value in pairs}
    if any(sep for _, sep, _ in pairs):
        raise argparse.ArgumentTypeError(f"use VALUE,VALUE,... or NAME=VALUE,..., not both: {text!r}")
    return items


def _column_values(value, X, flag, convert):
    """The per-column value of ``--leaf`` / ``--n-categories`` in the form the estimator takes."""
    if value is None or isinstance(value, str):
        return None if value is None else convert(value)
    d = X.shape[1]
    if isinstance(value, dict):
        names = list(X.columns) if _has_names(X) else None
        if names is None:
            raise CLIError(f"{flag} NAME=VALUE needs a CSV file with a header of column names")
        unknown = [n for n in value if n not in names]
        missing = [n for n in names if n not in value]
        if unknown or missing:
            raise CLIError(f"{flag} must name every column once: "
                           + "; ".join(([f"unknown {unknown}"] if unknown else [])
                                       + ([f"missing {missing}"] if missing else [])))
        value = [value[n] for n in names]
    if len(value) != d:
        raise CLIError(f"{flag} has {len(value)} values, the data has {d} columns")
    return [convert(v) for v in value]


def _count(text):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise CLIError(f"--n-categories expects integers or 'auto', got {text!r}") from None


def _add_model_flags(p, max_iter=_DEFAULTS["max_iter"], random_state=_DEFAULTS["random_state"]):
    """The estimator's options; each default is the estimator's (``max_iter`` of the demo aside)."""
    d = _DEFAULTS
    p.add_argument("--structure", default=d["structure"], choices=_options("structure"),
                   help="circuit structure")
    p.add_argument("--solver", default=d["solver"], choices=sorted(SOLVERS), help="parameter-learning rule")
    p.add_argument("--n-latents", type=_int_or_auto, default=d["n_latents"], metavar="K",
                   help="units per region, or 'auto' (the estimator's rule)")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], metavar="B", help="rows per mini-batch")
    p.add_argument("--step-size", type=float, default=d["step_size"], metavar="A",
                   help="step size of the mini-batch solvers")
    p.add_argument("--max-iter", type=_int_or_auto, default=max_iter, metavar="N",
                   help="number of epochs, or 'auto' (the estimator's rule)")
    p.add_argument("--random-state", type=int, default=random_state, metavar="SEED", help="random seed")
    p.add_argument("--dtype", default=str(np.dtype(d["dtype"])), choices=["float32", "float64"],
                   help="floating-point type")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress lines")


def _estimator(args, X=None):
    params = dict(
        structure=args.structure,
        solver=args.solver,
        n_latents=args.n_latents,
        batch_size=args.batch_size,
        step_size=args.step_size,
        max_iter=args.max_iter,
        random_state=args.random_state,
        device=args.device,
        dtype=args.dtype,
        verbose=0 if args.quiet else 1,
    )
    if getattr(args, "leaf", None) is not None:
        params["leaf"] = _column_values(args.leaf, X, "--leaf", str)
    if getattr(args, "n_categories", None) is not None:
        params["n_categories"] = _column_values(args.n_categories, X, "--n-categories", _count)
    if getattr(args, "early_stopping", False):
        params["early_stopping"] = True
    return PCDensityEstimator(**params)


def _fit(estimator, X):
    with _warnings_as_lines():
        return estimator.fit(X)


def _write_model(est, path):
    try:
        skpc_io.save(est, path)
    except OSError as exc:
        raise CLIError(f"cannot write {path!r}: {exc.strerror or exc}") from exc


def _read(args, split):
    return load_data(args.data, split, args.delimiter, args.na_values, args.header)


def cmd_fit(args):
    _check_writable(args.output, "model file")
    X = _read(args, "train")
    print(f"fitting on {args.data}: {X.shape[0]} rows, {X.shape[1]} columns", flush=True)
    start, est = time.perf_counter(), _estimator(args, X)
    try:
        _fit(est, X)
    except KeyboardInterrupt:
        # fit restored the last complete epoch (or left the estimator unfitted): keep it.
        if hasattr(est, "circuit_"):
            _write_model(est, args.output)
            _note(f"the model after epoch {est.n_iter_} was written to {args.output}")
        raise
    _write_model(est, args.output)
    print(
        f"train log-likelihood {est.history_['train_loglik'][-1]:.4f} nats per sample after "
        f"{est.n_iter_} epochs ({time.perf_counter() - start:.1f} s); model written to {args.output}"
    )


def cmd_score(args):
    if args.output:
        _check_writable(args.output, "output file")
    est = _load_model(args.model, args.device)
    X = _read(args, "test")
    with _warnings_as_lines():
        scores = est.score_samples(_matched(est, X, args.data))
    if args.output:
        _write_array(scores, args.output, "%.8g")
    print(f"mean log-likelihood {scores.mean():.4f} nats per sample over {X.shape[0]} rows")


def cmd_sample(args):
    if args.output:
        _check_writable(args.output, "output file")
    est = _load_model(args.model, args.device)
    if args.n_samples < 1:
        raise CLIError(f"-n must be a positive integer, got {args.n_samples}")
    samples = _as_table(est.sample(args.n_samples, random_state=args.random_state), est)
    _write_table(samples, args.output, args.delimiter or ",")
    if args.output:
        print(f"wrote {args.n_samples} samples to {args.output}")


def cmd_impute(args):
    if args.output:
        _check_writable(args.output, "output file")
    est = _load_model(args.model, args.device)
    X = _read(args, "test")
    columns = _matched(est, X, args.data)
    imputer = PCImputer._around(est, strategy=args.strategy, random_state=args.random_state)
    imputer.set_output(transform="pandas")  # the model's column types (strings stay strings)
    with _warnings_as_lines():
        filled = _as_table(imputer.transform(columns), est)
    # The table as read, with the missing entries of the model's columns filled (the other
    # columns keep their text and types).
    named = _has_names(X)
    out = X.copy() if named else pd.DataFrame(np.asarray(X), columns=_column_names(est))
    holes = pd.isna(columns)
    holes = holes.to_numpy() if isinstance(holes, pd.DataFrame) else holes
    for j, name in enumerate(_column_names(est)):
        hole = holes[:, j]
        if not hole.any():
            continue
        # The entries as read (whole numbers as integers: pandas reads an integer column with
        # missing values as floats), and the model's values, in its own types, in the holes.
        values = out[name].to_numpy(dtype=object)
        if all(isinstance(v, (int, float)) and float(v).is_integer() for v in values[~hole]):
            values[~hole] = [int(v) for v in values[~hole]]
        values[hole] = list(filled.iloc[:, j].to_numpy()[hole])
        out[name] = pd.Series(values, index=out.index)
    delimiter = args.delimiter or (X.attrs.get("delimiter", ",") if isinstance(X, pd.DataFrame) else ",")
    _write_table(out, args.output, delimiter)
    summary = f"filled {int(holes.sum())} missing entries ({args.strategy}) in {X.shape[0]} rows"
    if args.output:
        print(f"{summary}; wrote {args.output}")
    else:  # the table went to stdout
        print(summary, file=sys.stderr)


def cmd_info(args):
    est = _load_model(args.model)
    kinds = list(est.leaf_types_)
    structure = est.structure_.name if est.structure in ("auto",) or not isinstance(est.structure, str) \
        else est.structure
    structure = f"{structure} ({est.structure_.n_regions} regions)"
    chosen = (getattr(est, "capacity_search_", None) or {}).get("chosen") or {}
    if chosen.get("_kernel_bandwidth") is not None:  # the search placed one kernel per training row
        width = chosen["_kernel_bandwidth"]
        structure += f": a kernel density estimate, bandwidth {width:.3g} x Scott's rule"
    hist = est.history_
    columns = [
        f"{name} ({kind}, {k} level{'' if k == 1 else 's'})" if kind == "categorical" else f"{name} ({kind})"
        for name, kind, k in zip(_column_names(est), kinds, est.n_categories_, strict=True)
    ]
    if len(columns) > 8:
        columns = [*columns[:8], f"... {len(columns) - 8} more"]
    columns = ", ".join(columns)
    rows = [
        ("model file", args.model),
        ("structure", structure),
        (
            "features",
            f"{est.n_features_in_} ({kinds.count('categorical')} categorical, "
            f"{kinds.count('gaussian')} gaussian)",
        ),
        ("columns", columns),
        ("n_latents", est.n_latents_),
        ("parameters", f"{est.circuit_.n_parameters():,}"),
        ("solver", f"{est.solver}, {est.n_iter_} epochs, converged: {'yes' if est.converged_ else 'no'}"),
        ("train log-lik", f"{hist['train_loglik'][-1]:.4f} nats per sample (last epoch)"),
        ("device, dtype", f"{est.device_}, {est.dtype}"),
    ]
    if "valid_loglik" in hist:
        rows.insert(-1, ("valid log-lik", f"{max(hist['valid_loglik']):.4f} nats per sample (best epoch)"))
    for key, value in rows:
        print(f"{key:<15}{value}")


def cmd_demo(args):
    X, X_test = load_debd(args.dataset, "train"), load_debd(args.dataset, "test")
    print(
        f"{args.dataset}: {X.shape[0]} training rows, {X_test.shape[0]} test rows, "
        f"{X.shape[1]} binary variables"
    )
    print(
        f"fitting a circuit (structure={args.structure}, n_latents={args.n_latents}, "
        f"solver={args.solver}) ...",
        flush=True,
    )
    start = time.perf_counter()
    est = _fit(_estimator(args), X)
    seconds = time.perf_counter() - start
    # Baseline: every variable independent (Laplace-smoothed Bernoulli).
    p = (X.sum(axis=0) + 1) / (X.shape[0] + 2)
    independent = np.mean(X_test @ np.log(p) + (1 - X_test) @ np.log1p(-p))
    print(f"\nheld-out test log-likelihood (nats per sample, higher is better) after {seconds:.1f} s:")
    name = est.structure_.name.split("-")[0]  # hclt, mixture, rat, pd or custom
    print(f"  skpc {name + ' circuit':<19}{est.score(X_test):9.4f}")
    print(f"  independent variables   {independent:9.4f}")
    print(
        f"  published reference     {REFERENCE_TEST_LL[args.dataset]:9.4f}  (mixture of 4 HCLTs, HCLT paper)"
    )


def _subcommand(sub, func, summary):
    """Add the subcommand ``func`` (``cmd_NAME``); all but fit and demo read a MODEL file."""
    name = func.__name__.removeprefix("cmd_")
    p = sub.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        formatter_class=_HelpFormatter,
    )
    if name not in ("fit", "demo"):
        p.add_argument("model", metavar="MODEL", help="model file written by 'skpc fit'")
    if name != "info":
        p.add_argument("--device", default=_DEFAULTS["device"], choices=_options("device"),
                       help="where to compute")
    p.set_defaults(func=func)
    return p


def _na_values(text):
    return text.split(",")


def _add_table_flags(p, data_help, write=False):
    p.add_argument("data", metavar="DATA", help=data_help)
    p.add_argument("--delimiter", metavar="C",
                   help="CSV field separator (default: detected among , ; tab |)"
                   + ("; also used to write" if write else ""))
    p.add_argument("--na-values", type=_na_values, action="extend", default=[], metavar="A,B",
                   help="more missing-value markers (empty, NA, N/A, NaN, null, None, ? ... always are)")
    p.add_argument("--header", default="auto", choices=["auto", "yes", "no"],
                   help="does the first CSV line name the columns ('auto': unless it is all numbers)")


def build_parser():
    """The argument parser of the ``skpc`` command."""
    parser = _Parser(
        prog="skpc",
        description="Probabilistic circuits for density estimation.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"skpc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    data_help = (
        f"CSV file (.csv or .csv.gz), NPY file, or a bundled data set ({', '.join(DEBD)}), "
        "optionally with a split, e.g. nltcs:valid"
    )

    p = _subcommand(sub, cmd_fit, "learn a circuit from data and write a model file")
    _add_table_flags(p, data_help + " (a bundled name means its train split)")
    p.add_argument("-o", "--output", default="model.skpc", metavar="MODEL", help="model file to write")
    _add_model_flags(p)
    p.add_argument("--leaf", type=_per_column, metavar="KIND",
                   help="input distribution: auto, categorical or gaussian for every column, or one per "
                        "column (KIND,KIND,... or NAME=KIND,...)")
    p.add_argument("--n-categories", type=_per_column, metavar="K",
                   help="categories of the categorical columns: one number, or one per column "
                        "(K,K,... or NAME=K,...)")
    p.add_argument("--early-stopping", action="store_true",
                   help="hold out a validation part, stop when it stops improving, keep the best epoch")

    p = _subcommand(
        sub, cmd_score, "print the mean log-likelihood of DATA under MODEL (missing values are marginalised)"
    )
    _add_table_flags(p, data_help + " (a bundled name means its test split); columns are matched by name")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="also write each row's log-likelihood (.csv or .npy)"
    )

    p = _subcommand(sub, cmd_sample, "draw samples from MODEL (CSV on stdout unless -o is given)")
    p.add_argument("-n", "--n-samples", type=int, default=10, metavar="N", help="number of samples")
    p.add_argument("-o", "--output", metavar="FILE", help="write the samples here (.csv or .npy)")
    p.add_argument("--random-state", type=int, default=None, metavar="SEED", help="random seed")
    p.add_argument("--delimiter", metavar="C", help="CSV field separator (default: ,)")

    p = _subcommand(sub, cmd_impute, "fill the missing entries of DATA from MODEL and write the table "
                    "(CSV on stdout unless -o is given)")
    _add_table_flags(p, data_help + "; columns are matched by name", write=True)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the completed table here (.csv or .npy; CSV on stdout without it)")
    strategies = PCImputer._parameter_constraints["strategy"][0].options
    p.add_argument("--strategy", default=PCImputer().strategy, choices=sorted(strategies),
                   help="how missing entries are filled (see PCImputer)")
    p.add_argument("--random-state", type=int, default=None, metavar="SEED",
                   help="random seed of --strategy sample")

    _subcommand(sub, cmd_info, "describe a model file")

    p = _subcommand(
        sub, cmd_demo, "fit a bundled data set's training split and print its test log-likelihood"
    )
    p.add_argument("--dataset", default="nltcs", choices=DEBD, help="bundled data set")
    _add_model_flags(p, max_iter=20, random_state=0)  # the demo's own budget and seed
    return parser


def main(argv=None):
    """Run the ``skpc`` command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 on an error, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 1
        args.func(args)
    except (CLIError, ValueError, TypeError, FloatingPointError, OSError, MemoryError) as exc:
        print(f"skpc: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("skpc: interrupted", file=sys.stderr)
        return 130
    return 0
