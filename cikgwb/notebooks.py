"""The ordered notebooks: what each one starts with (:func:`start`) and the headless runner
(:func:`run_all`; the command ``cikgwb notebooks`` is :mod:`cikgwb.cli.notebooks`).

Notebooks live in ``notebooks/`` as jupytext pairs (``NN_name.py`` in the percent format, the
diff-friendly source, and ``NN_name.ipynb`` without outputs, which papermill, nbval and Voila
read); ``tests/test_notebooks.py`` checks that the two agree and that no output is committed.
Each has one cell tagged ``parameters`` (papermill) whose defaults are the synthetic dataset in
quick mode.

Where things go (``R`` = ``$CIKGWB_REPORTS_DIR`` or ``<project>/reports``)::

    R/figures/<tag>/<notebook>_<figure>.{html,png}   figures (tag: see figures_tag)
    R/notebooks/<tag>/<notebook>.{ipynb,html}        executed notebooks (run_all)
    R/notebooks/<tag>/run_all.json                   timings and status of the last run_all
    R/runs/<run>/                                    training runs (cikgwb.train)
    R/sweeps/<sweep>/                                sweeps (cikgwb.sweep)
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOTEBOOKS = (
    "01_data",
    "02_prompting",
    "03_interest_clustering",
    "04_cikg",
    "05_training",
    "06_results",
    "07_sparsity",
    "08_case_study",
    "09_sensitivity",
)
EXPLORER = "explorer"


# ----------------------------------------------------------------------------- paths
def project_root() -> Path:
    """The project folder (:func:`cikgwb.paths.project_root`)."""
    from .paths import project_root as _root

    return _root()


def data_dir() -> Path:
    """The data folder: ``$CIKGWB_DATA_DIR``, else ``<project>/data`` (:func:`cikgwb.paths.data_dir`)."""
    from .paths import data_dir as _data_dir

    return _data_dir()


def reports_dir(root: Path | None = None) -> Path:
    """``$CIKGWB_REPORTS_DIR`` (a relative path is taken from the project root) or
    ``<root>/reports`` (:func:`cikgwb.paths.reports_root`)."""
    from .paths import reports_root

    return reports_root(root)


def figures_tag(dataset: str, quick: bool) -> str:
    """Folder name for a dataset's figures and executed notebooks: the dataset name in its
    usual mode (quick for ``synthetic``, full for the real datasets), else ``<dataset>-quick``
    or ``<dataset>-full``, so a quick look never overwrites the committed full figures."""
    from .data.registry import REGISTRY

    spec = REGISTRY.get(dataset)
    usual_quick = spec.quick if spec is not None else False  # the registry's usual mode of the dataset
    return dataset if quick == usual_quick else f"{dataset}-{'quick' if quick else 'full'}"


#: the notebooks whose figures and tables of a real dataset are committed (the paper's: `make reports`)
PAPER_NOTEBOOKS = ("06_results", "07_sparsity", "08_case_study", "09_sensitivity")


def committed_product(name: str, tag: str) -> bool:
    """Whether notebook ``name``'s figures and tables under ``reports/figures/<tag>/`` are committed:
    every notebook's on ``synthetic`` (``make notebooks``), the paper's (:data:`PAPER_NOTEBOOKS`) on
    a real dataset in its usual mode (``make reports``). The rest (01-05 on real data, a
    ``<dataset>-quick`` look) is ignored by git (``.gitignore`` says the same; tests check that
    they agree) and gets no ``MADE_BY`` entry, so running it leaves the checkout clean."""
    return tag == "synthetic" or name in PAPER_NOTEBOOKS and not tag.endswith(("-quick", "-full"))


# ----------------------------------------------------------------------------- notebook context
@dataclass
class Notebook:
    """What a notebook knows about where it runs; made by :func:`start`."""

    name: str
    dataset: str
    quick: bool
    root: Path
    reports: Path
    figures: Path
    record_path: Path | None = None
    saved: list[Path] = field(default_factory=list)

    @property
    def runs(self) -> Path:
        return self.reports / "runs"

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def save(self, fig: Any, stem: str, **kw: Any) -> list[Path]:
        """Write ``<figures>/<notebook>_<stem>.html`` and ``.png`` (:func:`cikgwb.plots.save_figure`)."""
        from .plots import save_figure

        paths = save_figure(fig, self.figures / f"{self.name}_{stem}", **kw)
        self.saved += paths
        return paths

    def show(self, fig: Any, stem: str, **kw: Any) -> None:
        """Save the figure and display it: interactive in JupyterLab / Voila (plotly's mime type),
        the PNG where the front end cannot render plotly (nbconvert HTML, GitHub)."""
        from IPython.display import display

        paths = self.save(fig, stem, **kw)
        bundle: dict[str, Any] = {
            "application/vnd.plotly.v1+json": {**json.loads(fig.to_json()), "config": {"responsive": True}},
            "text/plain": f"<figure {self.name}_{stem}: " + ", ".join(str(p) for p in paths) + ">",
        }
        png = [p for p in paths if p.suffix == ".png"]
        if png:
            bundle["image/png"] = base64.b64encode(png[0].read_bytes()).decode("ascii")
        else:
            bundle["text/html"] = fig.to_html(include_plotlyjs="cdn", full_html=False)
        display(bundle, raw=True)

    def table(self, df: Any, stem: str | None = None, caption: str | None = None, max_rows: int = 60) -> None:
        """Display a data frame (first ``max_rows`` rows); with ``stem`` also write it as CSV
        and markdown under ``<reports>/tables/<tag>/``."""
        from IPython.display import display

        if stem:
            out = self.reports / "tables" / self.figures.name
            out.mkdir(parents=True, exist_ok=True)
            df.to_csv(out / f"{self.name}_{stem}.csv", index=df.index.name is not None)
            try:
                (out / f"{self.name}_{stem}.md").write_text(df.to_markdown() + "\n")
            except ImportError:  # pragma: no cover - tabulate is a dependency
                pass
        d = df.head(max_rows)
        if caption:
            d = d.style.set_caption(caption)
        display(d)

    def record(self, **values: Any) -> None:
        """For notebook sweeps: write ``values`` (JSON) where the sweep asked (``sweep_record``
        parameter); a no-op otherwise."""
        if self.record_path is None:
            return
        self.record_path.parent.mkdir(parents=True, exist_ok=True)
        self.record_path.write_text(json.dumps(values, indent=1, default=str) + "\n")

    def header(self) -> str:
        return f"{self.name}: dataset {self.dataset}, {self.mode} mode; figures -> {self.figures}; runs -> {self.runs}"


def start(name: str, dataset: str = "synthetic", quick: bool = True, record: str | None = None) -> Notebook:
    """Set up a notebook: paths (:func:`project_root`, :func:`reports_dir`), the data folder
    (``$CIKGWB_DATA_DIR`` or ``<project>/data``), quiet warnings; prints where things go."""
    if not isinstance(dataset, str) or not dataset:
        raise ValueError(f"dataset must be a dataset name (e.g. 'synthetic'), got {dataset!r}")
    root = project_root()
    os.environ["CIKGWB_DATA_DIR"] = str(data_dir())  # the one rule's answer, for child processes too
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
    warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")
    reports = reports_dir(root)
    nb = Notebook(
        name=name,
        dataset=dataset,
        quick=bool(quick),
        root=root,
        reports=reports,
        figures=reports / "figures" / figures_tag(dataset, bool(quick)),
        record_path=Path(record) if record else None,
    )
    nb.figures.mkdir(parents=True, exist_ok=True)
    print(nb.header())
    return nb


# ----------------------------------------------------------------------------- parameters
class ParameterError(ValueError):
    """A notebook parameter is unknown or has a bad value; the message names it and the valid choices."""


def read_parameters(path: str | Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook's ``parameters`` cell declares: name -> ``{"default": value
    (None where the default is not a literal), "help": the line's comment}``, in cell order.

    Read with Python's own parser (top-level ``name = value`` lines), not papermill's line
    patterns, which drop a line whose comment holds ``=`` (``k = 20  # URL: &k=N``)."""
    import ast
    import io
    import tokenize

    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        return {}
    src = cells[0].source
    try:
        tree = ast.parse(src)
        comments = {
            t.start[0]: t.string.lstrip("#").strip()
            for t in tokenize.generate_tokens(io.StringIO(src).readline)
            if t.type == tokenize.COMMENT
        }
    except (SyntaxError, tokenize.TokenError) as exc:
        raise ParameterError(f"{path}: the parameters cell is not valid Python ({exc})") from None
    out: dict[str, dict[str, Any]] = {}
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign) and node.value is not None
            else []
        )
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    default = ast.literal_eval(node.value)
                except ValueError:
                    default = None
                out[t.id] = {"default": default, "help": comments.get(node.end_lineno or node.lineno, "")}
    return out


