"""The ipywidgets run explorer (JupyterLab or Voila, ``notebooks/explorer.ipynb``).

:class:`RunExplorer` opens a finished run's compact artefact (``explorer.npz``,
:mod:`cikgwb.run_artefact`; nothing is trained): pick a run and a user; see the user's training
titles, their interest nodes with labels and the users sharing each, their top-K list with test
hits marked and the interest path linking the user to each item where one exists
(:mod:`cikgwb.explorer`), and the test items the list missed; pick an interest to see its label,
members and the items most common among them.

The views render into ``HTML`` widgets whose markup carries stable classes and ``data-``
attributes (``cikgwb-user[data-user]``, ``cikgwb-interests tr[data-interest]``, ``cikgwb-topk
li[data-item][data-hit]``) so that a browser test can read them.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


# ----------------------------------------------------------------------------- run explorer (artefacts)
def render_run_user(rep: dict[str, Any], a: Any) -> str:
    """HTML of a :func:`cikgwb.explorer.artefact_user_report` of run artefact ``a``. Stable
    hooks: ``.cikgwb-user[data-user]``, ``.cikgwb-interests tr[data-interest]`` with
    ``.cikgwb-interest-label`` and ``.cikgwb-interest-neighbours``, ``.cikgwb-neighbours
    tr[data-user]``, ``.cikgwb-topk li[data-item][data-hit][data-score]``, ``.cikgwb-missed
    li[data-item][data-rank]``."""
    u, k = rep["user"], rep["k"]
    m = rep["metrics"]
    mtxt = (
        ", ".join(f"{name} {m[name]:.3f}" for name in (f"recall@{k}", f"ndcg@{k}", "recall@50", "ndcg@50") if name in m)
        or "no test items: no metrics"
    )
    parts = [
        f'<div class="cikgwb-user" data-user="{u}">',
        f"<h3>User {u}</h3>",
        f'<p class="cikgwb-counts">{rep["n_train"]} items in train.txt, {rep["n_test"]} test items; this '
        f"user's test metrics at the selected epoch: {_e(mtxt)}<br><small>{_e(train_note(a.meta.get('protocol')))}"
        "</small></p>",
        '<div style="display:flex;gap:24px;flex-wrap:wrap">',
        '<div style="flex:1.3;min-width:420px"><h4>Interests</h4>',
        *_interests_html(rep["interests"]),
        *_neighbours_html(rep["neighbours"]),
        f'<h4>Training titles (last {len(rep["titles"])}, file order)</h4><ol class="cikgwb-titles">',
        *(
            f'<li data-item="{int(i)}">{_e(t)} <small>(item {int(i)})</small></li>'
            for i, t in zip(rep["titles"]["item"], rep["titles"]["title"])
        ),
        "</ol></div>",
        *_topk_html(rep["topk"], k, rep["n_test"]),
        *_missed_html(rep["missed"], k),
        "</div></div></div>",
    ]
    return "".join(parts)


def _interests_html(it: Any) -> list[str]:
    """The user's interests, each with its label, holders and the neighbours who share it."""
    if len(it) == 0:
        return ['<table class="cikgwb-interests"></table><i>this user has no interest node</i>']
    parts = [
        '<table class="cikgwb-interests"><tr><th>interest</th><th>label</th><th>holders</th>'
        "<th>neighbours who share it</th></tr>"
    ]
    for _, r in it.iterrows():
        nbs = r["neighbours"]
        shown = ", ".join(str(v) for v in nbs[:15]) + (f" &hellip; (+{len(nbs) - 15} more)" if len(nbs) > 15 else "")
        parts.append(
            f'<tr data-interest="{int(r["interest"])}" data-method="{_e(r["method"])}">'
            f"<td>{int(r['interest'])}<br><small>id {int(r['original id'])}</small></td>"
            f'<td class="cikgwb-interest-label">{_e(r["label"])}</td><td>{int(r["holders"])}</td>'
            f'<td class="cikgwb-interest-neighbours">{shown or "<i>nobody else</i>"}</td></tr>'
        )
    return [*parts, "</table>"]


def _neighbours_html(nb: Any) -> list[str]:
    """The users sharing most interests with the user."""
    parts = [
        "<h4>Neighbours: users sharing most interests</h4>",
        '<table class="cikgwb-neighbours"><tr><th>user</th><th>shared interests</th><th>which</th></tr>',
    ]
    for _, r in nb.iterrows():
        parts.append(
            f'<tr data-user="{int(r["user"])}"><td>{int(r["user"])}</td><td>{int(r["shared interests"])}</td>'
            f"<td>{_e(', '.join(str(j) for j in r['interests']))}</td></tr>"
        )
    parts.append("</table>")
    if len(nb) == 0:
        parts.append("<i>no user shares an interest with this user</i>")
    return parts


