"""ipywidgets explorers over a dataset and a trained model's top-K lists (JupyterLab or Voila).

:class:`UserExplorer`: pick a user by id or search users by a word of their training titles;
see their training titles (what the LLM prompt holds), the raw answer of the interest backend
with its source, their interest nodes with labels and the users sharing each, and their top-K
list with test hits marked and the interest path linking the user to each item where one exists
(:mod:`cikgwb.explorer`).

:class:`InterestBrowser`: pick an interest; see its label, source, top phrases, members and the
items most common among them.

Both render into ``HTML`` widgets whose markup carries stable classes and ``data-`` attributes
(``cikgwb-user[data-user]``, ``cikgwb-interests tr[data-interest]``, ``cikgwb-topk
li[data-item][data-hit]``) so that a browser test can read them.
"""
from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from .explorer import interest_report, user_report


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def render_user(rep: dict[str, Any], k: int) -> str:
    """HTML of a :func:`cikgwb.explorer.user_report`."""
    u = rep["user"]
    parts = [f'<div class="cikgwb-user" data-user="{u}">',
             f"<h3>User {u}</h3>",
             f"<p>{len(rep['titles'])} training titles shown, {rep['n_test']} test items; interests: "
             f"{_e(rep['interests_source'])}</p>"]
    parts.append('<div style="display:flex;gap:24px;flex-wrap:wrap">')
    # training titles
    parts.append('<div style="flex:1;min-width:260px"><h4>Training titles (file order, last 30)</h4>'
                 '<ol class="cikgwb-titles">')
    parts += [f'<li data-item="{int(i)}">{_e(t)}</li>' for i, t in zip(rep["titles"]["item"], rep["titles"]["title"])]
    parts.append("</ol></div>")
    # answer + interests
    parts.append('<div style="flex:1;min-width:300px"><h4>Interest answer</h4>')
    a = rep["answer"]
    if a is None:
        parts.append('<div class="cikgwb-answer"><i>no answer recorded for this user</i></div>')
    else:
        parts.append(f'<div class="cikgwb-answer"><small>source: {_e(a["source"])}</small>'
                     f'<pre style="white-space:pre-wrap">{_e(a["raw"])}</pre>'
                     f'<small>parsed phrases: {_e("; ".join(a["phrases"]))}</small></div>')
    parts.append("<h4>Interest nodes</h4>")
    it = rep["interests"]
    if len(it) == 0:
        parts.append('<table class="cikgwb-interests"></table><i>this user has no interest node</i>')
    else:
        parts.append('<table class="cikgwb-interests"><tr><th>interest</th><th>label</th><th>holders</th>'
                     "<th>some other holders</th></tr>")
        for _, r in it.iterrows():
            others = ", ".join(str(v) for v in r["some other holders"])
            parts.append(f'<tr data-interest="{int(r["interest"])}"><td>{int(r["interest"])}</td>'
                         f'<td class="cikgwb-interest-label">{_e(r["label"])}</td><td>{int(r["holders"])}</td>'
                         f"<td>{_e(others)}</td></tr>")
        parts.append("</table>")
    parts.append("</div></div>")
    # top-K
    tk = rep["topk"]
    if tk is None:
        parts.append('<h4>Top-K</h4><ol class="cikgwb-topk"></ol><i>no model given: no recommendations</i>')
    else:
        n_hit = int(tk["hit"].sum())
        parts.append(f"<h4>Top-{k} recommendations ({n_hit} test hits, marked)</h4><ol class=\"cikgwb-topk\">")
        for _, r in tk.iterrows():
            mark = ' <b style="color:#c0392b">&#10003; test hit</b>' if r["hit"] else ""
            path = f'<br><small class="cikgwb-path">{_e(r["path"])}</small>' if r["path"] else ""
            parts.append(f'<li data-item="{int(r["item"])}" data-hit="{int(bool(r["hit"]))}">'
                         f'{_e(r["title"])}{mark}{path}</li>')
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def render_interest(rep: dict[str, Any]) -> str:
    """HTML of a :func:`cikgwb.explorer.interest_report`."""
    j = rep["interest"]
    parts = [f'<div class="cikgwb-interest" data-interest="{j}"><h3>Interest {j}: {_e(rep["label"])}</h3>',
             f"<p>source: {_e(rep['source'])}; {rep['n_members']} members</p>"]
    if rep.get("top_phrases"):
        parts.append(f"<p>top phrases: {_e(rep['top_phrases'])}</p>")
    parts.append(f'<p class="cikgwb-members">some members: {_e(", ".join(str(m) for m in rep["members"]))}</p>')
    ti = rep["top_items"]
    parts.append("<h4>Items most common among the members</h4>")
    parts.append(ti.to_html(index=False, classes="cikgwb-interest-items", float_format=lambda x: f"{x:.3f}",
                            escape=True))
    parts.append("</div>")
    return "".join(parts)