def notebook_parameters(name: str, root: Path | None = None) -> dict[str, dict[str, Any]]:
    """:func:`read_parameters` of notebook ``name`` (``notebooks/<name>.ipynb``)."""
    return read_parameters(notebook_path(name, root))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _type_of(default: Any) -> tuple[Any, str] | None:
    """(check, what) for values of a default's type; None when the default says nothing (None)."""
    if isinstance(default, bool):
        return (lambda v: isinstance(v, bool)), "true or false"
    if _is_int(default):
        return _is_int, "an integer"
    if isinstance(default, float):
        return (lambda v: _is_int(v) or isinstance(v, float)), "a number"
    if isinstance(default, str):
        return (lambda v: isinstance(v, str)), "a string"
    if isinstance(default, (list, tuple)):
        if default and all(_is_int(x) for x in default):
            return (lambda v: isinstance(v, (list, tuple)) and all(_is_int(x) for x in v)), "a list of integers"
        if default and all(isinstance(x, str) for x in default):
            return (lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v)), "a list of names"
        return (lambda v: isinstance(v, (list, tuple))), "a list"
    if isinstance(default, dict):
        return (lambda v: isinstance(v, dict)), "a mapping {name: value}"
    return None


def _one_of(options: Any, what: str = "") -> Any:
    def check(v: Any, ctx: dict[str, Any]) -> str | None:
        opts = tuple(options() if callable(options) else options)
        return None if v in opts else f"one of {', '.join(map(str, opts))}{what}"

    return check


