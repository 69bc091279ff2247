"""The ordered notebooks: what each one starts with (:func:`start`) and the headless runner
(:func:`run_all`, ``cikgwb notebooks``, ``python -m cikgwb.notebooks``).

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

import argparse
import base64
import json
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOTEBOOKS = ("01_data", "02_prompting", "03_interest_clustering", "04_cikg", "05_training", "06_results",
             "07_sparsity", "08_case_study", "09_sensitivity")
EXPLORER = "explorer"


# ----------------------------------------------------------------------------- paths
def project_root() -> Path:
    """The project folder: ``$CIKGWB_ROOT``, else the nearest folder at or above the current
    one holding ``notebooks/01_data.ipynb``, else the folder above this package (editable
    install), else the current folder."""
    env = os.environ.get("CIKGWB_ROOT", "").strip()
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / "notebooks" / f"{NOTEBOOKS[0]}.ipynb").exists():
            return p
    pkg_parent = Path(__file__).resolve().parent.parent
    if (pkg_parent / "notebooks").is_dir():
        return pkg_parent
    return here


def reports_dir(root: Path | None = None) -> Path:
    """``$CIKGWB_REPORTS_DIR`` (a relative path is taken from the project root) or ``<root>/reports``."""
    root = root or project_root()
    env = os.environ.get("CIKGWB_REPORTS_DIR", "").strip()
    if env:
        p = Path(env).expanduser()
        return (p if p.is_absolute() else root / p).resolve()
    return root / "reports"


def figures_tag(dataset: str, quick: bool) -> str:
    """Folder name for a dataset's figures and executed notebooks: the dataset name in its
    usual mode (quick for ``synthetic``, full for the real datasets), else ``<dataset>-quick``
    or ``<dataset>-full``, so a quick look never overwrites the committed full figures."""
    usual_quick = dataset == "synthetic"
    return dataset if quick == usual_quick else f"{dataset}-{'quick' if quick else 'full'}"


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
        bundle: dict[str, Any] = {"application/vnd.plotly.v1+json": {**json.loads(fig.to_json()),
                                                                     "config": {"responsive": True}},
                                  "text/plain": f"<figure {self.name}_{stem}: " + ", ".join(str(p) for p in paths) + ">"}
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
        return (f"{self.name}: dataset {self.dataset}, {self.mode} mode; figures -> {self.figures}; "
                f"runs -> {self.runs}")


def start(name: str, dataset: str = "synthetic", quick: bool = True, record: str | None = None) -> Notebook:
    """Set up a notebook: paths (:func:`project_root`, :func:`reports_dir`), the data folder
    (``$CIKGWB_DATA_DIR`` or ``<project>/data``), quiet warnings; prints where things go."""
    if not isinstance(dataset, str) or not dataset:
        raise ValueError(f"dataset must be a dataset name (e.g. 'synthetic'), got {dataset!r}")
    root = project_root()
    if not os.environ.get("CIKGWB_DATA_DIR", "").strip():
        os.environ["CIKGWB_DATA_DIR"] = str(root / "data")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
    warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")
    reports = reports_dir(root)
    nb = Notebook(name=name, dataset=dataset, quick=bool(quick), root=root, reports=reports,
                  figures=reports / "figures" / figures_tag(dataset, bool(quick)),
                  record_path=Path(record) if record else None)
    nb.figures.mkdir(parents=True, exist_ok=True)
    print(nb.header())
    return nb


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
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4),
                                          resources={"metadata": {"name": executed.stem}})
    out = executed.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def run_all(quick: bool = True, dataset: str = "synthetic", out_dir: str | Path | None = None,
            only: Any = None, parameters: dict[str, Any] | None = None, html: bool = True,
            kernel_name: str = "python3", stop_on_error: bool = False, log: Any = print) -> list[dict[str, Any]]:
    """Execute the notebooks 01..09 in order with papermill (``only``: a subset, by number or name).

    Each gets ``dataset`` and ``quick`` plus those of ``parameters`` that its ``parameters`` cell
    declares. Executed notebooks (and their HTML) go to ``out_dir`` (default
    ``<reports>/notebooks``) ``/<tag>/``; a failure is recorded and the next notebook runs (the
    executed notebook shows the failing cell); at the end a ``RuntimeError`` names the failures.
    Returns one dict per notebook: name, status, seconds, output paths.
    """
    import papermill as pm

    root = project_root()
    reports = reports_dir(root)
    out = Path(out_dir) if out_dir is not None else reports / "notebooks"
    if not out.is_absolute():
        out = root / out
    out = out / figures_tag(dataset, quick)
    out.mkdir(parents=True, exist_ok=True)
    names = _select(only)
    env_before = {k: os.environ.get(k) for k in ("CIKGWB_REPORTS_DIR", "CIKGWB_DATA_DIR", "CIKGWB_ROOT")}
    os.environ["CIKGWB_REPORTS_DIR"] = str(reports)      # the kernels inherit these
    os.environ["CIKGWB_ROOT"] = str(root)
    if not os.environ.get("CIKGWB_DATA_DIR", "").strip():
        os.environ["CIKGWB_DATA_DIR"] = str(root / "data")
    results: list[dict[str, Any]] = []
    t_all = time.time()
    try:
        for name in names:
            src = notebook_path(name, root)
            declared = set(pm.inspect_notebook(str(src)).keys())
            params = {"dataset": dataset, "quick": bool(quick), **(parameters or {})}
            params = {k: v for k, v in params.items() if k in declared}
            dst = out / f"{name}.ipynb"
            t0 = time.time()
            rec: dict[str, Any] = {"notebook": name, "parameters": params, "executed": str(dst)}
            try:
                pm.execute_notebook(str(src), str(dst), parameters=params, kernel_name=kernel_name,
                                    cwd=str(src.parent), progress_bar=False, log_output=False)
                rec["status"] = "ok"
            except Exception as e:  # papermill's execution error carries the failing cell
                rec["status"] = "failed"
                rec["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
            rec["seconds"] = round(time.time() - t0, 1)
            if html and dst.exists():
                try:
                    rec["html"] = str(_to_html(dst))
                except Exception as e:  # pragma: no cover - nbconvert problems should not hide results
                    rec["html_error"] = f"{type(e).__name__}: {e}"
            results.append(rec)
            log(f"[{rec['status']:>6}] {name:<24} {rec['seconds']:7.1f} s  -> {dst}"
                + (f"  ({rec['error']})" if rec["status"] == "failed" else ""))
            if rec["status"] == "failed" and stop_on_error:
                break
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    total = round(time.time() - t_all, 1)
    summary = {"dataset": dataset, "quick": bool(quick), "total_seconds": total, "notebooks": results,
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpu_count": os.cpu_count()}
    (out / "run_all.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(f"{len(results)} notebooks in {total:.0f} s; executed notebooks and HTML in {out}; "
        f"figures in {reports / 'figures' / figures_tag(dataset, quick)}")
    failed = [r["notebook"] for r in results if r["status"] != "ok"]
    if failed:
        raise RuntimeError(f"notebooks failed: {', '.join(failed)} (see the executed copies in {out})")
    return results


# ----------------------------------------------------------------------------- CLI
def _parse_value(text: str) -> Any:
    import yaml
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _cli(args: argparse.Namespace) -> int:
    params = {}
    for item in args.param or []:
        if "=" not in item:
            raise SystemExit(f"-p {item!r}: expected name=value")
        k, v = item.split("=", 1)
        params[k.strip()] = _parse_value(v)
    try:
        run_all(quick=not args.full, dataset=args.dataset, out_dir=args.out, only=args.only, parameters=params,
                html=not args.no_html, stop_on_error=args.stop_on_error)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``cikgwb notebooks``: execute the numbered notebooks with papermill."""
    p = subparsers.add_parser("notebooks", help="execute the notebooks 01..09 headlessly (papermill)",
                              description=run_all.__doc__)
    _add_args(p)
    p.set_defaults(func=_cli)
    return p


def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--full", action="store_true", help="full mode (train to early stop, all encoders, ...)")
    p.add_argument("--only", default=None, help="comma-separated numbers or names, e.g. 01,05")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                   help="a notebook parameter (YAML value), passed where the notebook declares it")
    p.add_argument("--out", default=None, help="folder for executed notebooks (default reports/notebooks)")
    p.add_argument("--no-html", action="store_true")
    p.add_argument("--stop-on-error", action="store_true")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cikgwb.notebooks", description=run_all.__doc__)
    _add_args(p)
    return _cli(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
