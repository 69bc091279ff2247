"""`cikgwb compare`: paired tests over seeds and over users, with effect sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest


def _fake_run(path, seed, test, per_user=None, model="m"):
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(
        json.dumps(
            {"name": path.name, "seed": seed, "dataset": "synthetic", "protocol": "valid", "model": model, "test": test}
        )
    )
    if per_user is not None:
        users = np.arange(len(next(iter(per_user.values()))), dtype=np.int32)
        np.savez_compressed(
            path / "test_per_user.npz",
            users=users,
            epoch=np.int64(0),
            **{k: np.asarray(v, dtype=np.float32) for k, v in per_user.items()},
        )
    return path


def test_seed_and_user_statistics_on_known_differences(tmp_path):
    from cikgwb.compare import compare_runs, format_report, resolve_runs, test_rows

    rng = np.random.default_rng(0)
    a_vals = [0.30, 0.31, 0.29, 0.30, 0.32, 0.28, 0.30, 0.31]
    c_vals = [0.31, 0.29, 0.30, 0.31, 0.29, 0.30, 0.30, 0.30]  # A's mean, no systematic difference
    base = rng.uniform(0, 1, 400)
    for s in range(8):
        _fake_run(
            tmp_path / f"A-s{s}",
            s,
            {"recall@50": a_vals[s]},
            {"recall@50": np.clip(base + 0.05 + rng.normal(0, 0.05, 400), 0, 1)},
        )
        _fake_run(
            tmp_path / f"B-s{s}",
            s,
            {"recall@50": a_vals[s] - 0.04 - 0.001 * s},
            {"recall@50": np.clip(base + rng.normal(0, 0.05, 400), 0, 1)},
        )
        _fake_run(
            tmp_path / f"C-s{s}",
            s,
            {"recall@50": c_vals[s]},
            {"recall@50": np.clip(base + 0.05 + rng.normal(0, 0.05, 400), 0, 1)},
        )
    a, b, c = (resolve_runs(tmp_path / x) for x in "ABC")
    assert [p.name for p in a] == [f"A-s{s}" for s in range(8)]
    res = compare_runs(a, b, metrics=["recall@50"])
    (seed,), (user,) = res["seeds"], res["users"]
    assert seed["n"] == 8 and seed["mean_diff"] > 0.03 and seed["p_t"] < 1e-3
    assert seed["p_wilcoxon"] == pytest.approx(2 / 2**8)  # exact: all 8 differences positive
    assert user["n"] == 400 and user["mean_diff"] > 0.03 and user["p_t"] < 1e-6 and user["p_wilcoxon"] < 1e-6
    assert user["cohens_dz"] > 0.5 and user["rank_biserial"] > 0.5 and user["ci95"][0] > 0
    # reversed: the same evidence with the other sign
    rev = compare_runs(b, a, metrics=["recall@50"])
    assert rev["seeds"][0]["mean_diff"] == pytest.approx(-seed["mean_diff"])
    assert rev["users"][0]["rank_biserial"] == pytest.approx(-user["rank_biserial"])
    # no systematic difference: large p-values
    same = compare_runs(a, c, metrics=["recall@50"])
    assert same["seeds"][0]["p_t"] > 0.5 and same["seeds"][0]["p_wilcoxon"] > 0.05
    # a model against itself: no difference at all
    self_ = compare_runs(a, a, metrics=["recall@50"])
    for row in (self_["seeds"][0], self_["users"][0]):
        assert row["mean_diff"] == 0 and row["p_t"] == 1.0 and row["p_wilcoxon"] == 1.0 and row["rank_biserial"] == 0
    text = format_report(res)
    assert "Over seeds" in text and "Over users" in text and "rank-biserial" in text
    seed_row, user_row = test_rows(res)  # the same tests as table rows, formatted as in the report
    assert seed_row["test"] == "over seeds" and seed_row["seeds A / B"] == "0,1,2,3,4,5,6,7 / 0,1,2,3,4,5,6,7"
    assert user_row["test"] == "over users" and user_row["n"] == 400 and user_row["A better, p(t) < 0.05"]
    assert seed_row["A-B"] == f"{seed['mean_diff']:+.4f}" and seed_row["A-B"] in text
    assert not test_rows(same)[0]["A better, p(t) < 0.05"]
    with pytest.raises(FileNotFoundError, match="no finished run"):
        resolve_runs(tmp_path / "D")
    # runs made before per-user files existed: over users on the others, over seeds on all
    for x in ("A-s0", "B-s0", "B-s1"):
        (tmp_path / x / "test_per_user.npz").unlink()
    part = compare_runs(a, b, metrics=["recall@50"])
    assert part["paired_seeds"] == list(range(8)) and part["seeds"][0]["mean_diff"] == seed["mean_diff"]
    assert part["user_seeds"] == [list(range(1, 8)), list(range(2, 8))]
    assert part["users"][0]["mean_diff"] > 0.03 and part["users"][0]["mean_diff"] != user["mean_diff"]
    assert any("left out of the over-users test" in n for n in part["notes"])
    assert any("seeds A [1, 2, 3, 4, 5, 6, 7], B [2, 3, 4, 5, 6, 7]" in n for n in part["notes"])
    for x in range(1, 8):
        (tmp_path / f"A-s{x}" / "test_per_user.npz").unlink()
    none = compare_runs(a, b, metrics=["recall@50"])
    assert none["users"] == [] and none["seeds"] and any("no test over users" in n for n in none["notes"])


def test_compare_cli_on_trained_models(synthetic_ds, tmp_path, capsys, one_thread):
    from cikgwb.cli import main
    from cikgwb.models import default_config
    from cikgwb.train import Trainer

    def run(name, epochs):
        cfg = default_config("synthetic")
        cfg.train.max_epochs, cfg.train.device = epochs, "cpu"
        return Trainer(cfg, ds=synthetic_ds, run_dir=tmp_path / name, progress=False).fit().run_dir

    good, bad = run("good-s0", 10), run("bad-s0", 1)
    assert main(["compare", str(good), str(bad), "--json", "--metric", "recall@50", "--metric", "ndcg@50"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["seeds"] == [] and any("needs at least 2" in n for n in res["notes"])
    for row in res["users"]:
        assert row["mean_diff"] > 0 and row["p_t"] < 0.05 and row["p_wilcoxon"] < 0.05 and row["rank_biserial"] > 0
    assert main(["compare", str(good), str(good), "--json"]) == 0
    for row in json.loads(capsys.readouterr().out)["users"]:
        assert row["mean_diff"] == 0 and row["p_t"] == 1.0 and row["p_wilcoxon"] == 1.0
    assert main(["compare", str(good)]) == 2
    assert "pairs" in capsys.readouterr().err
    assert main(["compare", str(good), str(bad)]) == 0
    assert "Over users" in capsys.readouterr().out


def test_report_tables_share_their_first_six_columns():
    from cikgwb.compare import format_report, paired_summary

    row = {"metric": "recall@50", **paired_summary([0.30, 0.32, 0.31], [0.28, 0.29, 0.30])}
    res = {
        "a": {"model": "m", "runs": ["x/A-s0"]},
        "b": {"model": "n", "runs": ["x/B-s0"]},
        "dataset": "synthetic",
        "alpha": 0.05,
        "seeds": [row],
        "users": [row],
        "notes": [],
    }
    lines = format_report(res).splitlines()
    seeds_head = lines[lines.index("Over seeds (paired by seed)") + 1].split()
    users_head = lines[lines.index("Over users (paired by user)") + 1].split()
    assert seeds_head[:7] == ["metric", "seeds", "A", "B", "A-B", "95%", "CI"]
    assert users_head[:7] == ["metric", "users", "A", "B", "A-B", "95%", "CI"]
    seeds_row = lines[lines.index("Over seeds (paired by seed)") + 3].split()
    users_row = lines[lines.index("Over users (paired by user)") + 3].split()
    expect = ["recall@50", "3", "0.3100", "0.2900", "+0.0200", f"[{row['ci95'][0]:+.4f},", f"{row['ci95'][1]:+.4f}]"]
    assert seeds_row[:7] == users_row[:7] == expect
    assert seeds_row[7] == f"{row['cohens_dz']:.2f}" and users_row[7] == f"{row['cohens_dz']:.3f}"


def test_sides_side_by_side_pair_on_common_seeds_and_say_what_is_missing(tmp_path):
    from cikgwb.compare import compare_sides, sides_markdown

    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 300)
    for s, (ra, rn) in enumerate([(0.30, 0.26), (0.32, 0.27), (0.31, 0.25)]):
        _fake_run(tmp_path / f"graph-s{s}", s, {"recall@50": ra}, {"recall@50": np.clip(base + 0.04, 0, 1)})
        if s < 2:  # "none" has seeds 0 and 1 only
            _fake_run(tmp_path / f"none-s{s}", s, {"recall@50": rn}, {"recall@50": base})
    res = compare_sides(
        [("graph", "graph"), ("other", "not-run-yet"), ("none", "none")],
        reference="none",
        metrics=["recall@50"],
        runs_root=tmp_path,
    )
    graph, other, none = res["sides"]
    assert graph["seeds"] == [0, 1, 2] and graph["recall@50"]["mean"] == pytest.approx(0.31)
    assert graph["recall@50"]["std"] == pytest.approx(0.01)
    assert other["seeds"] == [] and other["recall@50"]["mean"] is None
    t_graph, t_other = res["tests"]
    assert t_graph["seeds"] == [0, 1]  # over seeds: paired on the seeds both sides have
    (seed,) = t_graph["seed_rows"]
    assert seed["mean_diff"] == pytest.approx(((0.30 - 0.26) + (0.32 - 0.27)) / 2)
    # over users: every run with per-user metrics, whatever its seed (graph 0-2 vs none 0-1)
    assert t_graph["user_seeds"] == [[0, 1, 2], [0, 1]]
    (user,) = t_graph["user_rows"]
    assert user["mean_diff"] > 0.03 and user["p_wilcoxon"] < 1e-6
    assert t_other["seeds"] == [] and any("missing" in n for n in t_other["notes"])
    md = sides_markdown(res)
    assert "| other" in md and "missing" in md and "0.3100 ± 0.0100" in md
    assert "over seeds 0, 1" in md and "0, 1, 2 / 0, 1" in md
    # a run without per-user metrics (nor a checkpoint) is left out of the over-users test only
    (tmp_path / "graph-s2" / "test_per_user.npz").unlink()
    t_graph = compare_sides([("graph", "graph"), ("none", "none")], "none", ["recall@50"], tmp_path)["tests"][0]
    assert t_graph["user_seeds"] == [[0, 1], [0, 1]] and t_graph["user_rows"]
    with pytest.raises(ValueError, match="reference 'nobody'"):
        compare_sides([("graph", "graph")], reference="nobody", runs_root=tmp_path)


def test_a_run_takes_the_per_user_metrics_of_an_identical_rerun_only(synthetic_ds, tmp_path, capsys, one_thread):
    import shutil

    from cikgwb.cli import main
    from cikgwb.models import default_config
    from cikgwb.train import PER_USER_FILE, Trainer

    def run(name, seed):
        cfg = default_config("synthetic")
        cfg.train.max_epochs, cfg.train.device, cfg.train.seed = 3, "cpu", seed
        return Trainer(cfg, ds=synthetic_ds, run_dir=tmp_path / name, progress=False).fit().run_dir

    old, rerun, other = run("old-s0", 0), run("rerun", 0), run("other-s1", 1)
    (old / PER_USER_FILE).unlink()  # as a run trained before per-user files, its checkpoint gone
    before = (old / "metrics.json").read_bytes()
    # another seed is another run: refused, naming the difference, and nothing is written
    assert main(["per-user", str(old), "--from-rerun", str(other)]) == 2  # one line, as every command
    err = capsys.readouterr().err
    assert err.startswith("cikgwb per-user: error: ") and "config: seed: 0 in the run, 1 in the rerun" in err
    assert not (old / PER_USER_FILE).exists() and not (old / "PER_USER_FROM_RERUN.md").exists()
    # an NDCG beyond the tolerance or a recall that differs at all is refused too
    shutil.copytree(rerun, tmp_path / "near")
    m = json.loads((rerun / "metrics.json").read_text())
    for key, delta, ok in (("ndcg@50", 5e-7, True), ("ndcg@50", 1e-4, False), ("recall@20", 1e-9, False)):
        near = json.loads(json.dumps(m))
        near["test"][key] += delta
        (tmp_path / "near" / "metrics.json").write_text(json.dumps(near))
        if ok:  # a copy of the old run takes it, with the table of what differs
            twin = shutil.copytree(old, tmp_path / "twin-s0")
            assert main(["per-user", str(twin), "--from-rerun", str(tmp_path / "near")]) == 0
            assert (
                f"| {key} |" in (twin / "PER_USER_FROM_RERUN.md").read_text()
                and "+5.0e-07" in (twin / "PER_USER_FROM_RERUN.md").read_text()
            )
            continue
        assert main(["per-user", str(old), "--from-rerun", str(tmp_path / "near")]) == 2
        assert f"test {key}" in capsys.readouterr().err
        assert not (old / PER_USER_FILE).exists()
    # the same run trained again: the file is the rerun's, the note says so, metrics.json untouched
    assert main(["per-user", str(old), "--from-rerun", str(rerun)]) == 0
    assert (old / PER_USER_FILE).read_bytes() == (rerun / PER_USER_FILE).read_bytes()
    assert "exactly the same test metrics" in (old / "PER_USER_FROM_RERUN.md").read_text()
    assert (old / "metrics.json").read_bytes() == before
    # a second call is refused: the run has its file now
    assert main(["per-user", str(old), "--from-rerun", str(rerun)]) == 2
    assert "exists already" in capsys.readouterr().err