def _int_at_least(lo: int, none_ok: bool = False) -> Any:
    def check(v: Any, ctx: dict[str, Any]) -> str | None:
        if (v is None and none_ok) or (_is_int(v) and v >= lo):
            return None
        return f"an integer >= {lo}" + (" or none" if none_ok else "")

    return check


def _list_of(item_check: Any, what: str, none_ok: bool = True) -> Any:
    def check(v: Any, ctx: dict[str, Any]) -> str | None:
        if v is None and none_ok:
            return None
        if not isinstance(v, (list, tuple)) or not v:
            return f"a non-empty list of {what}" + (" or none" if none_ok else "")
        for x in v:
            bad = item_check(x, ctx)
            if bad:
                return f"a list of {what}; {x!r} is not {bad}"
        return None

    return check


def _bool_or_none(v: Any, ctx: dict[str, Any]) -> str | None:
    return None if v is None or isinstance(v, bool) else "true, false or none"


def _text_or_none(v: Any, ctx: dict[str, Any]) -> str | None:
    return None if v is None or isinstance(v, str) else "a name or path (text) or none"


def _datasets() -> list[str]:
    from .data.registry import names

    return names()


def _models() -> list[str]:
    from .models import MODELS, model_class

    model_class("cikgrec")  # imports every model module
    return sorted(MODELS)


def _model_label(v: Any, ctx: dict[str, Any]) -> str | None:
    from .results import parse_label

    try:
        model, _ = parse_label(str(v)) if isinstance(v, str) else (None, None)
    except ValueError:
        model = None
    models = _models()
    return None if model in models else f"one of {', '.join(models)} (or 'cikgrec <variant>')"


def _variant(v: Any, ctx: dict[str, Any]) -> str | None:
    from .results import VARIANTS

    ok = [x for x in VARIANTS if x != "full"]
    return None if v in ok else f"one of {', '.join(ok)}"


def _backends() -> tuple[str, ...]:
    try:
        from .knowledge.infer import BACKENDS

        return tuple(BACKENDS)
    except ImportError:  # pragma: no cover - without the knowledge extras
        return ("kg-summary", "chat", "batch")


def _clusterers() -> tuple[str, ...]:
    try:
        from .knowledge.cluster import CLUSTERERS

        return tuple(CLUSTERERS)
    except ImportError:  # pragma: no cover
        return ("kmeans", "bertopic")


def _sparsity_metrics() -> tuple[str, ...]:
    """The per-group metrics 07 can draw: those :func:`cikgwb.results.run_sparsity_groups` computes."""
    import inspect

    from .results import run_sparsity_groups

    return tuple(inspect.signature(run_sparsity_groups).parameters["metrics"].default)


def _device(v: Any, ctx: dict[str, Any]) -> str | None:
    from .config import _DEVICE

    return None if isinstance(v, str) and _DEVICE.fullmatch(v) else "auto, cpu, cuda, cuda:N or mps"


