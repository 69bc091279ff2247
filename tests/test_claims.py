"""`cikgwb.claims`: the paper's claims read from runs by fixed rules (reports/claims.md, docs/results.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from cikgwb import claims as C


def _runs(tmp_path, rows, provenance=None):
    """A runs table as :func:`cikgwb.results.runs_table` gives it, each row's metrics.json written
    under tmp_path (``compare_runs`` reads them). rows: (dataset, model, variant, protocol, seed, r50,
    r100); the NDCGs are half the recalls. ``provenance``: {row index: flags}."""
    out = []
    for k, (ds, model, variant, prot, seed, r50, r100) in enumerate(rows):
        d = tmp_path / f"{ds}-{model}-{variant.replace('/', '')}-{prot}-s{seed}-{k}"
        d.mkdir(parents=True)
        test = {"recall@50": r50, "ndcg@50": r50 / 2, "recall@100": r100, "ndcg@100": r100 / 2}
        (d / "metrics.json").write_text(
            json.dumps({"seed": seed, "dataset": ds, "protocol": prot, "model": model, "test": test})
        )
        out.append(
            {
                "dataset": ds,
                "model": model,
                "variant": variant,
                "protocol": prot,
                "views": "paper",
                "seed": seed,
                "converged": True,
                "finished_at": f"2026-01-01T00:00:{k:02d}",
                "path": str(d),
                "name": d.name,
                "provenance": (provenance or {}).get(k, ""),
                **{f"test {m}": v for m, v in test.items()},
            }
        )
    return pd.DataFrame(out)


def _full(ds="bc", prot="valid", base=0.30):
    """CIKGRec's full model at seeds 0-2, R@100 base + 0.01 x seed (std 0.01: band 0.02 R@100, 0.01 N@100)."""
    return [(ds, "cikgrec", "full", prot, s, 0.20 + 0.01 * s, base + 0.01 * s) for s in range(3)]


FULL = _full()


def _ablation(variant, diffs, ds="bc", prot="valid", base=0.30):
    """An ablation at seeds 0-2 whose R@100 is the full model's minus ``diffs`` (one per seed)."""
    return [(ds, "cikgrec", variant, prot, s, 0.2, base + 0.01 * s - d) for s, d in enumerate(diffs)]


def test_holm_matches_a_hand_computed_family():
    from cikgwb.compare import holm

    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4): x4 = 0.02, x3 = 0.03, x2 = 0.06, x1 = 0.04 -> running max 0.06
    got = holm([0.01, 0.04, 0.03, 0.005, math.nan])
    assert all(math.isclose(a, b) for a, b in zip(got[:4], [0.03, 0.06, 0.06, 0.02])) and math.isnan(got[4])
    assert holm([0.2, 0.5, 0.9]) == pytest.approx([0.6, 1.0, 1.0])  # 0.5 x 2 and 0.9 x 1: capped, then non-decreasing
    assert holm([]) == [] and holm([0.04]) == [0.04]
    # ties keep their order and share the step-down value: 0.01 x 3 = 0.03, 0.01 x 2 -> running max 0.03
    assert holm([0.01, 0.5, 0.01]) == pytest.approx([0.03, 0.5, 0.03])
    assert all(math.isnan(v) for v in holm([math.nan, math.nan]))  # no test at all: nothing adjusted


