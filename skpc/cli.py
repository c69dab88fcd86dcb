"""The ``skpc`` command line: fit, score, sample and inspect probabilistic circuits.

Run ``skpc --help`` (or ``python -m skpc --help``) for the subcommands. Mistakes (a
missing file, unreadable data, a bad flag) print one ``skpc: error: ...`` line on stderr
and exit with a non-zero status.
"""

import argparse
import contextlib
import csv
import gzip
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import StrOptions

from skpc import PCDensityEstimator, __version__
from skpc import io as skpc_io
from skpc.datasets import DEBD, REFERENCE_TEST_LL, load_debd
from skpc.solvers import SOLVERS

_MISSING = {"", "nan", "NaN", "NA", "?"}


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


# -- model files ------------------------------------------------------------------------------
def _load_model(path, device="cpu"):
    if not Path(path).is_file():
        raise CLIError(f"model file {str(path)!r} does not exist")
    with _warnings_as_lines():
        return skpc_io.load(path, device=device)  # a bad file raises ModelFileError, a ValueError


@contextlib.contextmanager
def _warnings_as_lines():
    """Report warnings raised inside the block as one ``skpc: warning:`` line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        print(f"skpc: warning: {w.message}", file=sys.stderr)


# -- data files -------------------------------------------------------------------------------
def load_data(source, split="train"):
    """Read a data matrix from a CSV file, an NPY file or a bundled data set name.

    Parameters
    ----------
    source : str
        A path to ``.npy``, a path to CSV text (optionally ``.gz``; a header line of
        names is skipped; empty, ``nan``, ``NA`` and ``?`` fields are missing values), or
        a name from :data:`skpc.datasets.DEBD`, optionally with a split: ``nltcs:test``.
    split : {"train", "valid", "test"}, default="train"
        Split of a bundled data set named without one.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
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
    return _read_csv(path, source)


def _read_csv(path, source):
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CLIError(f"cannot read {source!r} as CSV: {exc}") from exc
    if rows and not all(_is_number(v) for v in rows[0][1]):
        rows = rows[1:]  # a header line
    if not rows:
        raise CLIError(f"{source!r} holds no data rows")
    width = len(rows[0][1])
    X = np.empty((len(rows), width))
    for i, (line, row) in enumerate(rows):
        if len(row) != width:
            raise CLIError(f"{source!r}, line {line}: {len(row)} fields, expected {width}")
        for j, value in enumerate(row):
            value = value.strip()
            try:
                X[i, j] = np.nan if value in _MISSING else float(value)
            except ValueError:
                raise CLIError(f"{source!r}, line {line}, column {j}: {value!r} is not a number") from None
    return X


def _is_number(value):
    value = value.strip()
    if value in _MISSING:
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


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
def _structure_choices():
    constraints = PCDensityEstimator._parameter_constraints["structure"]
    return sorted(next(c.options for c in constraints if isinstance(c, StrOptions)))