def _topk_html(tk: Any, k: int, n_test: int) -> list[str]:
    """The user's top-``k`` list, test hits marked, each with its path where one is known."""
    from .run_artefact import fmt_score

    parts = [
        f'<div style="flex:1;min-width:360px"><h4>Top-{k} recommendations ({int(tk["hit"].sum())} of {n_test} '
        'test items hit)</h4><ol class="cikgwb-topk">'
    ]
    for _, r in tk.iterrows():
        mark = ' <b style="color:#c0392b">&#10003; test hit</b>' if r["hit"] else ""
        path = f'<br><small class="cikgwb-path">{_e(r["path"])}</small>' if r["path"] else ""
        parts.append(
            f'<li data-item="{int(r["item"])}" data-hit="{int(bool(r["hit"]))}" '
            f'data-score="{fmt_score(float(r["score"]))}">{_e(r["title"])} '
            f"<small>(item {int(r['item'])}, score {fmt_score(float(r['score']))})</small>{mark}{path}</li>"
        )
    return [*parts, "</ol>"]


def _missed_html(miss: Any, k: int) -> list[str]:
    """The user's test items the top-``k`` missed, the :data:`MAX_MISSED` ranked highest shown."""
    shown = miss.head(MAX_MISSED)
    parts = [
        f"<h4>Test items the top-{k} missed ({len(miss)}"
        + (f"; the {len(shown)} ranked highest shown" if len(miss) > len(shown) else "")
        + f')</h4><ul class="cikgwb-missed" data-total="{len(miss)}">'
    ]
    for _, r in shown.iterrows():
        rk = int(r["rank"])
        where = f"rank {rk:,}" if rk > 0 else "masked: also a training item, never ranked"
        parts.append(
            f'<li data-item="{int(r["item"])}" data-rank="{rk}">{_e(r["title"])} '
            f"<small>(item {int(r['item'])}; {where})</small></li>"
        )
    parts.append("</ul>")
    if len(miss) > len(shown):
        rest = miss["rank"].iloc[len(shown) :]
        worst = "masked" if (rest == 0).any() else f"rank {int(rest.max()):,}"
        parts.append(f"<small>&hellip; and {len(rest)} more, ranked lower (down to {worst})</small>")
    return parts


def train_note(protocol: str | None) -> str:
    """Which items a user's training count counts, for a run of ``protocol``
    (:data:`cikgwb.run_spec.PROTOCOLS`: what it trains on)."""
    from .run_spec import PROTOCOLS

    if protocol in PROTOCOLS and PROTOCOLS[protocol].train == "train":
        return (
            f"items in train.txt: the {protocol} protocol trained on about 7/8 of them and selected the epoch on "
            "the rest (cikgwb graph user counts that train split; --split train_full counts all of train.txt); "
            "the ranking masks them all"
        )
    return "items in train.txt: the model trained on all of them, and the ranking masks them all"


def render_run_interest(rep: dict[str, Any]) -> str:
    """HTML of a :func:`cikgwb.explorer.artefact_interest_report`."""
    j = rep["interest"]
    parts = [
        f'<div class="cikgwb-interest" data-interest="{j}"><h3>Interest {j} '
        f"<small>(id {rep['original id']} in the graph file)</small></h3>",
        f'<p class="cikgwb-interest-label">{_e(rep["label"])}</p>',
        f"<p>label made from: {_e(rep['method'])}; {rep['n_members']} users hold it</p>",
        f'<p class="cikgwb-members">users: {_e(", ".join(str(m) for m in rep["members"]))}'
        + (" &hellip;" if rep["n_members"] > len(rep["members"]) else "")
        + "</p>",
        "<h4>Items most common among its users (training items)</h4>",
        rep["top_items"].to_html(
            index=False,
            classes="cikgwb-interest-items",
            escape=True,
            formatters={"share": "{:.1%}".format, "lift": "{:.3g}".format},
        ),
        "</div>",
    ]
    return "".join(parts)


def _parse_query(qs: str | None) -> dict[str, str]:
    from urllib.parse import parse_qs

    return {k: v[-1] for k, v in parse_qs(qs or "", keep_blank_values=False).items()}