def test_a_single_seed_never_helps_nor_does_not_help(tmp_path):
    """Ablations at one seed: the difference and where it lies, but no verdict either way."""
    one = [
        ("bc", "cikgrec", "w/o UIK", "valid", 0, 0.2, 0.25),  # +0.05: beyond the band
        ("bc", "cikgrec", "w/o UIR", "valid", 0, 0.2, 0.30),  # 0: inside it
        ("bc", "cikgrec", "w/o CL", "valid", 0, 0.2, 0.35),  # -0.05: beyond, the other way
        ("bc", "cikgrec", "linear", "valid", 0, 0.2, 0.29),
        ("bc", "cikgrec", "w/o DMR", "valid", 0, 0.2, 0.25),
    ]
    t = C.claim_modules(_runs(tmp_path, FULL + one), "bc")
    got = dict(zip(t["variant"], t["reading"]))
    assert got["w/o UIK"] == got["w/o CL"] == "1 seed(s): no verdict (beyond the band)"
    assert got["w/o UIR"] == "1 seed(s): no verdict (inside the band)"
    assert not any(r in ("helps", "hurts", C.BELOW_PAPER, C.NO_EFFECT) for r in got.values())
    row = t.set_index("variant").loc["w/o UIK"]
    assert row["seeds"] == "0" and row["full R@100"] == 0.30 and math.isclose(row["full - variant R@100"], 0.05)
    assert row["p over seeds R@100 / N@100"] == "-" and row["Holm p R@100 / N@100"] == "-"
    verdict = C.modules_verdict(t)
    assert verdict == "undecided: CL, UIK, UIR too few seeds for a verdict (fewer than 3)"
    assert C.schedule_verdict(t).startswith("undecided: too few seeds for a verdict, 3 needed (R@100 exp - lin +0.0100")
    # two seeds of the full model give no noise estimate, and no verdict is made up
    two = _runs(tmp_path / "c", FULL[:2] + [("bc", "cikgrec", "w/o UIK", "valid", 0, 0.2, 0.1)])
    assert set(C.claim_modules(two, "bc")["reading"]) == {"no noise estimate"}
    assert C.modules_verdict(C.claim_modules(two, "bc")).startswith("undecided: no noise estimate")


def test_module_verdicts_read_holm_adjusted_p_over_seeds(tmp_path):
    """Three seeds: beyond the band and Holm p < 0.05 helps; the same raw p in a larger family does not."""
    uik = _ablation("w/o UIK", (0.05, 0.03, 0.04))  # paired t p = 0.0202 in both metrics
    alone = C.claim_modules(_runs(tmp_path, FULL + uik), "bc").set_index("variant")
    assert alone.loc["w/o UIK", "reading"] == "helps" and alone.attrs["family"] == 2
    assert alone.loc["w/o UIK", "Holm p R@100 / N@100"] == "0.04 / 0.04"  # 2 x 0.0202
    erratic = _ablation("w/o CL", (0.09, 0.0, 0.06))  # mean 0.05, beyond the band; p about 0.2
    t = C.claim_modules(_runs(tmp_path / "b", FULL + uik + erratic), "bc").set_index("variant")
    assert t.attrs["family"] == 4
    assert t.loc["w/o UIK", "p over seeds R@100 / N@100"] == "0.02 / 0.02"  # raw: below 0.05
    assert t.loc["w/o UIK", "Holm p R@100 / N@100"] == "0.081 / 0.081"  # 4 x 0.0202: above it
    assert t.loc["w/o UIK", "reading"] == t.loc["w/o CL", "reading"] == C.UNCLEAR
    verdict = C.modules_verdict(t.reset_index())
    assert verdict == f"undecided: CL, UIK {C.UNCLEAR}; missing: UIR"


def test_no_effect_is_read_against_the_papers_effect(tmp_path):
    """Inside the band at 3 seeds: 'no effect shown' only where the 95% CI excludes the paper's effect."""
    # book-crossing: the paper's w/o UIR drop is 0.0374 / 0.0198; ours is about 0 with a narrow CI
    bc = _full("book-crossing") + _ablation("w/o UIR", (0.001, -0.001, 0.0), "book-crossing")
    t = C.claim_modules(_runs(tmp_path, bc), "book-crossing").set_index("variant")
    assert t.loc["w/o UIR", "reading"] == C.BELOW_PAPER
    assert t.loc["w/o UIR", "paper full - variant R@100 / N@100"] == "0.0374 / 0.0198"
    # dbbook2014: the paper's drop (0.0055 / 0.0035) lies inside our CI: undecided, not "no effect"
    db = _full("dbbook2014") + _ablation("w/o UIR", (0.0, 0.01, 0.005), "dbbook2014")
    t = C.claim_modules(_runs(tmp_path / "b", db), "dbbook2014").set_index("variant")
    assert t.loc["w/o UIR", "reading"] == C.OPEN
    lo, hi = (float(x) for x in t.loc["w/o UIR", "95% CI over seeds R@100 / N@100"].split(" / ")[0][1:-1].split(", "))
    assert lo < 0.0055 < hi
    assert C.modules_verdict(t.reset_index()).startswith("undecided: UIR undecided (the 95% CI holds")
    # every module without an effect, each CI below the paper's: the claim is not supported
    none = _full("book-crossing") + [
        row for v in C.MODULES for row in _ablation(v, (0.001, -0.001, 0.0), "book-crossing")
    ]
    t = C.claim_modules(_runs(tmp_path / "c", none), "book-crossing")
    assert C.modules_verdict(t).startswith("not supported: CL, UIK, UIR show(s) no effect")


