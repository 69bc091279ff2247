"""``cikgwb notebooks``: execute the numbered notebooks headlessly (papermill)."""

from __future__ import annotations

from typing import Any

from .options import add_dataset

DESCRIPTION = """\
Execute the notebooks 01..09 in order with papermill, each with --dataset and the quick schedule
(or --full), plus the -p parameters it declares. Every parameter is checked before a kernel
starts (an unknown name or a bad value: one line naming it and the valid choices). Executed
notebooks and their HTML go to reports/notebooks/<tag>/, figures to reports/figures/<tag>/; a
notebook that fails is recorded and the next one runs, and the exit code is then 1.

  cikgwb notebooks                                   01..09, quick, synthetic
  cikgwb notebooks --dataset book-crossing --full --only 06,07
  cikgwb notebooks --only 07 -p metric=recall@50"""


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def notebooks(args: Any) -> int:
    from ..notebooks import ParameterError, run_all

    params = {}
    for item in args.param or []:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ParameterError(f"-p {item!r}: expected name=value")
        k, v = item.split("=", 1)
        if k.strip() in params:
            raise ParameterError(f"-p {k.strip()!r} given twice")
        params[k.strip()] = _parse_value(v)
    try:
        run_all(
            quick=not args.full,
            dataset=args.dataset,
            out_dir=args.out,
            only=args.only,
            parameters=params,
            html=not args.no_html,
            stop_on_error=args.stop_on_error,
            check=True,
        )
    except RuntimeError as e:  # the notebooks ran and some failed: exit code 1, not bad input
        e.exit_code = 1
        raise
    return 0


def register(sub: Any) -> None:
    import cikgwb.notebooks  # noqa: F401 - as before the package split: the command where its module imports

    p = sub.add_parser("notebooks", help="execute the notebooks 01..09 headlessly (papermill)", description=DESCRIPTION)
    add_dataset(p)
    p.add_argument("--full", action="store_true", help="full mode (train to early stop, all encoders, ...)")
    p.add_argument("--only", default=None, help="comma-separated numbers or names, e.g. 01,05")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="a notebook parameter (YAML value), passed where the notebook declares it",
    )
    p.add_argument(
        "--out", default=None, metavar="DIR", help="folder for executed notebooks (default reports/notebooks)"
    )
    p.add_argument("--no-html", action="store_true", help="no HTML copy of each executed notebook")
    p.add_argument("--stop-on-error", action="store_true", help="stop at the first notebook that fails")
    p.set_defaults(func=notebooks)
