"""A run's compact artefact (cikgwb.run_artefact: ``cikgwb artefact RUN_DIR`` -> explorer.npz)
and the explorer built on it (cikgwb.explorer artefact_*, cikgwb.widgets.RunExplorer): the
stored lists are the test evaluation's lists, the test ranks agree with the per-user metrics,
labels say how they were made, and the explorer opens a run without training anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cikgwb import results as R
from cikgwb.run_artefact import (
    ARTEFACT_FILE,
    load_artefact,
    title_labels,
    write_artefact,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def art_run(tmp_path_factory):
    """A tiny CIKGRec run on the synthetic data (3 epochs) and its artefact."""
    import torch

    from cikgwb.data import load_dataset

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    old = os.environ.get("CIKGWB_CHECKPOINT_DIR")
    os.environ["CIKGWB_CHECKPOINT_DIR"] = str(tmp_path_factory.mktemp("ck"))
    try:
        root = tmp_path_factory.mktemp("runs")
        ds = load_dataset("synthetic", data_dir=tmp_path_factory.mktemp("data"))
        runs = R.train_runs(ds, ["cikgrec"], [0], root, quick=True, quick_epochs=3, device="cpu", log=lambda *_: None)
        path = Path(runs["path"].iloc[0])
        info = write_artefact(path, ds)
        yield ds, root, path, info
    finally:
        torch.set_num_threads(n)
        if old is None:
            os.environ.pop("CIKGWB_CHECKPOINT_DIR", None)
        else:
            os.environ["CIKGWB_CHECKPOINT_DIR"] = old


def test_artefact_lists_are_the_test_evaluation_and_ranks_agree(art_run):
    ds, _, path, info = art_run
    a = load_artefact(path)
    assert info["bytes"] == (path / ARTEFACT_FILE).stat().st_size < 1_000_000
    assert info["max_abs_diff"] < 1e-6  # per-user means = metrics.json's test figures
    _, ds2, model = R.load_run(path, ds)
    res = R.evaluate_test(model, ds2, k=100)
    ev = np.flatnonzero(res.evaluated)
    assert (a.top_items[ev].astype(np.int64) == res.topk[ev]).all()
    seen = ds.user_items("train_full")
    test = ds.user_items("test")
    for u in range(0, ds.n_users, 37):
        items, scores = a.top(u)
        assert len(items) == 100 and not set(items.tolist()) & set(seen[u].tolist())
        assert (np.diff(scores) <= 1e-3).all()  # best first (float16 rounding)
        assert sorted(a.test(u).tolist()) == sorted(test[u].tolist())
    # recall@100 recomputed from the stored ranks of every test item = the stored per-user figure
    for pos, u in enumerate(a.per_user["users"][:200]):
        r = a.test_ranks(int(u))
        assert a.per_user["recall@100"][pos] == pytest.approx(((r > 0) & (r <= 100)).sum() / len(r), abs=1e-6)
    assert a.meta["selected_epoch"] == json.loads((path / "metrics.json").read_text())["selected_epoch"]
    assert a.labels[:2] == list(ds.interest_labels[:2]) and set(a.label_methods) == {"text"}
    # made again: the committed file is left untouched; --out writes elsewhere
    mtime = (path / ARTEFACT_FILE).stat().st_mtime_ns
    again = write_artefact(path, ds)
    assert again["unchanged"] and (path / ARTEFACT_FILE).stat().st_mtime_ns == mtime
    other = write_artefact(path, ds, top_n=20, out=path.parent / "elsewhere.npz")
    assert not other["unchanged"] and load_artefact(path.parent / "elsewhere.npz").top_items.shape[1] == 20
    assert (path / ARTEFACT_FILE).stat().st_mtime_ns == mtime


def test_title_labels_name_distinctive_titles_and_say_how_they_were_made(synthetic_ds):
    ds = synthetic_ds
    m = ds.matrix("train_full").tocsr()
    labels = title_labels(m.indptr, m.indices, ds.user_interest, ds.n_interests, ds.titles)
    sizes = np.bincount(ds.user_interest[:, 1], minlength=ds.n_interests)
    for j in range(ds.n_interests):
        assert labels[j].startswith("titles: ") and labels[j].endswith(
            f"(item titles of its {sizes[j]} users; no LLM text)"
        )
    # the first title named is an item held by >= 2 members, among the members' most over-represented
    members = np.unique(ds.user_interest[ds.user_interest[:, 1] == 0, 0])
    first = labels[0][len("titles: ") :].split("; ")[0]
    holders = [i for i, t in enumerate(ds.titles) if t and t.startswith(first.rstrip("\u2026"))]
    assert holders and max(int(m[members][:, i].sum()) for i in holders) >= 2
    # a graph without text labels gets title labels in the artefact, method "titles"
    from cikgwb.run_artefact import interest_labels

    lab, meth = interest_labels(replace(ds, interest_labels=None), m.indptr, m.indices)
    assert lab == labels and set(meth) == {"titles"}


def test_user_report_neighbours_paths_and_missed_items(art_run):
    from cikgwb.explorer import artefact_case, artefact_find_cases, artefact_paths, artefact_user_report

    ds, _, path, _ = art_run
    a = load_artefact(path)
    tr = ds.matrix("train_full")
    user = int(np.argmax(np.bincount(ds.user_interest[:, 0], minlength=ds.n_users)))
    # every interest path is real: another user holding one of the user's interests has the item in train
    paths = artefact_paths(a, user, np.arange(ds.n_items))
    assert paths, "a user with the most interests reaches some item through them"
    mine = set(a.interests(user).tolist())
    for item, p in paths.items():
        v = p["other_user"]
        assert v != user and p["interest"] in mine and p["interest"] in set(a.interests(v).tolist())
        assert tr[v, item] == 1 and p["n_paths"] >= 1
    rep = artefact_user_report(a, user, k=10)
    assert len(rep["topk"]) == 10 and rep["k"] == 10
    for _, r in rep["interests"].iterrows():
        for v in r["neighbours"]:
            assert v != user and r["interest"] in set(a.interests(v).tolist())
    assert (rep["neighbours"]["shared interests"].diff().dropna() <= 0).all()
    test = set(ds.user_items("test")[user].tolist())
    assert set(rep["missed"]["item"]) == test - set(rep["topk"]["item"])
    assert ((rep["missed"]["rank"] > 10) | (rep["missed"]["rank"] == 0)).all()
    assert list(rep["topk"]["hit"]) == [i in test for i in rep["topk"]["item"]]
    cases = artefact_find_cases(a, k=20)
    assert len(cases)
    c0 = cases.iloc[0]
    assert tr[c0["other_user"], c0["item"]] == 1 and c0["item"] in set(ds.user_items("test")[c0["user"]].tolist())
    case = artefact_case(a, int(c0["user"]), int(c0["item"]), int(c0["other_user"]))
    assert case["problems"] == [] and case["rank"] == c0["rank"] and c0["interest"] in case["shared"]
    bad = artefact_case(
        a, int(c0["user"]), int(next(iter(set(range(ds.n_items)) - test - {int(c0["item"])}))), int(c0["other_user"])
    )
    assert any("not a test item" in p for p in bad["problems"])


def test_run_explorer_opens_by_url_lists_runs_without_artefact_and_never_trains(art_run, tmp_path):
    pytest.importorskip("ipywidgets")
    from cikgwb.widgets import RunExplorer

    ds, root, path, _ = art_run
    bare = root / "bare-run"  # a finished run without artefact (nor checkpoint)
    bare.mkdir(exist_ok=True)
    (bare / "metrics.json").write_text(json.dumps({"dataset": "synthetic", "model": "lightgcn", "test": {}}))
    before = sorted(p.name for p in root.rglob("*"))
    ex = RunExplorer.from_query([root], f"run={path.name}&user=7&k=5")
    assert ex.current == 7 and ex.out.value.count("<li data-item=") >= 5
    assert ex.user_box.value == "7"  # the User box shows the user shown (issue 36 item 5)
    html = ex.out.value
    assert 'data-user="7"' in html and "cikgwb-interest-neighbours" in html and "cikgwb-missed" in html
    assert "items in train.txt" in html and "7/8 of them" in html  # which set the count counts (valid protocol)
    for j in ex.a.interests(7):
        assert ex.a.labels[int(j)].replace("&", "&amp;") in html
    # the interest view: largest interest first, its label and items most common among its users
    j = ex.interest_pick.value
    assert j == int(np.argmax(np.bincount(ex.a.ui[:, 1].astype(int), minlength=ex.a.n_interests)))
    assert (
        ex.a.labels[j].replace("&", "&amp;") in ex.interest_out.value
        and "cikgwb-interest-items" in ex.interest_out.value
    )
    from cikgwb.explorer import artefact_interest_report

    rep = artefact_interest_report(ex.a, j, top_items=5)
    tr = ds.matrix("train_full")
    members = ex.a.members(j)
    for _, r in rep["top_items"].iterrows():
        assert r["members"] == int(tr[members][:, r["item"]].sum())
    assert (rep["top_items"]["members"].diff().dropna() <= 0).all()
    # the run list says which runs have no artefact; opening one says why and how to make it
    label = next(lab for lab, v in ex.pick.options if v == str(bare))
    assert "no artefact" in label and "no artefact" not in next(lab for lab, v in ex.pick.options if v == str(path))
    ex.user_box.value = str(ds.n_users + 5)
    assert "out of range" in ex.status.value and ex.current == 7 and ex.user_box.value == str(ds.n_users + 5)
    ex.pick.value = str(bare)
    assert "checkpoint is gone" in ex.header.value and "cikgwb artefact" in ex.header.value
    assert "never trains" in ex.header.value and ex.out.value == ""
    assert ex.status.value == "" and ex.user_box.value == ""  # nothing of the previous run stays
    ex.pick.value = str(path)
    assert ex.status.value == "" and ex.user_box.value == str(ex.current)
    ex.user_box.value = "abc"
    assert "not a user id" in ex.status.value
    ex.user_box.value = "3"
    assert ex.current == 3 and ex.status.value == "" and 'data-user="3"' in ex.out.value
    assert sorted(p.name for p in root.rglob("*")) == before  # nothing trained or written
    empty = RunExplorer([tmp_path / "nothing"])
    assert "never trains" in empty.header.value


def test_run_explorer_default_is_the_best_real_run_and_an_unknown_run_is_one_line(art_run, tmp_path):
    """Issue 36 item 3: without a run the explorer opens a real run, not the synthetic toy run (nor
    one without an artefact); an unknown run opens nothing and says so in one visible line."""
    pytest.importorskip("ipywidgets")
    import shutil

    from cikgwb.widgets import RunExplorer

    _, _, path, _ = art_run
    root = tmp_path / "runs"
    shutil.copytree(path, root / path.name)
    real = root / "dbbook2014-cikgrec-valid-s0"  # the same files, said to be of a real dataset
    shutil.copytree(path, real)
    m = json.loads((real / "metrics.json").read_text())
    (real / "metrics.json").write_text(json.dumps({**m, "dataset": "dbbook2014", "name": real.name}))
    bare = root / "book-crossing-cikgrec-users-s0"  # a real run without an artefact
    shutil.copytree(path, bare, ignore=shutil.ignore_patterns(ARTEFACT_FILE))
    (bare / "metrics.json").write_text(json.dumps({**m, "dataset": "book-crossing", "name": bare.name}))
    ex = RunExplorer([root])
    assert ex.pick.value == str(real) and ex.a is not None
    assert RunExplorer([root], dataset="synthetic").pick.value == str(root / path.name)
    ex = RunExplorer.from_query([root], "run=no-such-run&user=3")
    assert ex.a is None and ex.pick.value is None and ex.out.value == "" and ex.status.value == ""
    assert ex.header.value.count("<p") == 1 and "no-such-run not found" in ex.header.value
    ex.pick.value = str(real)  # picking a run from the list opens it
    assert ex.a is not None and "not found" not in ex.header.value and ex.current is not None


def test_missed_items_are_capped_and_untitled_items_show_their_isbn(art_run, tmp_path):
    pytest.importorskip("ipywidgets")
    import pandas as pd

    from cikgwb.explorer import artefact_user_report
    from cikgwb.run_artefact import untitled_label
    from cikgwb.widgets import MAX_MISSED, render_run_user

    ds, _, path, _ = art_run
    a = load_artefact(path)
    rep = artefact_user_report(a, 7, k=5)
    n = MAX_MISSED + 7
    many = pd.DataFrame({"item": range(n), "title": [f"t{i}" for i in range(n)], "rank": [*range(30, 30 + n - 1), 0]})
    html = render_run_user({**rep, "missed": many}, a)
    shown = html.split('class="cikgwb-missed"')[1].split("</ul>")[0]
    assert shown.count("<li") == MAX_MISSED and f'data-total="{n}"' in html
    assert "and 7 more, ranked lower (down to masked)" in html
    # an untitled item: its ISBN where its id in item_list.txt is one (check digit), else that id
    assert untitled_label(5, "3426029553").startswith("ISBN 3426029553")
    assert untitled_label(5, "0306406152").startswith("ISBN 0306406152")
    assert untitled_label(5, "033031582").startswith("id 033031582")  # 9 digits: not an ISBN
    assert untitled_label(5, None) == "(item 5: no title in the data)"


def test_missing_artefact_and_checkpoint_name_the_command(tmp_path, art_run):
    _, _, path, _ = art_run
    with pytest.raises(FileNotFoundError, match="cikgwb artefact"):
        load_artefact(tmp_path)
    run = tmp_path / "copied-run"  # a committed run folder in a fresh clone: no checkpoint
    run.mkdir()
    for f in ("config.yaml", "metrics.json"):
        (run / f).write_text((path / f).read_text())
    r = subprocess.run(
        [sys.executable, "-m", "cikgwb", "artefact", str(run)],
        capture_output=True,
        text=True,
        env={**os.environ, "CIKGWB_CHECKPOINT_DIR": str(tmp_path / "none")},
        check=False,
    )
    assert r.returncode != 0 and "best.pt" in (r.stdout + r.stderr) and not (run / ARTEFACT_FILE).exists()


def test_voila_config_culls_idle_kernels_lets_the_page_shut_its_kernel_and_loads_only_widgets():
    for p in (REPO / "voila.json", REPO / "notebooks" / "voila.json"):
        cfg = json.loads(p.read_text())
        cull = cfg["MappingKernelManager"]
        assert 0 < cull["cull_idle_timeout"] <= 900 and 0 < cull["cull_interval"] <= cull["cull_idle_timeout"]
        # the page's shutdown beacon carries no _xsrf cookie (Voila sets none): checked by origin instead
        assert cfg["Voila"]["tornado_settings"]["disable_check_xsrf"] is True
        assert set(cfg["VoilaConfiguration"]["extension_allowlist"]) == {
            "@voila-dashboards/widgets-manager8",
            "@jupyter-widgets/jupyterlab-manager",
        }
    assert json.loads((REPO / "voila.json").read_text()) == json.loads((REPO / "notebooks" / "voila.json").read_text())
    template = REPO / "share" / "jupyter" / "voila" / "templates" / "cikgwb" / "index.html.j2"
    assert (
        "cdn.jsdelivr.net" in template.read_text() and "--template=cikgwb" in (REPO / "scripts/explorer.sh").read_text()
    )