def test_schedule_needs_three_seeds_of_each_step(tmp_path):
    steps = _ablation("linear", (0.04, 0.041, 0.039)) + _ablation("w/o DMR", (0.08, 0.082, 0.078))
    t = C.claim_modules(_runs(tmp_path, FULL + steps), "bc")
    assert t.attrs["lin_fixed"]["reading"] == "helps" and t.attrs["family"] == 6
    assert C.schedule_verdict(t).startswith("supported (R@100 exp - lin +0.0400, lin - fixed +0.0400")
    flat = _ablation("linear", (0.0, 0.01, -0.01)) + _ablation("w/o DMR", (0.08, 0.092, 0.07))  # lin - fixed about 0.08
    t = C.claim_modules(_runs(tmp_path / "b", FULL + flat), "bc")
    assert C.schedule_verdict(t).startswith(f"not supported (exp vs lin: {C.NO_EFFECT}; lin vs fixed: helps;")


def test_baselines_verdict_from_holm_adjusted_paired_tests(tmp_path):
    rows = FULL + [("bc", "lightgcn", "-", "valid", s, v, v + 0.1) for s, v in enumerate([0.15, 0.161, 0.169])]
    runs = _runs(tmp_path, rows + [("bc", "sgl", "-", "valid", 0, 0.18, 0.28)])
    sides = C.headline_runs(runs, "bc")
    assert list(sides) == ["cikgrec", "lightgcn", "sgl"] and len(sides["cikgrec"]) == 3
    table, verdict = C.claim_baselines(runs, "bc")
    # LightGCN: 3 paired seeds, CIKGRec ahead by ~0.05; SGL: one seed, no verdict
    assert verdict.startswith("undecided (against lightgcn: ahead over seeds; over users no test; against sgl: ")
    assert "sgl: fewer than 2 common seed(s), no verdict (needs 3)" in verdict
    assert set(table["rival"]) == {"lightgcn"} and (table["test"] == "over seeds").all()
    assert (table["protocol"] == "valid").all() and "Holm p (t)" in table
    sgl = [("bc", "sgl", "-", "valid", s, v, 0.28) for s, v in enumerate([0.18, 0.189, 0.201])]  # CIKGRec +0.02 at each
    more = _runs(tmp_path / "b", rows + sgl)
    assert C.claim_baselines(more, "bc")[1].startswith("supported (against lightgcn: ahead over seeds;")
    # a rival ahead at Holm p < 0.05 makes the claim fail
    worse = _runs(tmp_path / "c", rows + [("bc", "sgl", "-", "valid", s, 0.30 + 0.001 * s, 0.4) for s in range(3)])
    assert C.claim_baselines(worse, "bc")[1].startswith("not supported (")


def test_simple_baselines_are_rivals(tmp_path):
    rows = FULL + [("bc", "lightgcn", "-", "valid", s, 0.15, 0.25) for s in range(3)]
    rows += [("bc", "mostpop", "-", "valid", s, 0.21, 0.3) for s in range(3)]  # above CIKGRec at seeds 0-1
    runs = _runs(tmp_path, rows + [("bc", "kgat", "-", "valid", 0, 0.1, 0.2)])
    assert list(C.headline_runs(runs, "bc")) == ["cikgrec", "lightgcn", "kgat", "mostpop"]
    verdict = C.claim_baselines(runs, "bc")[1]
    assert "against mostpop: not significant over seeds (Holm)" in verdict and verdict.startswith("undecided")


