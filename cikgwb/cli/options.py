"""The options several commands share, each defined once, the argparse types of the command line, and
the parser style of every command (:class:`Parser`, :func:`commands`).

A shared option is a function ``add_<option>(parser, ...)`` that adds it with one spelling and one help
text; the choices a help text lists come from the registries (datasets: :mod:`cikgwb.data.registry`,
models: :mod:`cikgwb.models`, protocols: :data:`cikgwb.run_spec.PROTOCOLS`). A value outside them is
refused by the library's own check (one line naming the setting and the known names, exit code 2)
before any work starts, so that a dataset or model registered at run time is accepted too.
"""

from __future__ import annotations

import argparse
import difflib
import textwrap
from typing import Any

SUPPRESS = argparse.SUPPRESS


# ----------------------------------------------------------------------------- argparse types
def seed_list(text: str) -> list[int]:
    """``--seeds 0,1,2`` as ``[0, 1, 2]`` (a bad list names the option)."""
    try:
        seeds = [int(s) for s in str(text).split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 0,1,2, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"a seed is given twice in {text!r}")
    return seeds


def non_negative_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v


def positive_int(text: str) -> int:
    v = non_negative_int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {v}")
    return v


def reask_list(text: str) -> tuple[str, ...]:
    from ..knowledge.infer import REASKABLE

    got = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in got if x not in REASKABLE]
    if bad or not got:
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(REASKABLE)}, got {text!r}")
    return got


def kappa(text: str) -> int | None:
    if text.lower() in ("none", "auto"):
        return None
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"kappa {text!r}: expected a positive integer or 'none'") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"kappa {k}: expected a positive integer or 'none'")
    return k


# ----------------------------------------------------------------------------- the registries' names
def dataset_names() -> list[str]:
    from ..data.registry import names

    return names()


def model_names() -> list[str]:
    from ..models import model_names as names

    return names()


def protocol_names() -> list[str]:
    from ..run_spec import PROTOCOLS

    return list(PROTOCOLS)


# ----------------------------------------------------------------------------- shared options
def add_dataset(p: argparse.ArgumentParser, default: str | None = "synthetic", *, repeat: bool = False) -> None:
    """``--dataset NAME`` (``repeat``: repeatable, a filter; ``default=None``: required)."""
    names = ", ".join(dataset_names())
    if repeat:
        p.add_argument("--dataset", action="append", metavar="NAME", help=f"only this dataset (repeatable): {names}")
    elif default is None:
        p.add_argument("--dataset", required=True, metavar="NAME", help=f"dataset: {names}")
    else:
        p.add_argument("--dataset", default=default, metavar="NAME", help=f"dataset: {names} (default {default})")


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder holding the datasets (default $CIKGWB_DATA_DIR or <project>/data)",
    )


def add_split_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split-seed", type=int, default=0, help="seed of the validation carve-out (default 0)")


def add_data(p: argparse.ArgumentParser, default: str | None = "synthetic") -> None:
    """``--dataset``, ``--data-dir``, ``--split-seed``: a dataset as the loader reads it."""
    add_dataset(p, default)
    add_data_dir(p)
    add_split_seed(p)


def add_model(p: argparse.ArgumentParser, default: str | None = "cikgrec", *, repeat: bool = False) -> None:
    """``--model NAME`` of a recommender (``repeat``: repeatable, a filter)."""
    names = ", ".join(model_names())
    if repeat:
        p.add_argument("--model", action="append", metavar="NAME", help=f"only this model (repeatable): {names}")
    else:
        p.add_argument("--model", default=default, metavar="NAME", help=f"model: {names} (default {default})")


def add_protocol(p: argparse.ArgumentParser, default: str | None, help: str | None = None) -> None:
    names = protocol_names()
    p.add_argument(
        "--protocol", choices=names, default=default, help=help or f"{' | '.join(names)} (default {default})"
    )


def add_seeds(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument(
        "--seeds", type=seed_list, default=default, metavar="0,1,...", help="comma-separated seeds, e.g. 0,1,2"
    )


def add_interests(
    p: argparse.ArgumentParser,
    help: str = "paper | none | PATH to a user-interest graph",
    default: str | None = "paper",
) -> None:
    """``--interests paper|none|PATH`` (:class:`cikgwb.data.interest_files.InterestSource`)."""
    p.add_argument("--interests", default=default, help=help)


def add_set(p: argparse.ArgumentParser, help: str = "override a setting (repeatable)") -> None:
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help=help)


def add_runs_root(p: argparse.ArgumentParser, help: str = "the runs folder (default reports/runs)") -> None:
    """``--runs DIR``: the one spelling of the runs folder (``--runs-root`` is kept as a hidden alias)."""
    p.add_argument("--runs", dest="runs_root", metavar="DIR", default=None, help=help)
    p.add_argument("--runs-root", dest="runs_root", default=None, help=SUPPRESS)


def add_device(p: argparse.ArgumentParser, default: str | None = "cpu", help: str | None = None) -> None:
    p.add_argument("--device", default=default, help=help or f"cpu or cuda (default {default})")


def add_ray(p: argparse.ArgumentParser, address_help: str, gpus_help: str) -> None:
    """``--address`` and ``--gpus-per-run`` of the Ray executor."""
    p.add_argument("--address", default=None, help=address_help)
    p.add_argument("--gpus-per-run", type=float, default=None, help=gpus_help)


# ----------------------------------------------------------------------------- the style of every command
class Formatter(argparse.HelpFormatter):
    """Descriptions wrapped by paragraph; a paragraph with an indented line (examples) kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for para in text.strip("\n").split("\n\n"):
            lines = para.splitlines()
            if any(line.startswith(" ") for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(
                    textwrap.fill(" ".join(para.split()), width, initial_indent=indent, subsequent_indent=indent)
                )
        return "\n\n".join(paragraphs)


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the project's style: descriptions wrapped by paragraph, and a
    mistyped command or option answered with the closest one (instead of argparse's internal names)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if isinstance(action, argparse._SubParsersAction) and value not in action.choices:
            close = difflib.get_close_matches(str(value), list(action.choices), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise argparse.ArgumentError(None, f"unknown command {value!r}{hint} (`{self.prog} --help` lists them)")
        super()._check_value(action, value)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """As argparse's; an unknown ``--option`` also gets the closest option of the (sub-)command it
        was given to (the innermost parser's, kept in ``_did_you_mean`` until :meth:`parse_args`)."""
        ns, extras = super().parse_known_args(args, namespace)
        known = [s for s, a in self._option_string_actions.items() if a.help != argparse.SUPPRESS]
        hints = ns.__dict__.setdefault("_did_you_mean", {})
        for word in extras:
            close = difflib.get_close_matches(word.split("=")[0], known, n=1) if word.startswith("--") else []
            if close:
                hints.setdefault(word, close[0])
        return ns, extras

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extras = self.parse_known_args(args, namespace)
        hints = ns.__dict__.pop("_did_you_mean", {})
        if extras:
            said = [f"{w} (did you mean {hints[w]}?)" if w in hints else w for w in extras]
            self.error(f"unrecognized arguments: {' '.join(said)}")
        return ns


def commands(p: argparse.ArgumentParser, dest: str) -> Any:
    """The sub-commands of ``p`` (one style for every group); ``p`` alone prints its help, exit code 2."""
    sub = p.add_subparsers(dest=dest, metavar="COMMAND", title="commands")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    return sub