def _share(v: Any, ctx: dict[str, Any]) -> str | None:
    ok = (_is_int(v) or isinstance(v, float)) and 0 < v <= 1
    return None if ok else "a share in (0, 1]"


def _overrides(v: Any, ctx: dict[str, Any]) -> str | None:
    from .config import apply_overrides
    from .models import default_config

    if not isinstance(v, dict):
        return "a mapping of config settings, e.g. {mask_alpha: 0.1}"
    ds = ctx.get("dataset") if ctx.get("dataset") in _datasets() else "synthetic"
    try:
        apply_overrides(
            default_config(ds, "cikgrec"), {str(k): (str(x) if isinstance(x, str) else x) for k, x in v.items()}
        )
    except ValueError as exc:
        return f"config settings ({exc})"
    return None


def _grid(v: Any, ctx: dict[str, Any]) -> str | None:
    if v is None:
        return None
    from .config import _TRAIN_KEYS
    from .models import model_entry
    from .sweep import ALIASES, canonical

    if not isinstance(v, dict) or not v:
        return "a mapping {setting: [values, ...]} or none"
    cikgrec = model_entry("cikgrec").config  # the notebooks' sweeps are CIKGRec's
    for k, vals in v.items():
        if cikgrec.canonical(canonical(str(k))) is None and canonical(str(k)) not in _TRAIN_KEYS:
            return (
                f"a mapping of settings to value lists; {k!r} is not a setting (a config key or one of "
                f"{', '.join(sorted(ALIASES))})"
            )
        if not isinstance(vals, (list, tuple)) or not vals:
            return f"a mapping of settings to non-empty value lists; {k}: {vals!r}"
    return None


#: checks beyond the type of the default, by parameter name (any notebook) or (notebook, name);
#: each returns None when the value is fine, else what was expected
PARAM_CHECKS: dict[Any, Any] = {
    "dataset": _one_of(_datasets),
    "protocol": _one_of(("valid", "users", "authors")),
    "device": _device,
    "backend": _one_of(_backends),
    "seeds": _list_of(_int_at_least(0), "seeds (integers >= 0)", none_ok=False),
    "seed": _int_at_least(0),
    "split_seed": _int_at_least(0),
    "case": _int_at_least(0),
    "user": _int_at_least(0, none_ok=True),
    "interest": _int_at_least(0, none_ok=True),
    "n_groups": _int_at_least(1),
    "k": _int_at_least(1),
    "quick_epochs": _int_at_least(1),
    "jobs": _int_at_least(1),
    "max_users": _int_at_least(1),
    "max_items": _int_at_least(1),
    "max_tokens": _int_at_least(1),
    "n_show": _int_at_least(0),
    "min_users": _int_at_least(1),
    "limit": _int_at_least(1, none_ok=True),
    "kappa": _int_at_least(2, none_ok=True),
    "max_share": _share,
    "models": _list_of(_model_label, "models"),
    "ablations": _list_of(_variant, "CIKGRec variants", none_ok=False),
    "clusterers": _list_of(_one_of(_clusterers), "clusterers"),
    "encoders": _list_of(lambda v, ctx: None if isinstance(v, str) else "a name", "encoder names"),
    "overrides": _overrides,
    "grid": _grid,
    "reuse": _bool_or_none,
    "train_missing": _bool_or_none,
    "train_if_missing": _bool_or_none,
    "run_if_missing": _bool_or_none,
    "include_quick": _bool_or_none,
    "runs_dir": _text_or_none,
    "run": _text_or_none,
    "sweep": _text_or_none,
    "answers": _text_or_none,
    "template": _text_or_none,
    "model": _text_or_none,
    "sweep_record": _text_or_none,
    "interests": lambda v, ctx: None if isinstance(v, str) and v else "paper, none or a folder written by 03",
    ("07_sparsity", "metric"): _one_of(_sparsity_metrics, " (the per-group metrics of the runs' sparsity_groups.csv)"),
    (EXPLORER, "k"): lambda v, ctx: (
        None if _is_int(v) and 1 <= v <= 100 else "an integer in [1, 100] (the artefact holds each user's top-100)"
    ),
}