def test_users_protocol_is_the_headline_and_waits_for_its_runs(tmp_path):
    valid = FULL + [("bc", "lightgcn", "-", "valid", s, 0.15 + 0.001 * s, 0.25) for s in range(3)]
    runs = _runs(tmp_path, valid)
    assert C.claim_baselines(runs, "bc", "users")[1] == C.WAITING
    short = C.claims_markdown(runs, None, datasets=("bc",), summary=True).splitlines()
    assert short[0] == f"* CIKGRec beats every baseline, bc (users protocol, the headline): {C.WAITING}."
    assert short[1].startswith("* CIKGRec beats every baseline, bc (valid protocol): supported (")
    assert f"* each module helps, bc (users protocol, the headline): {C.WAITING}." in short
    users = _full(prot="users") + [("bc", "lightgcn", "-", "users", s, 0.15 + 0.001 * s, 0.25) for s in range(3)]
    both = _runs(tmp_path / "b", valid + users)
    table, verdict = C.claim_baselines(both, "bc", "users")
    assert verdict.startswith("supported (") and set(table["protocol"]) == {"users"}
    assert (
        C.claims_markdown(both, None, datasets=("bc",), summary=True)
        .splitlines()[0]
        .startswith("* CIKGRec beats every baseline, bc (users protocol, the headline): supported (")
    )


def test_figure5_readings():
    band = 0.004
    assert C._fig5_reading("alpha", {0.01: 0.160, 0.05: 0.165, 0.1: 0.168, 0.2: 0.161}, band, False) == "supported"
    assert C._fig5_reading("alpha", {0.01: 0.170, 0.05: 0.165, 0.1: 0.160}, band, False) == "not supported"
    assert C._fig5_reading("alpha", {0.01: 0.166, 0.05: 0.165, 0.1: 0.167}, band, True).startswith("partial, flat")
    assert C._fig5_reading("alpha", {0.01: 0.16, 0.05: 0.17}, band, True) == "waiting: 2 point(s) have finished"
    assert C._fig5_reading("omega", {0.5: 0.17, 0.8: 0.168, 0.95: 0.167}, band, False).startswith("supported")
    assert C._fig5_reading("omega", {0.5: 0.17, 0.8: 0.168, 0.95: 0.16}, band, False).startswith("not supported")
    lam3 = C._fig5_reading("lambda3", {0.001: 0.16, 0.01: 0.17, 0.1: 0.165, 1.0: 0.12}, band, False)
    assert lam3 == "supported: best inside the grid; the largest value (1) is below the best by more than the band"
    assert C._fig5_reading("lambda2", {0.003: 0.17, 0.03: 0.16, 0.3: 0.15}, band, False).startswith("not supported")
    assert C._fig5_reading("lambda2", {0.003: 0.17, 0.03: 0.16, 0.3: 0.15}, math.nan, False) == "no noise estimate"