def _int_or_auto(text):
    """``--n-latents``, ``--max-iter``: an integer or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'auto', got {text!r}") from None


def _add_model_flags(p, max_iter):
    p.add_argument("--structure", default="auto", choices=_structure_choices(),
                   help="circuit structure ('auto': chosen on held-out rows for small data, else hclt)")
    p.add_argument("--solver", default="anemone", choices=sorted(SOLVERS), help="parameter-learning rule")
    p.add_argument("--n-latents", type=_int_or_auto, default="auto", metavar="K",
                   help="units per region, or 'auto' (the estimator's rule)")
    p.add_argument("--batch-size", type=int, default=512, metavar="B", help="rows per mini-batch")
    p.add_argument(
        "--step-size",
        type=float,
        default=PCDensityEstimator().step_size,
        metavar="A",
        help="step size of the mini-batch solvers (default: the estimator's)",
    )
    p.add_argument("--max-iter", type=_int_or_auto, default=max_iter, metavar="N",
                   help="number of epochs, or 'auto' (the estimator's rule)")
    p.add_argument("--random-state", type=int, default=0, metavar="SEED", help="random seed")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="floating-point type")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress lines")


def _estimator(args):
    return PCDensityEstimator(
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


def _fit(estimator, X):
    with _warnings_as_lines():
        return estimator.fit(X)


def _write_model(est, path):
    try:
        skpc_io.save(est, path)
    except OSError as exc:
        raise CLIError(f"cannot write {path!r}: {exc.strerror or exc}") from exc


def cmd_fit(args):
    X = load_data(args.data, "train")
    print(f"fitting on {args.data}: {X.shape[0]} rows, {X.shape[1]} columns", flush=True)
    start, est = time.perf_counter(), _estimator(args)
    try:
        _fit(est, X)
    except KeyboardInterrupt:
        # fit restored the last complete epoch (or left the estimator unfitted): keep it.
        if hasattr(est, "circuit_"):
            _write_model(est, args.output)
            print(f"skpc: the model after epoch {est.n_iter_} was written to {args.output}", file=sys.stderr)
        raise
    _write_model(est, args.output)
    print(
        f"train log-likelihood {est.history_['train_loglik'][-1]:.4f} nats per sample after "
        f"{est.n_iter_} epochs ({time.perf_counter() - start:.1f} s); model written to {args.output}"
    )


def cmd_score(args):
    est = _load_model(args.model, args.device)
    X = load_data(args.data, "test")
    scores = est.score_samples(X)
    if args.output:
        _write_array(scores, args.output, "%.8g")
    print(f"mean log-likelihood {scores.mean():.4f} nats per sample over {X.shape[0]} rows")


def cmd_sample(args):
    est = _load_model(args.model, args.device)
    if args.n_samples < 1:
        raise CLIError(f"-n must be a positive integer, got {args.n_samples}")
    X = est.sample(args.n_samples, random_state=args.random_state)
    fmt = ["%d" if kind == "categorical" else "%.8g" for kind in est.leaf_types_]
    if args.output:
        _write_array(X, args.output, fmt)
        print(f"wrote {args.n_samples} samples to {args.output}")
    else:
        np.savetxt(sys.stdout, X, fmt=fmt, delimiter=",")


def cmd_info(args):
    est = _load_model(args.model)
    kinds = list(est.leaf_types_)
    structure = est.structure_.name if est.structure in ("auto",) or not isinstance(est.structure, str) \
        else est.structure
    hist = est.history_
    rows = [
        ("model file", args.model),
        ("structure", f"{structure} ({est.structure_.n_regions} regions)"),
        (
            "features",
            f"{est.n_features_in_} ({kinds.count('categorical')} categorical, "
            f"{kinds.count('gaussian')} gaussian)",
        ),
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
    name = est.structure_.name.split("-")[0]  # hclt, rat, pd or custom
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
        p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "auto"], help="where to compute")
    p.set_defaults(func=func)
    return p


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
        f"CSV file, NPY file, or a bundled data set ({', '.join(DEBD)}), "
        "optionally with a split, e.g. nltcs:valid"
    )

    p = _subcommand(sub, cmd_fit, "learn a circuit from data and write a model file")
    p.add_argument("data", metavar="DATA", help=data_help + " (a bundled name means its train split)")
    p.add_argument("-o", "--output", default="model.skpc", metavar="MODEL", help="model file to write")
    _add_model_flags(p, max_iter="auto")

    p = _subcommand(
        sub, cmd_score, "print the mean log-likelihood of DATA under MODEL (missing values are marginalised)"
    )
    p.add_argument("data", metavar="DATA", help=data_help + " (a bundled name means its test split)")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="also write each row's log-likelihood (.csv or .npy)"
    )

    p = _subcommand(sub, cmd_sample, "draw samples from MODEL (CSV on stdout unless -o is given)")
    p.add_argument("-n", "--n-samples", type=int, default=10, metavar="N", help="number of samples")
    p.add_argument("-o", "--output", metavar="FILE", help="write the samples here (.csv or .npy)")
    p.add_argument("--random-state", type=int, default=None, metavar="SEED", help="random seed")

    _subcommand(sub, cmd_info, "describe a model file")

    p = _subcommand(
        sub, cmd_demo, "fit a bundled data set's training split and print its test log-likelihood"
    )
    p.add_argument("--dataset", default="nltcs", choices=DEBD, help="bundled data set")
    _add_model_flags(p, max_iter=20)
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
    except (CLIError, ValueError, FloatingPointError, OSError) as exc:
        print(f"skpc: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("skpc: interrupted", file=sys.stderr)
        return 130
    return 0