def check_parameters(
    names: list[str],
    parameters: dict[str, Any],
    root: Path | None = None,
    declared: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> None:
    """Reject, before any kernel starts, a parameter that none of the notebooks ``names``
    declares and a value that does not fit the notebook (the type of its default and
    :data:`PARAM_CHECKS`). Raises :class:`ParameterError`: one line naming the parameter and
    the valid names or values."""
    import difflib

    declared = declared or {n: notebook_parameters(n, root) for n in names}
    known = sorted({k for d in declared.values() for k in d})
    probs: list[str] = []
    for key in parameters:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            probs.append(
                f"notebook parameter {key!r} is not a parameter of {', '.join(names)}"
                + (f"; did you mean {close[0]!r}?" if close else "")
                + f" (valid: {', '.join(known)})"
            )
    bad: dict[tuple[str, str], list[str]] = {}  # (parameter, what was expected) -> notebooks
    for nb in names:
        for key, spec in declared[nb].items():
            if key not in parameters:
                continue
            v = parameters[key]
            check = PARAM_CHECKS.get((nb, key), PARAM_CHECKS.get(key))
            typed = _type_of(spec["default"])
            what = None
            if typed is not None and not (v is None and check is not None) and not typed[0](v):
                what = typed[1]
            if what is None and check is not None and not (v is None and spec["default"] is None):
                what = check(v, parameters)
            if what:
                bad.setdefault((key, what), []).append(nb)
    for (key, what), nbs in bad.items():
        probs.append(f"notebook parameter {key}={parameters[key]!r} ({', '.join(nbs)}): expected {what}")
    if probs:
        raise ParameterError("; ".join(probs))


# ----------------------------------------------------------------------------- runner
def notebook_path(name: str, root: Path | None = None) -> Path:
    p = (root or project_root()) / "notebooks" / f"{name}.ipynb"
    if not p.exists():
        raise FileNotFoundError(f"{p}: notebook not found (expected one of {', '.join(NOTEBOOKS)} or {EXPLORER})")
    return p


def _select(only: Any) -> list[str]:
    if only is None:
        return list(NOTEBOOKS)
    wanted = [s.strip() for s in (only.split(",") if isinstance(only, str) else only) if str(s).strip()]
    out = []
    for w in wanted:
        w = w.zfill(2) if w.isdigit() else w
        hits = [n for n in (*NOTEBOOKS, EXPLORER) if n == w or n.split("_")[0] == w or n.startswith(w)]
        if not hits:
            raise ValueError(f"notebook {w!r}: expected a number or name among {', '.join(NOTEBOOKS)}, {EXPLORER}")
        out.append(hits[0])
    return out


def _to_html(executed: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    if not any(getattr(f, "_cikgwb", False) for f in exporter.log.filters):
        # figures are PNGs whose title is in the notebook text; nbconvert's alt-text notice is noise
        quiet = logging.Filter()
        quiet.filter = lambda r: not str(r.msg).startswith("Alternative text is missing")  # type: ignore[method-assign]
        quiet._cikgwb = True  # type: ignore[attr-defined]
        exporter.log.addFilter(quiet)
    body, _ = exporter.from_notebook_node(
        nbformat.read(executed, as_version=4), resources={"metadata": {"name": executed.stem}}
    )
    out = executed.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def missing_lines(executed: str | Path) -> list[str]:
    """The ``MISSING: ...`` lines an executed notebook printed: a table or figure it could not
    draw (a notebook that draws nothing must not pass as ``ok``)."""
    nb = json.loads(Path(executed).read_text())
    out = []
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            text = o.get("text", "") if o.get("output_type") == "stream" else ""
            text = "".join(text) if isinstance(text, list) else text
            out += [ln.strip() for ln in text.splitlines() if ln.strip().startswith("MISSING")]
    return out


def run_all(
    quick: bool = True,
    dataset: str = "synthetic",
    out_dir: str | Path | None = None,
    only: Any = None,
    parameters: dict[str, Any] | None = None,
    html: bool = True,
    kernel_name: str = "python3",
    stop_on_error: bool = False,
    log: Any = print,
    check: bool = False,
) -> list[dict[str, Any]]:
    """Execute the notebooks 01..09 in order with papermill (``only``: a subset, by number or name).

    Each gets ``dataset`` and ``quick`` plus those of ``parameters`` that its ``parameters`` cell
    declares. Executed notebooks (and their HTML) go to ``out_dir`` (default
    ``<reports>/notebooks``) ``/<tag>/``; a failure is recorded and the next notebook runs (the
    executed notebook shows the failing cell); at the end a ``RuntimeError`` names the failures.
    Returns one dict per notebook: name, status (``ok``, ``failed``, or ``missing`` when it printed
    a ``MISSING: ...`` line for something it could not draw; those lines are logged and listed at
    the end), seconds, output paths.

    ``check`` (``cikgwb notebooks`` sets it): before any kernel starts, a parameter that none of
    the selected notebooks declares, or a value that does not fit (:func:`check_parameters`,
    ``dataset`` too), raises :class:`ParameterError` naming it and the valid choices; without
    it, undeclared parameters are left out as described above.
    """
    import papermill  # noqa: F401  (without the extra: an ImportError before any work)

    root = project_root()
    reports = reports_dir(root)
    names = _select(only)
    given = {"dataset": dataset, "quick": bool(quick), **(parameters or {})}
    if check:
        check_parameters(names, given, root)
    out = Path(out_dir) if out_dir is not None else reports / "notebooks"
    out = (out if out.is_absolute() else root / out) / figures_tag(dataset, quick)
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    t_all = time.time()
    with _kernel_env(reports, root):
        for name in names:
            rec, t0 = _execute(name, root, out, given, kernel_name)
            if committed_product(name, figures_tag(dataset, quick)):
                from .made_by import record

                record(reports, figures_tag(dataset, quick), rec, t0, quick=bool(quick), dataset=dataset)
            if html and Path(rec["executed"]).exists():
                try:
                    rec["html"] = str(_to_html(Path(rec["executed"])))
                except Exception as e:  # pragma: no cover - nbconvert problems should not hide results
                    rec["html_error"] = f"{type(e).__name__}: {e}"
            results.append(rec)
            log(
                f"[{rec['status']:>7}] {name:<24} {rec['seconds']:7.1f} s  -> {rec['executed']}"
                + (f"  ({rec['error']})" if rec["status"] == "failed" else "")
                + "".join(f"\n          {m}" for m in rec.get("missing", []))
            )
            if rec["status"] == "failed" and stop_on_error:
                break
    _summary(results, out, reports, dataset, quick, round(time.time() - t_all, 1), log)
    return results


@contextmanager
def _kernel_env(reports: Path, root: Path) -> Iterator[None]:
    """The reports folder, project root and data folder set in the environment the kernels
    inherit (the one rule's answers, for child processes too); restored afterwards."""
    from .paths import environment

    with environment({"CIKGWB_REPORTS_DIR": str(reports), "CIKGWB_ROOT": str(root)}):
        with environment({"CIKGWB_DATA_DIR": str(data_dir())}):  # asked once the root is set
            yield


def _execute(name: str, root: Path, out: Path, given: dict[str, Any], kernel_name: str) -> tuple[dict[str, Any], float]:
    """Execute one notebook with those of ``given`` that it declares: its record (status ``ok``,
    ``missing`` or ``failed``, seconds, the executed copy) and its start time."""
    import papermill as pm

    src = notebook_path(name, root)
    declared = set(read_parameters(src))
    params = {k: v for k, v in given.items() if k in declared}
    dst = out / f"{name}.ipynb"
    t0 = time.time()
    rec: dict[str, Any] = {"notebook": name, "parameters": params, "executed": str(dst)}
    try:
        pm.execute_notebook(
            str(src),
            str(dst),
            parameters=params,
            kernel_name=kernel_name,
            cwd=str(src.parent),
            progress_bar=False,
            log_output=False,
        )
        missing = missing_lines(dst)
        rec["status"] = "missing" if missing else "ok"
        if missing:
            rec["missing"] = missing
    except Exception as e:  # papermill's execution error carries the failing cell
        rec["status"] = "failed"
        rec["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
    rec["seconds"] = round(time.time() - t0, 1)
    return rec, t0


def _summary(
    results: list[dict[str, Any]], out: Path, reports: Path, dataset: str, quick: bool, total: float, log: Any
) -> None:
    """Write ``run_all.json``, log the totals and what is incomplete; raise where a notebook failed."""
    summary = {
        "dataset": dataset,
        "quick": bool(quick),
        "total_seconds": total,
        "notebooks": results,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu_count": os.cpu_count(),
    }
    (out / "run_all.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(
        f"{len(results)} notebooks in {total:.0f} s; executed notebooks and HTML in {out}; "
        f"figures in {reports / 'figures' / figures_tag(dataset, quick)}"
    )
    incomplete = [r["notebook"] for r in results if r["status"] == "missing"]
    if incomplete:
        log(
            f"drawn incompletely (a MISSING line names what is not drawn and the command that makes it): "
            f"{', '.join(incomplete)}"
        )
    failed = [r["notebook"] for r in results if r["status"] == "failed"]
    if failed:
        raise RuntimeError(f"notebooks failed: {', '.join(failed)} (see the executed copies in {out})")