def test_report_and_readme_block(tmp_path):
    runs = _runs(tmp_path, FULL + _ablation("w/o UIK", (0.05, 0.05, 0.05)), provenance={0: "dirty", 4: "commits"})
    short = C.claims_markdown(runs, None, datasets=("bc",), summary=True)
    assert short.splitlines() == [
        f"* CIKGRec beats every baseline, bc (users protocol, the headline): {C.WAITING}.",
        "* CIKGRec beats every baseline, bc (valid protocol): undecided: no valid-protocol runs of CIKGRec and a "
        "baseline.",
        f"* each module helps, bc (users protocol, the headline): {C.WAITING}.",
        f"* exponential > linear > fixed, bc (users protocol, the headline): {C.WAITING}.",
        "* each module helps, bc (valid protocol): partly: UIK help(s) (beyond the noise band, Holm p < 0.05 over "
        "seeds); missing: CL, UIR.",
        "* exponential > linear > fixed, bc (valid protocol): undecided: the linear or fixed schedule has not run.",
        "* Figure 5: no sweep yet.",
    ]
    full = C.claims_markdown(runs, tmp_path / "no-sweep", datasets=("bc",))
    assert "## 1. CIKGRec beats every baseline" in full and "| w/o UIK " in full and "(no Figure 5 sweep yet)" in full
    assert "conditional on the dataset's one published train/test split" in full and "Holm" in full
    # the runs read that are flagged are listed under the report, with what each flag means
    tail = full.split("## Runs read above whose code provenance is flagged\n")[1]
    names = [ln.split("`")[1] for ln in tail.splitlines() if ln.startswith("- ")]
    assert names == [runs["name"][0], runs["name"][4]]
    assert "uncommitted changes" in tail and "more than one commit" in tail


def test_figure5_one_seed_gives_no_verdict():
    results = pd.DataFrame(
        {
            "mask_alpha": [0.01, 0.05, 0.1],
            "status": ["ok"] * 3,
            "seed": [0] * 3,
            "test recall@50": [0.160, 0.165, 0.168],
            "valid recall@50": [0.16, 0.16, 0.16],
        }
    )
    spec = {
        "keys": ["mask_alpha"],
        "base_values": {"mask_alpha": 0.05},
        "seeds": [0],
        "grid": {"alpha": [0.01, 0.05, 0.1]},
    }
    _, verdicts = C.claim_figure5(results, spec, 0.004)
    assert verdicts == [
        "alpha: 1 seed(s) (0): no verdict; what that seed shows: supported (spread 0.0080, band 0.0040)"
    ]


def test_results_page_written(tmp_path, monkeypatch):
    """scripts/readme_results.py writes docs/results.md (the table, every row naming its protocol, and
    the verdicts) and reports/claims.md; a missing runs folder is one line and nothing written."""
    mod = _script("readme_results")
    monkeypatch.delenv("CIKGWB_REPORTS_DIR", raising=False)
    page = tmp_path / "docs" / "results.md"
    assert mod.main(page, tmp_path) == 2 and not page.exists()
    assert not (tmp_path / "reports" / "claims.md").exists()
    d = tmp_path / "reports" / "runs" / "book-crossing-lightgcn-users-s0"
    d.mkdir(parents=True)
    test = {k: 0.1 for k in ("recall@50", "recall@100", "ndcg@50", "ndcg@100")}
    m = {"dataset": "book-crossing", "model": "lightgcn", "protocol": "users", "seed": 0, "test": test}
    m |= {"stop_reason": "early stop", "device": "cpu", "selected_epoch": 3, "epochs_run": 5}
    (d / "metrics.json").write_text(json.dumps(m))
    assert mod.main(page, tmp_path) == 0
    text = page.read_text()
    assert text.startswith("# Results: every finished run") and "GENERATED by" in text
    assert "| book-crossing | lightgcn | - | users (report half) |" in text
    assert "\n* CIKGRec beats every baseline, book-crossing (users protocol" in text
    assert text.endswith("* Figure 5: no sweep yet.\n")
    assert (tmp_path / "reports" / "claims.md").read_text().startswith("# The paper's claims under honest selection")


