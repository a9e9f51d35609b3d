"""``hepml <verb>``: each verb parses its arguments and calls one library function.

The verbs live with their task (``data``: inspect, simulate, features; ``higgs``; ``cosmic``;
``dann``); this module assembles them.  Heavy modules (uproot, TensorFlow) are imported inside
the verbs, so ``hepml --help`` is instant.  Errors of what a user gave (hepml's error classes) and
of the system (an ``OSError`` with its errno) print one line and exit with status 1; anything else
is a bug in hepml: its traceback, a line saying so, and status 70.  ``--debug`` shows the
traceback of every error.  Figures are drawn with matplotlib's non-interactive backend
unless ``MPLBACKEND`` says otherwise (set here, for the command line only: a library import
never changes a notebook's backend).  ``--threads`` sets the CPU budget of every thread pool
(OpenMP, BLAS, TensorFlow) before any of them loads; without it, ``OMP_NUM_THREADS`` (which
Snakemake sets from a rule's ``threads``) sizes TensorFlow's pools too (``hepml.models.backend``).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from hepml import __version__
from hepml.cli import cosmic, dann, data, higgs
from hepml.cli.common import json_arg

__all__ = ["main", "build_parser"]

VERB_MODULES = (data, higgs, cosmic, dann)
BUG = 70  # the exit status of an internal error (EX_SOFTWARE of sysexits.h); a user's mistake exits with 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hepml",
                                     description="ROOT ntuples -> features -> classifiers -> calibrated scores.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument("--version", action="version", version=f"hepml {__version__}")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default="INFO",
                        help="what the log lines on standard error say: INFO (default) gives one line per epoch and "
                             "per few chunks and what a job decided at its start; WARNING only problems")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars (they are drawn only when standard error is a terminal anyway)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for TensorFlow, XGBoost and BLAS (default: $OMP_NUM_THREADS where set, "
                             "else every core); on a shared batch node, the cores the job was given")
    parser.add_argument("--plot-label", type=json_arg, default={}, metavar="JSON",
                        help='text above every figure, e.g. \'{"experiment": "CMS", "label": "Simulation Preliminary", '
                             '"energy": "13.6 TeV", "lumi": "62 fb$^{-1}$"}\' (experiment: none, ATLAS, CMS, LHCb, '
                             'ALICE; default: neutral "Simulation", "13 TeV")')
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")

    def verb(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    for module in VERB_MODULES:
        module.register(verb)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    os.environ.setdefault("MPLBACKEND", "Agg")
    from hepml.logs import setup

    setup(args.log_level)
    if args.threads is not None:
        from hepml.models.backend import limit_threads

        try:
            limit_threads(args.threads)
        except ValueError as error:
            parser.error(f"--{error}")
    try:
        from hepml.plotting import ExperimentLabel, labelled
        from hepml.progress import quiet

        with labelled(ExperimentLabel.from_dict(args.plot_label)), quiet(args.quiet):
            status = int(args.func(args))
            sys.stdout.flush()  # inside the try: a reader gone away is seen here, not at exit
            return status
    except BrokenPipeError:  # the reader went away (hepml inspect | head): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command stopped by a closed pipe
    except Exception as err:
        from hepml.errors import HepmlError

        if args.debug:
            raise
        # a user's mistake (hepml's own errors) or the system refusing (a full disk, a lost mount,
        # a file without permission: an OSError with its errno) is one line; anything else is a bug
        if isinstance(err, HepmlError) or (isinstance(err, OSError) and err.errno is not None):
            message = " ".join(str(err).split()) or type(err).__name__
            print(f"hepml {args.verb}: error: {message}", file=sys.stderr)
            return 1
        traceback.print_exc()
        print(f"hepml {args.verb}: internal error ({type(err).__name__}): this is a bug in hepml, not a mistake in "
              "what you gave it; please report it with the traceback above", file=sys.stderr)
        return BUG