def explorer_preference(dataset: str | None) -> list[Any]:
    """The explorer's first run (:func:`cikgwb.runs.find_runs`' ``prefer``, on
    :func:`cikgwb.run_artefact.find_artefacts`' rows): one with an artefact, of ``dataset`` when
    one is named, on a real dataset (a synthetic toy run only when no real run has one),
    book-crossing CIKGRec (the paper's case study), then any CIKGRec, at its default settings, the
    headline protocols (``users``, then ``valid``), converged."""
    return [
        "artefact",
        *([{"dataset": dataset}] if dataset else []),
        "real",
        {"dataset": "book-crossing", "model": "cikgrec"},
        {"model": "cikgrec"},
        "plain",
        {"protocol": "users"},
        {"protocol": "valid"},
        "converged",
    ]


#: the missed test items shown per user (the best ranked; the rest are counted)
MAX_MISSED = 20


def _line(cls: str, text: str) -> str:
    """One line of the explorer's header or status (an error in red)."""
    colour = ' style="color:#c0392b"' if "error" in cls or "missing" in cls else ""
    return f'<p class="{cls}"{colour}>{text}</p>'


class RunExplorer:
    """Explorer over committed runs' artefacts (``explorer.npz``, :mod:`cikgwb.run_artefact`):
    pick a run (a dropdown of every finished run under ``roots``; one without an artefact is
    marked, and opening it says whether its checkpoint is here and which commands make one;
    nothing is trained) and a user; see the user's interests with their labels and the
    neighbours who share each, the top-K list with scores, item ids, test hits and interest paths,
    and the test items the list missed with their rank (the :data:`MAX_MISSED` ranked highest).

    ``run``: a run name or path to open first (an unknown one: one line saying so, and no run is
    opened until one is picked); default: the best real run present (:func:`explorer_preference`);
    ``user``: the user to show first (default: one with a test hit reached through an interest)."""

    def __init__(
        self, roots: list[Any], run: str | None = None, user: int | None = None, k: int = 20, dataset: str | None = None
    ):
        import ipywidgets as w

        from .run_artefact import find_artefacts

        self.k = int(k)
        self.roots = list(roots)
        self.runs = find_artefacts(roots)
        self._cache: dict[str, Any] = {}
        self._syncing = False
        self.a = None
        self.current: int | None = None
        opts = [
            (f"{r['dataset']} · {r['run']}" + (f"  ({r['missing']})" if r["missing"] else ""), r["path"])
            for r in self.runs
        ]
        self.pick = w.Dropdown(options=opts, value=None, description="Run", layout=w.Layout(width="720px"))
        self.pick.add_class("cikgwb-run-pick")
        self.user_box = w.Text(
            placeholder="user id, e.g. 12", description="User", continuous_update=False, layout=w.Layout(width="220px")
        )
        self.user_box.add_class("cikgwb-user-input")
        self.show_button = w.Button(description="Show", button_style="primary", layout=w.Layout(width="90px"))
        self.show_button.add_class("cikgwb-show")
        self.header = w.HTML()
        self.status = w.HTML()
        self.out = w.HTML()
        self.interest_pick = w.Dropdown(options=[], description="Interest", layout=w.Layout(width="640px"))
        self.interest_pick.add_class("cikgwb-interest-pick")
        self.interest_out = w.HTML()
        self.interest_pick.observe(
            lambda ch: ch["new"] is not None and self.show_interest(int(ch["new"])), names="value"
        )
        users = w.VBox([w.HBox([self.user_box, self.show_button]), self.status, self.out])
        interests = w.VBox([self.interest_pick, self.interest_out])
        self.tabs = w.Tab(children=[users, interests])
        self.tabs.set_title(0, "Users")
        self.tabs.set_title(1, "Interests")
        self.widget = w.VBox([self.pick, self.header, self.tabs])
        self.show_button.on_click(lambda _: self._show_from_box())
        self.user_box.observe(lambda ch: self._show_from_box(), names="value")
        if not self.runs:
            self.header.value = _line(
                "cikgwb-missing",
                f"No finished run found under {_e(', '.join(str(r) for r in roots))}. Train one (`cikgwb train "
                "...`), then make its artefact with `cikgwb artefact RUN_DIR`; this explorer never trains.",
            )
            return
        first = self._initial(run, dataset)
        if first is not None:
            self.pick.value = first
            self.open(first, user)
        self.pick.observe(lambda ch: ch["new"] is not None and self.open(ch["new"]), names="value")

    def _initial(self, run: str | None, dataset: str | None) -> str | None:
        """The run opened first (:func:`cikgwb.runs.find_run` on the listed runs): ``run`` when
        named and found; an unknown ``run`` opens none and says so in one line; else the best
        run by :func:`explorer_preference`."""
        from .runs import find_run

        listed = pd.DataFrame(self.runs)
        if run:
            hit = find_run(listed, run=run)
            if hit is not None:
                return hit["path"]
            import difflib

            close = difflib.get_close_matches(str(run), [r["run"] for r in self.runs], n=3, cutoff=0.6)
            self.header.value = _line(
                "cikgwb-error cikgwb-notfound",
                f"run {_e(run)} not found among the {len(self.runs)} finished runs under "
                f"{_e(', '.join(str(r) for r in self.roots))}"
                + (f" (close: {_e(', '.join(close))})" if close else "")
                + "; pick one in the list above",
            )
            return None
        return find_run(listed, prefer=explorer_preference(dataset))["path"]

    def open(self, path: str, user: int | None = None) -> None:
        """Open the run at ``path`` (its artefact), then ``user`` (default: a user with a test hit
        reached through an interest); a run without an artefact says why and how to make one."""
        from .explorer import artefact_default_user
        from .run_artefact import load_artefact, missing_artefact

        rec = next((r for r in self.runs if r["path"] == path), None)
        self.status.value = ""  # nothing said about the previous run stays
        if rec is None or not rec["artefact"]:
            self.a, self.current = None, None
            self.out.value = self.interest_out.value = ""
            self.interest_pick.options = []
            self._sync_box("")
            self.header.value = _line(
                "cikgwb-missing",
                f"Run {_e(Path(path).name)}: {_e(missing_artefact(path))}. This explorer never trains.",
            )
            return
        if path not in self._cache:
            self._cache[path] = load_artefact(path)
        self.a = a = self._cache[path]
        self.header.value = (
            f'<p class="cikgwb-run" data-run="{_e(a.meta["run"])}"><b>{_e(a.describe())}</b><br>'
            f"<small>interest labels: {_e(a.meta.get('label_note'))}; interest source: "
            f"{_e(a.meta.get('interests'))}; {a.n_users:,} users, {a.n_items:,} items, "
            f"{a.n_interests:,} interests; lists of the top {a.meta['top_n']} stored</small></p>"
        )
        sizes = np.bincount(a.ui[:, 1].astype(np.int64), minlength=a.n_interests)
        order = np.argsort(-sizes, kind="stable")
        self.interest_out.value = ""
        self.interest_pick.options = [
            (f"{int(j)}: {a.labels[int(j)][:90]} ({int(sizes[j])} users)", int(j)) for j in order
        ]
        if len(order):
            self.interest_pick.value = int(order[0])  # the largest interest, shown at once
            self.show_interest(int(order[0]))  # (also when the value did not change)
        self.show(artefact_default_user(a, self.k) if user is None else int(user))

    def _sync_box(self, text: str) -> None:
        """Put ``text`` in the User box without it asking for that user again."""
        self._syncing = True
        try:
            self.user_box.value = text
        finally:
            self._syncing = False

    def _show_from_box(self) -> None:
        text = (self.user_box.value or "").strip()
        if self._syncing or not text or self.a is None:
            return
        try:
            u = int(text)
        except ValueError:
            self.status.value = _line(
                "cikgwb-error", f"{_e(text)} is not a user id (expected an integer 0..{self.a.n_users - 1})"
            )
            return
        self.show(u)

    def show(self, user: int) -> None:
        """Render ``user`` of the open run (the User box shows it); an id out of range shows an
        error line instead and leaves the shown user as it was."""
        from .explorer import artefact_user_report

        if self.a is None:
            return
        if not 0 <= int(user) < self.a.n_users:
            self.status.value = _line(
                "cikgwb-error", f"user {int(user)} out of range (expected 0..{self.a.n_users - 1})"
            )
            return
        self.status.value = ""
        self.out.value = render_run_user(artefact_user_report(self.a, int(user), k=self.k), self.a)
        self.current = int(user)
        self._sync_box(str(self.current))

    def show_interest(self, interest: int) -> None:
        """Render interest ``interest`` of the open run (label, how it was made, users, their items)."""
        from .explorer import artefact_interest_report

        if self.a is not None:
            self.interest_out.value = render_run_interest(artefact_interest_report(self.a, int(interest)))

    @classmethod
    def from_query(cls, roots: list[Any], query: str | None = None, **defaults: Any) -> RunExplorer:
        """Built from a URL query string (Voila passes it as ``$QUERY_STRING``): ``run``, ``user``,
        ``k``, ``dataset`` override ``defaults``."""
        import os

        q = _parse_query(os.environ.get("QUERY_STRING", "") if query is None else query)
        kw = dict(defaults)
        if q.get("run"):
            kw["run"] = q["run"]
        if q.get("dataset"):
            kw["dataset"] = q["dataset"]
        for key in ("user", "k"):
            if q.get(key):
                try:
                    kw[key] = int(q[key])
                except ValueError:
                    pass
        return cls(roots, **kw)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