def test_provenance_flags_and_table_marks(tmp_path):
    from cikgwb.results import aggregate, results_markdown
    from cikgwb.runs import provenance_flags, run_index

    assert provenance_flags({"git_commit": "a"}) == "" and provenance_flags({}) == ""
    assert provenance_flags({"git_commit": "a-dirty", "calls": [{"git_commit": "a-dirty"}]}) == "dirty"
    # started at a, recorded b (resumed or finished at another commit)
    assert provenance_flags({"git_commit": "b", "calls": [{"git_commit": "a"}]}) == "commits"
    assert provenance_flags({"git_commit": "b", "calls": [{"git_commit": "a-dirty"}, {}]}) == "dirty,commits"
    test = {k: 0.1 for k in ("recall@50", "recall@100", "ndcg@50", "ndcg@100")}
    for seed, commit in enumerate(("abc-dirty", "abc", "def")):
        d = tmp_path / f"book-crossing-lightgcn-valid-s{seed}"
        d.mkdir()
        calls = [{"git_commit": "abc"}]
        m = {"dataset": "book-crossing", "model": "lightgcn", "protocol": "valid", "seed": seed, "test": test}
        m |= {"git_commit": commit, "calls": calls, "stop_reason": "early stop", "device": "cpu", "selected_epoch": 3}
        (d / "metrics.json").write_text(json.dumps(m))
    runs = run_index(tmp_path)
    assert list(runs.sort_values("seed")["provenance"]) == ["dirty", "", "commits"]
    table = results_markdown(runs)
    assert "| 0 † | cpu |" in table and "| 1 | cpu |" in table and "| 2 ‡ | cpu |" in table
    assert "\n† trained from a work tree with uncommitted changes" in table and "\n‡ its calls" in table
    assert aggregate(runs)["provenance"].tolist() == ["† 0; ‡ 2"]


# ----------------------------------------------------------------------------- the committed reports
REPO = Path(__file__).resolve().parents[1]


def _script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_interest_comparisons_match_their_runs():
    """Each dataset's reports/interests/<dataset>/comparison.md and .json are what the script makes of
    the committed runs (the audit found dbbook2014's made from seed 0 of a side with seeds 0-4)."""
    mod = _script("interest_comparison")
    for ds in mod.SIDES:
        md, js = mod.build(ds, REPO / "reports" / "runs")
        fix = "stale: run `python scripts/interest_comparison.py --dataset all` (make reports) and commit it"
        assert (REPO / "reports" / "interests" / ds / "comparison.md").read_text() == md, f"{ds} comparison.md {fix}"
        assert (REPO / "reports" / "interests" / ds / "comparison.json").read_text() == js, (
            f"{ds} comparison.json {fix}"
        )


def test_committed_results_page_and_claims_match_the_runs():
    """docs/results.md and reports/claims.md are what the committed runs give, and the README
    holds no copy of the generated numbers (it links to the page)."""
    from cikgwb.results import runs_table

    mod = _script("readme_results")
    page, report = mod.results_page(
        runs_table(REPO / "reports" / "runs"), REPO / "reports" / "sweeps" / "book-crossing-figure5"
    )
    fix = "stale: run `python scripts/readme_results.py` (make readme-results) and commit it"
    assert (REPO / "reports" / "claims.md").read_text() == report, f"reports/claims.md {fix}"
    assert (REPO / mod.PAGE).read_text() == page, f"{mod.PAGE} {fix}"
    readme = (REPO / "README.md").read_text()
    assert "docs/results.md" in readme and "<!-- results:begin -->" not in readme
    assert "<!-- claims:begin -->" not in readme and "| users (report half) |" not in readme


def test_committed_configs_are_in_the_current_format():
    """No run folder's config.yaml names an interest graph its metrics.json says the model did not
    read, nor keeps the old flat model section (`python scripts/migrate_config_interests.py`)."""
    assert _script("migrate_config_interests").pending(REPO / "reports") == []


def test_runs_of_one_seed_on_different_splits_are_not_paired(tmp_path):
    """Under the users protocol a seed's split_seed draws the report half: two runs of seed 0 on other
    halves compare different users, so pairing them is refused by name."""
    from cikgwb.compare import compare_runs

    test = {"recall@50": 0.1, "ndcg@50": 0.05}
    for side, split in (("a", 0), ("b", 1)):
        (tmp_path / side).mkdir()
        m = {"seed": 0, "split_seed": split, "dataset": "bc", "protocol": "users", "model": side, "test": test}
        (tmp_path / side / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="seed 0: .* has split_seed 0, .* split_seed 1"):
        compare_runs([tmp_path / "a"], [tmp_path / "b"], compute_missing=False)
