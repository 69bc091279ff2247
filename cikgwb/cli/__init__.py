"""The ``cikgwb`` command line: one parser, one error handler, one module per command group.

Each module of this package holds a group's options and the functions its parsed options call
(:mod:`.data`, :mod:`.train`, :mod:`.results`, :mod:`.artefact`, :mod:`.llm`, :mod:`.interests`,
:mod:`.graph`, :mod:`.sweep`, :mod:`.notebooks`); the options several commands share are defined
once in :mod:`.options`. No library module imports argparse: a command reads its options and calls
the library.

The rules every command follows: bad input is one line ``cikgwb CMD: error: ...`` naming the
file, setting or value, exit code 2, before any work starts (:func:`main`); ``-v`` (debug logging,
tracebacks) is accepted before or after the command; a mistyped command is answered with the
closest one (``difflib``); a command group given without its sub-command prints its help.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from typing import Any, Callable

DESCRIPTION = """\
cikgwb: LLM-derived user interests in knowledge-graph recommendation (CIKGRec and its baselines).

Typical use:
  cikgwb data stats book-crossing          the dataset, its interest graph and split
  cikgwb train --dataset synthetic         train a model (early stopping on the selection split)
  cikgwb results                           every finished run beside the paper's Table 1
  cikgwb demo                              the whole job on the embedded synthetic data (offline)

`cikgwb COMMAND --help` describes a command."""

VERBOSE_HELP = "debug logging, and a traceback instead of the one-line error"


def _optional(register: Callable[[Any], None], sub: Any) -> None:
    """Wire an area's commands; an area whose optional extras are missing stays out."""
    try:
        register(sub)
    except ImportError as exc:  # pragma: no cover - only without optional extras
        logging.getLogger(__name__).debug("command not available: %s", exc)


def package_version() -> str:
    """The installed package's version (its metadata), or a note where it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cikgwb")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without pip install
        return "unknown (not installed: pip install -e .)"


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """``-v`` after a (sub-)command too; it only sets ``verbose`` where given (the top level's default)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in dict.fromkeys(action.choices.values()):
                sp.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
                _verbose_everywhere(sp)


def build_parser() -> argparse.ArgumentParser:
    from . import artefact, data, graph, interests, llm, notebooks, options, results, sweep, train

    parser = options.Parser(prog="cikgwb", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    parser.add_argument("--version", action="version", version=f"cikgwb {package_version()}")
    sub = options.commands(parser, "cmd")
    data.register(sub)
    train.register(sub)
    results.register(sub)
    artefact.register(sub)
    _optional(llm.register, sub)
    _optional(interests.register, sub)
    _optional(graph.register, sub)
    _optional(sweep.register, sub)
    _optional(results.register_compare, sub)
    _optional(notebooks.register, sub)
    _verbose_everywhere(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``cikgwb`` command line; the one error handler of the command line."""
    warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
    warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, OSError, RuntimeError) as exc:
        # bad input (DataFormatError is a ValueError), a diverged run, a full disk (atomic.DiskFull,
        # an OSError), a missing or unreadable file...: a clear message, no traceback
        if args.verbose:
            raise
        print(f"cikgwb {args.cmd}: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        print(
            f"interrupted; {getattr(args, 'on_interrupt', 'completed work is saved')} (rerun to resume)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