class UserExplorer:
    """User explorer (module docstring). ``topk``: ``(n_users, K)`` item ids from
    :func:`cikgwb.evaluate.evaluate` with ``return_topk`` (None: no recommendations shown);
    ``answers``: the answers table of :func:`cikgwb.knowledge.infer_interests` (optional)."""

    def __init__(self, ds: Any, topk: np.ndarray | None = None, answers: pd.DataFrame | None = None,
                 k: int = 20, user: int | None = None, title: str = ""):
        import ipywidgets as w

        if topk is not None:
            topk = np.asarray(topk)
            if topk.ndim != 2 or topk.shape[0] != ds.n_users:
                raise ValueError(f"topk has shape {topk.shape}, expected ({ds.n_users}, K): one row per user")
            k = min(k, topk.shape[1])
        self.ds, self.topk, self.answers, self.k = ds, topk, answers, k
        self.user_box = w.Combobox(placeholder="user id, e.g. 12", options=[str(u) for u in range(min(ds.n_users, 2000))],
                                   description="User", ensure_option=False, continuous_update=False,
                                   layout=w.Layout(width="220px"))
        self.user_box.add_class("cikgwb-user-input")
        self.show_button = w.Button(description="Show", button_style="primary", layout=w.Layout(width="90px"))
        self.show_button.add_class("cikgwb-show")
        self.find = w.Text(placeholder="find users by a title word", description="Search",
                           continuous_update=False, layout=w.Layout(width="320px"))
        self.matches = w.Dropdown(options=[], description="Matches", layout=w.Layout(width="360px"))
        self.status = w.HTML()
        self.out = w.HTML()
        self.show_button.on_click(lambda _: self._show_from_box())
        self.user_box.observe(lambda ch: self._show_from_box(), names="value")
        self.find.observe(lambda ch: self._search(ch["new"]), names="value")
        self.matches.observe(lambda ch: ch["new"] is not None and self.show(int(ch["new"])), names="value")
        header = w.HTML(f"<b>{_e(title)}</b>") if title else w.HTML()
        self.widget = w.VBox([header, w.HBox([self.user_box, self.show_button]), w.HBox([self.find, self.matches]),
                              self.status, self.out])
        self.show(user if user is not None else self.default_user())

    def default_user(self) -> int:
        """A user with a test hit in the top-K when there is one, else user 0."""
        if self.topk is not None:
            test = self.ds.matrix("test")
            for u in range(self.ds.n_users):
                t = test.indices[test.indptr[u]:test.indptr[u + 1]]
                if len(t) and np.isin(self.topk[u, :self.k], t).any():
                    return u
        return 0

    def _show_from_box(self) -> None:
        text = (self.user_box.value or "").strip()
        if not text:
            return
        try:
            self.show(int(text))
        except ValueError:
            self.status.value = (f'<span class="cikgwb-error" style="color:#c0392b">{_e(text)!s} is not a user id '
                                 f"(expected an integer 0..{self.ds.n_users - 1})</span>")

    def _search(self, word: str) -> None:
        word = (word or "").strip().lower()
        if not word:
            self.matches.options = []
            return
        hits = [i for i, t in enumerate(self.ds.titles) if t and word in t.lower()]
        m = self.ds.matrix("train")[:, hits].tocsr() if hits else None
        counts = np.asarray(m.sum(axis=1)).ravel() if m is not None else np.zeros(0)
        users = np.argsort(-counts, kind="stable")[:30] if len(counts) else []
        users = [int(u) for u in users if counts[u] > 0]
        self.matches.options = [(f"user {u} ({int(counts[u])} matching titles)", u) for u in users]
        self.status.value = f"{len(users)} users with training titles containing '{_e(word)}'" \
            + (" (first 30)" if len(users) == 30 else "")

    def show(self, user: int) -> None:
        """Render ``user``; an id out of range shows an error line instead."""
        if not 0 <= int(user) < self.ds.n_users:
            self.status.value = (f'<span class="cikgwb-error" style="color:#c0392b">user {int(user)} out of range '
                                 f"(expected 0..{self.ds.n_users - 1})</span>")
            return
        rep = user_report(self.ds, int(user), self.topk, self.answers, k=self.k)
        self.status.value = ""
        self.out.value = render_user(rep, self.k)
        self.current = int(user)

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)


class InterestBrowser:
    """Interest browser (module docstring), interests listed largest first."""

    def __init__(self, ds: Any, interest: int | None = None, top_items: int = 10):
        import ipywidgets as w

        if ds.n_interests == 0:
            raise ValueError(f"dataset {ds.name}: no interest nodes to browse (n_interests = 0)")
        from .inspect_graph import interest_label

        self.ds, self.top_items = ds, top_items
        sizes = np.bincount(ds.user_interest[:, 1], minlength=ds.n_interests)
        order = np.argsort(-sizes, kind="stable")
        opts = [(f"{j}: {interest_label(ds, int(j))[:50]} ({int(sizes[j])} users)", int(j)) for j in order]
        self.pick = w.Dropdown(options=opts, description="Interest", layout=w.Layout(width="520px"))
        self.out = w.HTML()
        self.pick.observe(lambda ch: self.show(int(ch["new"])), names="value")
        self.widget = w.VBox([self.pick, self.out])
        first = int(order[0]) if interest is None else int(interest)
        self.pick.value = first
        self.show(first)

    def show(self, interest: int) -> None:
        self.out.value = render_interest(interest_report(self.ds, int(interest), top_items=self.top_items))

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)


def explorer_app(ds: Any, topk: np.ndarray | None = None, answers: pd.DataFrame | None = None, k: int = 20,
                 title: str = "") -> Any:
    """Both explorers in tabs (the explorer notebook shows this)."""
    import ipywidgets as w

    tabs = [UserExplorer(ds, topk, answers, k=k, title=title).widget]
    names = ["Users"]
    if ds.n_interests:
        tabs.append(InterestBrowser(ds).widget)
        names.append("Interests")
    t = w.Tab(children=tabs)
    for n, name in enumerate(names):
        t.set_title(n, name)
    return t
